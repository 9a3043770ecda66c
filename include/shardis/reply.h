/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * reply.h: growable byte buffers and the RESP reply writer.
 *
 * Reply bytes are written once, straight into the buffer that will be sent
 * (a connection's output buffer or a mailbox reply), in the protocol version
 * of the client that asked (RESP2 or RESP3). A writer never fails: buffers
 * grow through sh_realloc.
 *
 * Threading: a buffer belongs to one core at a time.
 */
#pragma once

#include "shardis/sh.h"

#include <stdarg.h>

struct rbuf {
    char *data; /* public, read-only: data[0..len) */
    size_t len; /* public, read-only */
    size_t cap;
    bool foreign; /* data is borrowed: never freed or reallocated here */
};

void rbuf_init(struct rbuf *b);
/* A buffer over borrowed storage; it moves to its own allocation if it must
 * grow past cap. */
void rbuf_init_foreign(struct rbuf *b, char *storage, size_t cap);
/* Frees the bytes; the buffer is empty and usable again. */
void rbuf_fini(struct rbuf *b);
/* Makes room for at least n more bytes; returns where they go. */
char *rbuf_reserve(struct rbuf *b, size_t n);
void rbuf_append(struct rbuf *b, const void *p, size_t n);
/* A formatted line and its CRLF (INFO's text), cut at 509 bytes. */
SH_PRINTF(2, 3) void rbuf_line(struct rbuf *b, const char *fmt, ...);
/* Drops the first n bytes (n <= len). O(len - n). */
void rbuf_consume(struct rbuf *b, size_t n);

/* A reply writer: where the bytes go and which protocol they follow. */
struct reply {
    struct rbuf *buf;
    int proto; /* 2 or 3 */
};

void reply_raw(struct reply *r, const void *p, size_t n);
void reply_ok(struct reply *r);
/* "+msg\r\n"; msg must not contain CR or LF. */
void reply_status(struct reply *r, const char *msg);
/* "-msg\r\n"; msg starts with its prefix ("ERR ...", "WRONGTYPE ...").
 * CR and LF in msg are replaced by spaces, as Redis does. */
void reply_error(struct reply *r, const char *msg);
SH_PRINTF(2, 3) void reply_errorf(struct reply *r, const char *fmt, ...);
void reply_int(struct reply *r, long long v);
void reply_bulk(struct reply *r, const void *p, size_t n);
void reply_bulk_cstr(struct reply *r, const char *s);
void reply_bulk_ll(struct reply *r, long long v);
/* A double as Redis prints it: RESP3 ',' type, RESP2 a bulk string. */
void reply_double(struct reply *r, double d);
/* The null bulk string: "$-1" in RESP2, "_" in RESP3. */
void reply_null(struct reply *r);
/* The null array: "*-1" in RESP2, "_" in RESP3. */
void reply_null_array(struct reply *r);
void reply_array(struct reply *r, long long n);
/* A map of n pairs: "%n" in RESP3, an array of 2n in RESP2. */
void reply_map(struct reply *r, long long n);
/* An out-of-band push (pub/sub messages): ">n" in RESP3, an array in
 * RESP2. */
void reply_push(struct reply *r, long long n);
/* A set: "~n" in RESP3, an array in RESP2. */
void reply_set(struct reply *r, long long n);
/* RESP3 boolean, RESP2 integer 1/0. */
void reply_bool(struct reply *r, bool v);
/* RESP3 verbatim string ("=" with a 3-letter format), RESP2 bulk. */
void reply_verbatim(struct reply *r, const char *p, size_t n, const char *fmt3);
/* Standard errors, Redis's exact wording. */
void reply_err_wrongtype(struct reply *r);
void reply_err_syntax(struct reply *r);
void reply_err_notint(struct reply *r);
void reply_err_arity(struct reply *r, const char *cmdname);
/* Where a reply of unknown length will go: write the header later. Returns an
 * offset to pass to reply_array_end. */
size_t reply_array_begin(struct reply *r);
void reply_array_end(struct reply *r, size_t at, long long n);
