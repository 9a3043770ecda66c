/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * reply.c: growable buffers and the RESP2/RESP3 reply writer.
 *
 * Every writer appends the encoded frame directly to the target buffer, so a
 * reply is formatted once, where it will be sent from. Integers are
 * formatted by hand (no printf on the request path).
 */
#include "shardis/reply.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void rbuf_init(struct rbuf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->foreign = false;
}

void rbuf_init_foreign(struct rbuf *b, char *storage, size_t cap)
{
    b->data = storage;
    b->len = 0;
    b->cap = cap;
    b->foreign = true;
}

void rbuf_fini(struct rbuf *b)
{
    if (!b->foreign) {
        sh_free(b->data);
    }
    rbuf_init(b);
}

char *rbuf_reserve(struct rbuf *b, size_t n)
{
    if (SH_UNLIKELY(b->cap - b->len < n)) {
        size_t cap = b->cap ? b->cap * 2 : 256;

        while (cap - b->len < n) {
            cap *= 2;
        }
        if (b->foreign) {
            char *own = sh_malloc(cap);

            memcpy(own, b->data, b->len);
            b->data = own;
            b->foreign = false;
        } else {
            b->data = sh_realloc(b->data, cap);
        }
        b->cap = cap;
    }
    return b->data + b->len;
}

void rbuf_line(struct rbuf *b, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(line) - 3) {
        n = (int)sizeof(line) - 3;
    }
    line[n++] = '\r';
    line[n++] = '\n';
    rbuf_append(b, line, (size_t)n);
}

void rbuf_append(struct rbuf *b, const void *p, size_t n)
{
    char *dst;

    if (n == 0) {
        return; /* p may be NULL then (an empty rbuf's data) */
    }
    dst = rbuf_reserve(b, n);

    memcpy(dst, p, n);
    b->len += n;
}

void rbuf_consume(struct rbuf *b, size_t n)
{
    SH_ASSERT(n <= b->len);
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

/* Writes v in decimal at dst; returns the number of bytes (at most 20). */
static size_t fmt_ll(char *dst, long long v)
{
    char tmp[24];
    size_t n = 0, i = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) {
        dst[i++] = '-';
    }
    while (n) {
        dst[i++] = tmp[--n];
    }
    return i;
}

/* "<type><v>\r\n" */
static void put_header(struct reply *r, char type, long long v)
{
    char *p = rbuf_reserve(r->buf, 24);
    size_t n = 0;

    p[n++] = type;
    n += fmt_ll(p + n, v);
    p[n++] = '\r';
    p[n++] = '\n';
    r->buf->len += n;
}

void reply_raw(struct reply *r, const void *p, size_t n)
{
    rbuf_append(r->buf, p, n);
}

void reply_ok(struct reply *r)
{
    rbuf_append(r->buf, "+OK\r\n", 5);
}

void reply_status(struct reply *r, const char *msg)
{
    size_t n = strlen(msg);
    char *p = rbuf_reserve(r->buf, n + 3);

    p[0] = '+';
    memcpy(p + 1, msg, n);
    p[n + 1] = '\r';
    p[n + 2] = '\n';
    r->buf->len += n + 3;
}

void reply_error(struct reply *r, const char *msg)
{
    size_t n = strlen(msg);
    char *p = rbuf_reserve(r->buf, n + 3);

    p[0] = '-';
    for (size_t i = 0; i < n; i++) {
        p[i + 1] = (msg[i] == '\r' || msg[i] == '\n') ? ' ' : msg[i];
    }
    p[n + 1] = '\r';
    p[n + 2] = '\n';
    r->buf->len += n + 3;
}

void reply_errorf(struct reply *r, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    reply_error(r, msg);
}

void reply_int(struct reply *r, long long v)
{
    put_header(r, ':', v);
}

void reply_bulk(struct reply *r, const void *p, size_t n)
{
    char *dst = rbuf_reserve(r->buf, n + 32);
    size_t h = 0;

    dst[h++] = '$';
    h += fmt_ll(dst + h, (long long)n);
    dst[h++] = '\r';
    dst[h++] = '\n';
    if (n) {
        memcpy(dst + h, p, n); /* p may be NULL when n is 0 (an empty rbuf) */
    }
    dst[h + n] = '\r';
    dst[h + n + 1] = '\n';
    r->buf->len += h + n + 2;
}

void reply_bulk_cstr(struct reply *r, const char *s)
{
    reply_bulk(r, s, strlen(s));
}

