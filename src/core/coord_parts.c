/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * coord_parts.c: a coordinator's parts (see route.h): splitting a command's
 * keys by owner, fanning out to every shard, reading the parts that came
 * back, and the common gathers (sums, OK from all, concatenation). Taken
 * out of route.c, which keeps dispatch, messages and the coordinator's run.
 */
#include "shardis/cmdtab.h"
#include "shardis/reply.h"
#include "shardis/route.h"
#include "shardis/shard.h"
#include "shardis/util.h"

#include <stdio.h>
#include <string.h>

void coord_split_keys(struct coord *co, int first, int step)
{
    int n = co->nshards;
    struct sh_slice *sub = sh_malloc(sizeof(*sub) * (size_t)co->argc);

    if (!co->owner) {
        co->owner = sh_malloc(sizeof(int) * (size_t)co->argc);
    }
    for (int i = 0; i < co->argc; i++) {
        co->owner[i] = -1;
    }
    for (int i = first; i < co->argc; i += step) {
        uint64_t h;

        co->owner[i] = shard_owner(n, co->argv[i].ptr, co->argv[i].len, &h);
    }
    for (int s = 0; s < n; s++) {
        int k = 0;

        sub[k++] = co->argv[0];
        for (int i = first; i < co->argc; i += step) {
            if (co->owner[i] != s) {
                continue;
            }
            for (int j = 0; j < step && i + j < co->argc; j++) {
                sub[k++] = co->argv[i + j];
            }
        }
        if (k > 1) {
            coord_send(co, s, co->cmd, co->dbid, k, sub);
        }
    }
    sh_free(sub);
}

void coord_fanout(struct coord *co, const struct cmd_spec *cmd)
{
    for (int s = 0; s < co->nshards; s++) {
        coord_send(co, s, cmd, co->dbid, co->argc, co->argv);
    }
}

struct sh_slice coord_part(const struct coord *co, int from)
{
    struct sh_slice s = { NULL, 0 };

    if (co->parts[from]) {
        s.ptr = co->parts[from]->reply.data;
        s.len = co->parts[from]->reply.len;
    }
    return s;
}

size_t *coord_part_cursors(const struct coord *c)
{
    size_t *pos = sh_calloc((size_t)c->nshards, sizeof(*pos));
    long long n;

    for (int s = 0; s < c->nshards; s++) {
        struct sh_slice p = coord_part(c, s);

        if (p.len && !coord_read_header(p, &pos[s], '*', &n)) {
            sh_free(pos);
            return NULL;
        }
    }
    return pos;
}

int coord_key_owner(const struct coord *c, struct sh_slice key)
{
    uint64_t h;

    return shard_owner(c->nshards, key.ptr, key.len, &h);
}

struct sh_slice coord_first_error(const struct coord *co)
{
    for (int s = 0; s < co->nshards; s++) {
        struct sh_slice p = coord_part(co, s);

        if (p.len && p.ptr[0] == '-') {
            return p;
        }
    }
    return (struct sh_slice){ NULL, 0 };
}

long long coord_sum(const struct coord *co)
{
    long long sum = 0, v;

    for (int s = 0; s < co->nshards; s++) {
        struct sh_slice p = coord_part(co, s);

        if (p.len > 3 && p.ptr[0] == ':' && util_str2ll(p.ptr + 1, p.len - 3, &v)) {
            sum += v;
        }
    }
    return sum;
}

/* Copies an error part as the reply; returns true if there was one. */
static bool forward_error(const struct coord *co, struct reply *r)
{
    struct sh_slice e = coord_first_error(co);

    if (e.len) {
        reply_raw(r, e.ptr, e.len);
        return true;
    }
    return false;
}

static void start_split1(struct coord *co)
{
    coord_split_keys(co, 1, 1);
}

void coord_start_fanout(struct coord *co)
{
    coord_fanout(co, co->cmd);
}

static bool done_sum(struct coord *co, struct reply *r)
{
    if (!forward_error(co, r)) {
        reply_int(r, coord_sum(co));
    }
    return true;
}

bool coord_done_ok(struct coord *co, struct reply *r)
{
    if (!forward_error(co, r)) {
        reply_ok(r);
    }
    return true;
}

/* Concatenates the parts' arrays (or sets) into one. */
static bool done_concat(struct coord *co, struct reply *r)
{
    long long total = 0, n;

    if (forward_error(co, r)) {
        return true;
    }
    for (int s = 0; s < co->nshards; s++) {
        struct sh_slice p = coord_part(co, s);
        const char *cr = p.len ? memchr(p.ptr, '\r', p.len) : NULL;

        if (cr && util_str2ll(p.ptr + 1, (size_t)(cr - p.ptr - 1), &n) && n > 0) {
            total += n;
        }
    }
    reply_array(r, total);
    for (int s = 0; s < co->nshards; s++) {
        struct sh_slice p = coord_part(co, s);
        const char *cr = p.len ? memchr(p.ptr, '\r', p.len) : NULL;

        if (cr) {
            size_t hdr = (size_t)(cr - p.ptr) + 2;

            reply_raw(r, p.ptr + hdr, p.len - hdr);
        }
    }
    return true;
}

const struct gather gather_sum_keys = { .start = start_split1, .done = done_sum };
const struct gather gather_sum_all = { .start = coord_start_fanout, .done = done_sum };
const struct gather gather_ok_all = { .start = coord_start_fanout, .done = coord_done_ok };
const struct gather gather_ok_all_txn = { .start = coord_start_fanout,
                                          .done = coord_done_ok,
                                          .txn_all = true };
const struct gather gather_ok_every = { .start = coord_start_fanout,
                                        .done = coord_done_ok,
                                        .always = true };
const struct gather gather_concat_all = { .start = coord_start_fanout, .done = done_concat };

/* ---- reading parts ---- */

/* Reads "<type><integer>\r\n" at *pos of p. */
bool coord_read_header(struct sh_slice p, size_t *pos, char type, long long *v)
{
    const char *cr;

    if (*pos >= p.len || p.ptr[*pos] != type) {
        return false;
    }
    cr = memchr(p.ptr + *pos, '\r', p.len - *pos);
    if (!cr || (size_t)(cr - p.ptr) + 1 >= p.len ||
        !util_str2ll(p.ptr + *pos + 1, (size_t)(cr - p.ptr) - *pos - 1, v)) {
        return false;
    }
    *pos = (size_t)(cr - p.ptr) + 2;
    return true;
}

/* Reads a bulk string at *pos; a nil bulk gives {NULL, 0}. */
bool coord_read_bulk(struct sh_slice p, size_t *pos, struct sh_slice *out)
{
    long long n;

    if (!coord_read_header(p, pos, '$', &n)) {
        return false;
    }
    if (n < 0) {
        *out = (struct sh_slice){ NULL, 0 };
        return true;
    }
    if ((size_t)n > p.len - *pos || p.len - *pos - (size_t)n < 2) {
        return false;
    }
    *out = (struct sh_slice){ p.ptr + *pos, (size_t)n };
    *pos += (size_t)n + 2;
    return true;
}
