/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * resp.c: the request parser (see resp.h).
 *
 * Multibulk state machine, as Redis's processMultibulkBuffer:
 *
 *   between commands --'*'--> read count line --> [ read "$len" line -->
 *   wait for len+2 bytes ] x count --> command complete
 *
 * Arguments are remembered as offsets from the command's first byte, so the
 * caller may grow (move) its buffer between calls; they become slices only
 * when the command is complete. Like Redis, the two bytes after a bulk are
 * skipped without being checked, and a count line is found by its '\r'.
 */
#include "shardis/resp.h"

#include "shardis/util.h"

#include <stdio.h>
#include <string.h>

/* internal result: an empty command was consumed, look for the next one */
#define SKIPPED 2

void resp_parser_init(struct resp_parser *p, long long max_bulk_len)
{
    memset(p, 0, sizeof(*p));
    p->max_bulk_len = max_bulk_len;
    p->bulk_len = -1;
}

void resp_parser_fini(struct resp_parser *p)
{
    sh_free(p->argoff);
    sh_free(p->arglen);
    sh_free(p->argv);
    p->argoff = NULL;
    p->arglen = NULL;
    p->argv = NULL;
    p->argcap = 0;
}

void resp_parser_rebase(struct resp_parser *p)
{
    p->scan -= p->start;
    p->start = 0;
}

size_t resp_parser_want(const struct resp_parser *p)
{
    if (p->mbulk_left > 0 && p->bulk_len >= 0) {
        return (p->scan - p->start) + (size_t)p->bulk_len + 2;
    }
    return 0;
}

static int fail(struct resp_parser *p, const char *msg)
{
    p->err = msg;
    return RESP_ERROR;
}

static void push_arg(struct resp_parser *p, size_t off, size_t len)
{
    if (p->argc == p->argcap) {
        int cap = p->argcap ? p->argcap * 2 : 16;

        p->argoff = sh_realloc(p->argoff, sizeof(size_t) * (size_t)cap);
        p->arglen = sh_realloc(p->arglen, sizeof(size_t) * (size_t)cap);
        p->argv = sh_realloc(p->argv, sizeof(struct sh_slice) * (size_t)cap);
        p->argcap = cap;
    }
    p->argoff[p->argc] = off;
    p->arglen[p->argc] = len;
    p->argc++;
}

/* Reads "<prefix><number>\r\n" at p->scan. Returns 1 with *v set, 0 when the
 * line is not complete, -1 when the number is bad or the line too long. */
static int read_count_line(struct resp_parser *p, const char *buf, size_t len, long long *v)
{
    const char *line = buf + p->scan;
    size_t avail = len - p->scan;
    const char *cr = memchr(line, '\r', avail);

    if (!cr || (size_t)(cr - line) + 1 >= avail) {
        return avail > RESP_INLINE_MAX ? -2 : 0;
    }
    if (!util_str2ll(line + 1, (size_t)(cr - line) - 1, v)) {
        p->scan += (size_t)(cr - line) + 2;
        return -1;
    }
    p->scan += (size_t)(cr - line) + 2;
    return 1;
}

static int finish_command(struct resp_parser *p, char *buf, int *argc)
{
    for (int i = 0; i < p->argc; i++) {
        p->argv[i].ptr = buf + p->start + p->argoff[i];
        p->argv[i].len = p->arglen[i];
    }
    *argc = p->argc;
    p->argc = 0;
    p->start = p->scan;
    p->bulk_len = -1;
    return RESP_COMMAND;
}

static int parse_multibulk(struct resp_parser *p, char *buf, size_t len, int *argc)
{
    long long v;
    int rc;

    if (p->mbulk_left == 0) {
        rc = read_count_line(p, buf, len, &v);
        if (rc == 0) {
            return RESP_NEED_MORE;
        }
        if (rc == -2) {
            return fail(p, "Protocol error: too big mbulk count string");
        }
        if (rc < 0 || v > 1024LL * 1024 * 1024) {
            return fail(p, "Protocol error: invalid multibulk length");
        }
        if (p->unauth && v > 10) {
            return fail(p, "Protocol error: unauthenticated multibulk length");
        }
        if (v <= 0) {
            p->start = p->scan;
            return SKIPPED; /* empty command: skipped */
        }
        p->mbulk_left = v;
        p->argc = 0;
        p->bulk_len = -1;
    }
    while (p->mbulk_left > 0) {
        if (p->bulk_len < 0) {
            if (p->scan >= len) {
                return RESP_NEED_MORE;
            }
            if (buf[p->scan] != '$') {
                snprintf(p->errbuf, sizeof(p->errbuf), "Protocol error: expected '$', got '%c'",
                         buf[p->scan]);
                return fail(p, p->errbuf);
            }
            rc = read_count_line(p, buf, len, &v);
            if (rc == 0) {
                return RESP_NEED_MORE;
            }
            if (rc == -2) {
                return fail(p, "Protocol error: too big bulk count string");
            }
            if (rc < 0 || v < 0 || v > p->max_bulk_len) {
                return fail(p, "Protocol error: invalid bulk length");
            }
            if (p->unauth && v > 16384) {
                return fail(p, "Protocol error: unauthenticated bulk length");
            }
            p->bulk_len = v;
        }
        if (len - p->scan < (size_t)p->bulk_len + 2) {
            return RESP_NEED_MORE;
        }
        push_arg(p, p->scan - p->start, (size_t)p->bulk_len);
        p->scan += (size_t)p->bulk_len + 2;
        p->bulk_len = -1;
        p->mbulk_left--;
    }
    return finish_command(p, buf, argc);
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f';
}

