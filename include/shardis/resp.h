/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * resp.h: the request parser: RESP multibulk frames ("*N\r\n$len\r\n...")
 * and inline commands ("SET a b\r\n"), as Redis accepts them.
 *
 * The parser is resumable: it keeps where it stopped in a partial command, so
 * a large or split command is scanned once, not again on every read. Complete
 * commands come out as slices into the caller's buffer (zero copy; inline
 * arguments with escapes are unescaped in place, which never grows them).
 *
 * Threading: one parser per connection, used by the connection's core.
 */
#pragma once

#include "shardis/sh.h"

#define RESP_INLINE_MAX (64 * 1024) /* Redis's PROTO_INLINE_MAX_SIZE */

struct resp_parser {
    /* limits, set by the owner before use */
    long long max_bulk_len; /* proto-max-bulk-len */
    bool unauth;            /* not authenticated yet: Redis's tiny limits */
    /* public, read-only: offset of the first byte not yet consumed */
    size_t start;
    /* public after an error: Redis's message, without "-ERR "; it may point
     * into errbuf, so it lives as long as the parser */
    const char *err;
    char errbuf[64];
    /* private state of a partial multibulk command */
    size_t scan;          /* next byte to look at */
    long long mbulk_left; /* arguments still expected; 0 = between commands */
    long long bulk_len;   /* length of the argument being read, -1 = header */
    int argc;
    int argcap;
    size_t *argoff; /* offsets (from start) and lengths of the arguments */
    size_t *arglen;
    struct sh_slice *argv; /* filled when a command is complete */
};

void resp_parser_init(struct resp_parser *p, long long max_bulk_len);
void resp_parser_fini(struct resp_parser *p);

enum {
    RESP_NEED_MORE = 0,
    RESP_COMMAND = 1,
    RESP_ERROR = -1,
};

/* Takes the next command out of buf[0..len). Returns RESP_COMMAND with
 * p->argv[0..*argc) pointing into buf (valid until buf changes), RESP_NEED_MORE
 * when the bytes end inside a command, or RESP_ERROR with p->err set: the
 * stream cannot be trusted any more and the connection must close after the
 * error reply. Empty commands ("*0", blank inline lines) are skipped. */
SH_MUST_CHECK int resp_parse(struct resp_parser *p, char *buf, size_t len, int *argc);

/* The caller dropped the first p->start bytes of its buffer (compaction). */
void resp_parser_rebase(struct resp_parser *p);

/* Bytes the partial command at p->start needs in all, as far as known (a
 * hint to size the buffer for a large bulk); 0 when unknown. */
size_t resp_parser_want(const struct resp_parser *p);

/* Splits an inline line as Redis's sdssplitargs does (quotes, \xHH escapes),
 * unescaping in place. Returns the count, or -1 on unbalanced quotes. Fills at
 * most max slices; returns max + 1 if there are more. */
int resp_split_inline(char *line, size_t len, struct sh_slice *out, int max);

/* Skips one RESP2/RESP3 value at buf[0..len); returns its size in bytes or 0
 * when incomplete or malformed. For replies this server wrote itself. */
size_t resp_value_size(const char *buf, size_t len);