void reply_bulk_ll(struct reply *r, long long v)
{
    char tmp[24];

    reply_bulk(r, tmp, fmt_ll(tmp, v));
}

/* "%.17g" of d, Redis 7.0's form of a double reply. An integral value
 * below 2^53 is exact in every digit, so "%.17g" prints it as that integer:
 * it is written without printf, which costs about a microsecond (15 % of a
 * ZPOPMIN with integer scores). */
static size_t fmt_double(char *dst, size_t cap, double d)
{
    if (d == 0) {
        size_t n = 0;

        if (signbit(d)) {
            dst[n++] = '-';
        }
        dst[n++] = '0';
        return n;
    }
    if (fabs(d) < 9007199254740992.0 && d == trunc(d)) {
        return fmt_ll(dst, (long long)d);
    }
    return (size_t)snprintf(dst, cap, "%.17g", d);
}

void reply_double(struct reply *r, double d)
{
    char tmp[64];
    size_t n;

    if (isinf(d)) {
        n = d > 0 ? 3 : 4;
        memcpy(tmp, d > 0 ? "inf" : "-inf", n);
    } else {
        n = fmt_double(tmp, sizeof(tmp), d);
    }
    if (r->proto == 3) {
        rbuf_append(r->buf, ",", 1);
        rbuf_append(r->buf, tmp, (size_t)n);
        rbuf_append(r->buf, "\r\n", 2);
    } else {
        reply_bulk(r, tmp, (size_t)n);
    }
}

void reply_null(struct reply *r)
{
    if (r->proto == 3) {
        rbuf_append(r->buf, "_\r\n", 3);
    } else {
        rbuf_append(r->buf, "$-1\r\n", 5);
    }
}

void reply_null_array(struct reply *r)
{
    if (r->proto == 3) {
        rbuf_append(r->buf, "_\r\n", 3);
    } else {
        rbuf_append(r->buf, "*-1\r\n", 5);
    }
}

void reply_array(struct reply *r, long long n)
{
    put_header(r, '*', n);
}

void reply_map(struct reply *r, long long n)
{
    if (r->proto == 3) {
        put_header(r, '%', n);
    } else {
        put_header(r, '*', n * 2);
    }
}

void reply_push(struct reply *r, long long n)
{
    put_header(r, r->proto == 3 ? '>' : '*', n);
}

void reply_set(struct reply *r, long long n)
{
    put_header(r, r->proto == 3 ? '~' : '*', n);
}

void reply_bool(struct reply *r, bool v)
{
    if (r->proto == 3) {
        rbuf_append(r->buf, v ? "#t\r\n" : "#f\r\n", 4);
    } else {
        reply_int(r, v ? 1 : 0);
    }
}

void reply_verbatim(struct reply *r, const char *p, size_t n, const char *fmt3)
{
    if (r->proto != 3) {
        reply_bulk(r, p, n);
        return;
    }
    put_header(r, '=', (long long)n + 4);
    rbuf_append(r->buf, fmt3, 3);
    rbuf_append(r->buf, ":", 1);
    rbuf_append(r->buf, p, n);
    rbuf_append(r->buf, "\r\n", 2);
}

void reply_err_wrongtype(struct reply *r)
{
    reply_error(r, "WRONGTYPE Operation against a key holding the wrong kind of value");
}

void reply_err_syntax(struct reply *r)
{
    reply_error(r, "ERR syntax error");
}

void reply_err_notint(struct reply *r)
{
    reply_error(r, "ERR value is not an integer or out of range");
}

void reply_err_arity(struct reply *r, const char *cmdname)
{
    reply_errorf(r, "ERR wrong number of arguments for '%s' command", cmdname);
}

/* The header is written at the end, when n is known: reserve the widest
 * header and move the body if the real one is shorter. */
#define DEFERRED_HDR 24

size_t reply_array_begin(struct reply *r)
{
    size_t at = r->buf->len;

    rbuf_reserve(r->buf, DEFERRED_HDR);
    r->buf->len += DEFERRED_HDR;
    return at;
}

void reply_array_end(struct reply *r, size_t at, long long n)
{
    char hdr[DEFERRED_HDR];
    size_t h = 0;
    char *base = r->buf->data + at;
    size_t body = r->buf->len - at - DEFERRED_HDR;

    hdr[h++] = '*';
    h += fmt_ll(hdr + h, n);
    hdr[h++] = '\r';
    hdr[h++] = '\n';
    memmove(base + h, base + DEFERRED_HDR, body);
    memcpy(base, hdr, h);
    r->buf->len = at + h + body;
}
