/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * glob.c: glob_match, with the results of Redis 7.0's stringmatchlen and
 * without its recursion.
 *
 * Every token but '*' matches exactly one byte ('?', a class, a literal or
 * an escaped byte), so backtracking only ever needs to return to the most
 * recent '*': let it swallow one more byte and retry what follows it. An
 * earlier '*' never needs to grow, since whatever a longer match of it could
 * reach, the later '*' reaches too. That bounds the work to
 * O(plen * slen) token comparisons, where the recursive original is
 * exponential without its "skip longer matches" cut.
 *
 * Byte semantics follow Redis exactly, quirks included: bytes compare as
 * (signed) char, as on x86 Linux, and case folding is glibc's tolower in the
 * C locale (ASCII letters; bytes above 0x7f become unsigned, except 0xff),
 * which only matters for ranges with such bytes; an escaped byte inside a
 * class is compared case-sensitively; an unterminated class runs to the
 * pattern end.
 */
#include "shardis/glob.h"

/* glibc's tolower in the C locale, for c a (signed) char: ASCII letters fold,
 * and a negative c other than EOF (-1) comes back as its unsigned value. */
static int fold(int c, bool nocase)
{
    if (!nocase) {
        return c;
    }
    if (c >= 'A' && c <= 'Z') {
        return c + ('a' - 'A');
    }
    return c < -1 ? c + 256 : c;
}

/* Matches the class starting after '[' at p[0..n) against byte c; returns
 * the bytes of pattern the class spans (up to and including the ']', or to
 * the end when it is left open). */
static size_t class_match(const char *p, size_t n, int c, bool nocase, bool *match)
{
    size_t i = 0;
    bool neg = n > 0 && p[0] == '^';
    bool hit = false;
    if (neg) {
        i++;
    }
    while (i < n && p[i] != ']') {
        if (p[i] == '\\' && n - i >= 2) {
            i++;
            hit |= (signed char)p[i] == c;
        } else if (n - i >= 3 && p[i + 1] == '-') {
            int lo = (signed char)p[i];
            int hi = (signed char)p[i + 2];
            if (lo > hi) {
                int t = lo;
                lo = hi;
                hi = t;
            }
            /* Folded after ordering, as Redis does: [Z-a] is empty nocase. */
            lo = fold(lo, nocase);
            hi = fold(hi, nocase);
            hit |= fold(c, nocase) >= lo && fold(c, nocase) <= hi;
            i += 2;
        } else {
            hit |= fold((signed char)p[i], nocase) == fold(c, nocase);
        }
        i++;
    }
    *match = neg ? !hit : hit;
    return i < n ? i + 1 : n; /* past the ']' */
}

/* Matches the single-byte token at p[0..n) (n > 0, p[0] != '*') against c;
 * returns the token's length in the pattern. */
static size_t token_match(const char *p, size_t n, char ch, bool nocase, bool *match)
{
    int c = (signed char)ch;
    switch (p[0]) {
    case '?':
        *match = true;
        return 1;
    case '[':
        return 1 + class_match(p + 1, n - 1, c, nocase, match);
    case '\\':
        if (n >= 2) {
            *match = fold((signed char)p[1], nocase) == fold(c, nocase);
            return 2;
        }
        break;
    default:
        break;
    }
    *match = fold((signed char)p[0], nocase) == fold(c, nocase);
    return 1;
}

bool glob_match(const char *pat, size_t plen, const char *s, size_t slen, bool nocase)
{
    size_t p = 0, i = 0;
    size_t star_p = 0, star_i = 0; /* resume point after the latest '*' */
    bool have_star = false;

    if (slen == 0) {
        return plen == 0; /* Redis never enters its loop for an empty string */
    }
    while (i < slen) {
        if (p < plen && pat[p] == '*') {
            while (p < plen && pat[p] == '*') {
                p++;
            }
            if (p == plen) {
                return true;
            }
            have_star = true;
            star_p = p;
            star_i = i;
            continue;
        }
        bool match = false;
        if (p < plen) {
            size_t tlen = token_match(pat + p, plen - p, s[i], nocase, &match);
            if (match) {
                p += tlen;
                i++;
                continue;
            }
        }
        if (!have_star) {
            return false;
        }
        p = star_p;
        i = ++star_i;
    }
    while (p < plen && pat[p] == '*') {
        p++;
    }
    return p == plen;
}