/* Reads one quoted token starting at line[*i] (the opening quote), writing
 * the unescaped bytes at line[*w...]. Returns false on unbalanced quotes. */
static bool read_quoted(char *line, size_t len, size_t *i, size_t *w)
{
    char q = line[*i];
    size_t r = *i + 1;

    for (;;) {
        if (r >= len) {
            return false;
        }
        if (q == '"' && line[r] == '\\' && r + 3 < len && line[r + 1] == 'x' &&
            hex_val(line[r + 2]) >= 0 && hex_val(line[r + 3]) >= 0) {
            line[(*w)++] = (char)(hex_val(line[r + 2]) * 16 + hex_val(line[r + 3]));
            r += 4;
        } else if (line[r] == '\\' && r + 1 < len && (q == '"' || line[r + 1] == '\'')) {
            char c = line[r + 1];

            if (q == '"') {
                c = c == 'n'   ? '\n'
                    : c == 'r' ? '\r'
                    : c == 't' ? '\t'
                    : c == 'b' ? '\b'
                    : c == 'a' ? '\a'
                               : c;
            }
            line[(*w)++] = c;
            r += 2;
        } else if (line[r] == q) {
            /* the closing quote must be followed by a space or the end */
            if (r + 1 < len && !is_space(line[r + 1])) {
                return false;
            }
            *i = r + 1;
            return true;
        } else {
            line[(*w)++] = line[r++];
        }
    }
}

/* Finds the next token at line[*i...]; sets *begin and *end (the unescaped
 * bytes are line[*begin..*end)). Returns 1, 0 at the end of the line, or -1
 * on unbalanced quotes. */
static int next_token(char *line, size_t len, size_t *i, size_t *begin, size_t *end)
{
    while (*i < len && is_space(line[*i])) {
        (*i)++;
    }
    if (*i >= len) {
        return 0;
    }
    *begin = *i;
    *end = *i;
    /* as sdssplitargs: a quote opens a quoted part anywhere in a token
     * (name="q" is name=q), and the token ends with it */
    while (*i < len && !is_space(line[*i])) {
        if (line[*i] == '"' || line[*i] == '\'') {
            return read_quoted(line, len, i, end) ? 1 : -1;
        }
        line[(*end)++] = line[(*i)++];
    }
    return 1;
}

int resp_split_inline(char *line, size_t len, struct sh_slice *out, int max)
{
    size_t i = 0, b, e;
    int n = 0, rc;

    while ((rc = next_token(line, len, &i, &b, &e)) == 1) {
        if (n == max) {
            return max + 1;
        }
        out[n].ptr = line + b;
        out[n].len = e - b;
        n++;
    }
    return rc < 0 ? -1 : n;
}

static int parse_inline(struct resp_parser *p, char *buf, size_t len, int *argc)
{
    char *line = buf + p->start;
    size_t avail = len - p->start;
    char *nl = memchr(line, '\n', avail);
    size_t llen, i = 0, b, e;
    int rc;

    if (!nl) {
        if (avail > RESP_INLINE_MAX) {
            return fail(p, "Protocol error: too big inline request");
        }
        return RESP_NEED_MORE;
    }
    llen = (size_t)(nl - line);
    if (llen && line[llen - 1] == '\r') {
        llen--;
    }
    p->argc = 0;
    while ((rc = next_token(line, llen, &i, &b, &e)) == 1) {
        push_arg(p, b, e - b);
    }
    if (rc < 0) {
        return fail(p, "Protocol error: unbalanced quotes in request");
    }
    p->scan = (size_t)(nl - buf) + 1;
    if (p->argc == 0) {
        p->start = p->scan;
        return SKIPPED;
    }
    return finish_command(p, buf, argc);
}

int resp_parse(struct resp_parser *p, char *buf, size_t len, int *argc)
{
    for (;;) {
        int rc;

        if (p->mbulk_left == 0) {
            p->scan = p->start;
            if (p->start >= len) {
                return RESP_NEED_MORE;
            }
            rc = buf[p->start] == '*' ? parse_multibulk(p, buf, len, argc)
                                      : parse_inline(p, buf, len, argc);
        } else {
            rc = parse_multibulk(p, buf, len, argc);
        }
        if (rc != SKIPPED) {
            return rc;
        }
    }
}

/* Skips one line ending in \r\n; returns its length with the CRLF or 0. */
static size_t line_size(const char *buf, size_t len)
{
    const char *cr = memchr(buf, '\r', len);

    if (!cr || (size_t)(cr - buf) + 1 >= len) {
        return 0;
    }
    return (size_t)(cr - buf) + 2;
}

size_t resp_value_size(const char *buf, size_t len)
{
    size_t l, total;
    long long n;

    if (len == 0 || !(l = line_size(buf, len))) {
        return 0;
    }
    switch (buf[0]) {
    case '$':
    case '=':
    case '!':
        if (!util_str2ll(buf + 1, l - 3, &n)) {
            return 0;
        }
        if (n < 0) {
            return l;
        }
        return l + (size_t)n + 2 <= len ? l + (size_t)n + 2 : 0;
    case '*':
    case '~':
    case '>':
    case '%':
        if (!util_str2ll(buf + 1, l - 3, &n)) {
            return 0;
        }
        if (buf[0] == '%') {
            n *= 2;
        }
        total = l;
        for (long long i = 0; i < n; i++) {
            size_t s = resp_value_size(buf + total, len - total);

            if (!s) {
                return 0;
            }
            total += s;
        }
        return total;
    default:
        return l;
    }
}
