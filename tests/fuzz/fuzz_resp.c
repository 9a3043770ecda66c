/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_resp.c: libFuzzer target for the request parser. Feeds the input in
 * chunks whose sizes come from the input itself, compacting the buffer as a
 * connection does, and checks that every command's slices stay inside the
 * buffer and that a protocol error stops the stream.
 */
#include "shardis/resp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct resp_parser p;
    char *buf = malloc(size + 1);
    size_t have = 0, given = 0, step;

    if (size == 0) {
        free(buf);
        return 0;
    }
    step = (size_t)data[0] % 17 + 1;
    resp_parser_init(&p, 1024 * 1024);
    while (given < size) {
        size_t n = step < size - given ? step : size - given;
        int argc, rc;

        memcpy(buf + have, data + given, n);
        have += n;
        given += n;
        while ((rc = resp_parse(&p, buf, have, &argc)) == RESP_COMMAND) {
            for (int i = 0; i < argc; i++) {
                if (p.argv[i].ptr < buf || p.argv[i].ptr + p.argv[i].len > buf + have) {
                    abort();
                }
            }
        }
        if (rc == RESP_ERROR) {
            break;
        }
        memmove(buf, buf + p.start, have - p.start);
        have -= p.start;
        resp_parser_rebase(&p);
    }
    resp_parser_fini(&p);
    free(buf);
    return 0;
}
