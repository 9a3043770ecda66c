/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * util.c: number conversions with Redis's rules (see util.h). Strict parsing
 * matters: Redis clients rely on "ERR value is not an integer" for " 1" and
 * "01", and on integer-encoded strings round-tripping byte for byte.
 */
#include "shardis/util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool util_str2ll(const char *s, size_t len, long long *out)
{
    unsigned long long v = 0;
    size_t i = 0;
    bool neg = false;

    if (len == 0 || len > 20) {
        return false;
    }
    if (len == 1 && s[0] == '0') {
        *out = 0;
        return true;
    }
    if (s[0] == '-') {
        neg = true;
        i = 1;
        if (len == 1) {
            return false;
        }
    }
    if (s[i] < '1' || s[i] > '9') {
        return false;
    }
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        if (v > (ULLONG_MAX - (unsigned)(s[i] - '0')) / 10) {
            return false;
        }
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1) {
            return false;
        }
        *out = (long long)(0ULL - v);
    } else {
        if (v > LLONG_MAX) {
            return false;
        }
        *out = (long long)v;
    }
    return true;
}

size_t util_ll2str(char *buf, long long v)
{
    char tmp[24];
    size_t n = 0, i = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) {
        buf[i++] = '-';
    }
    while (n) {
        buf[i++] = tmp[--n];
    }
    buf[i] = '\0';
    return i;
}

bool util_str2ld(const char *s, size_t len, long double *out)
{
    char buf[5 * 1024 + 1];
    char *end;
    long double v;

    if (len == 0 || len >= sizeof(buf)) {
        return false;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (isspace((unsigned char)buf[0])) {
        return false;
    }
    errno = 0;
    v = strtold(buf, &end);
    if ((size_t)(end - buf) != len ||
        (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || fpclassify(v) == FP_ZERO)) ||
        isnan(v)) {
        return false;
    }
    *out = v;
    return true;
}

bool util_str2d(const char *s, size_t len, double *out)
{
    char buf[5 * 1024 + 1];
    char *end;
    double v;

    if (len == 0 || len >= sizeof(buf)) {
        return false;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (isspace((unsigned char)buf[0])) {
        return false;
    }
    errno = 0;
    v = strtod(buf, &end);
    if ((size_t)(end - buf) != len ||
        (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || fpclassify(v) == FP_ZERO)) ||
        isnan(v)) {
        return false;
    }
    *out = v;
    return true;
}

size_t util_ld2str(char *buf, size_t cap, long double v)
{
    int n;

    if (isinf(v)) {
        n = snprintf(buf, cap, "%s", v > 0 ? "inf" : "-inf");
        return (size_t)n;
    }
    n = snprintf(buf, cap, "%.17Lf", v);
    if (n <= 0 || (size_t)n >= cap) {
        return 0;
    }
    if (strchr(buf, '.')) {
        char *p = buf + n - 1;

        while (*p == '0') {
            p--;
            n--;
        }
        if (*p == '.') {
            n--;
        }
    }
    if (n == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        n = 1;
    }
    buf[n] = '\0';
    return (size_t)n;
}

bool util_memtoll(const char *s, long long *out)
{
    const char *u = s;
    long long mul = 1, v;
    char digits[32];
    size_t n;

    while (*u && (isdigit((unsigned char)*u) || *u == '-')) {
        u++;
    }
    if (*u == '\0') {
        mul = 1;
    } else if (!strcasecmp(u, "b")) {
        mul = 1;
    } else if (!strcasecmp(u, "k")) {
        mul = 1000;
    } else if (!strcasecmp(u, "kb")) {
        mul = 1024;
    } else if (!strcasecmp(u, "m")) {
        mul = 1000 * 1000;
    } else if (!strcasecmp(u, "mb")) {
        mul = 1024 * 1024;
    } else if (!strcasecmp(u, "g")) {
        mul = 1000LL * 1000 * 1000;
    } else if (!strcasecmp(u, "gb")) {
        mul = 1024LL * 1024 * 1024;
    } else {
        return false;
    }
    n = (size_t)(u - s);
    if (n == 0 || n >= sizeof(digits)) {
        return false;
    }
    memcpy(digits, s, n);
    if (!util_str2ll(digits, n, &v)) {
        return false;
    }
    if (v != 0 && (v > LLONG_MAX / mul || v < LLONG_MIN / mul)) {
        return false;
    }
    *out = v * mul;
    return true;
}

bool util_parse_cursor(const char *p, size_t len, uint64_t *out)
{
    const char *nul = len ? memchr(p, '\0', len) : NULL;
    size_t n = nul ? (size_t)(nul - p) : len, i = 0;
    bool neg = false;
    uint64_t v = 0;

    if (n > 0 && (p[0] == '+' || p[0] == '-')) {
        neg = p[0] == '-';
        if (++i == n) {
            return false;
        }
    }
    for (; i < n; i++) {
        unsigned d = (unsigned)(p[i] - '0');

        if (d > 9 || v > (UINT64_MAX - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    *out = neg ? (uint64_t)0 - v : v;
    return true;
}
