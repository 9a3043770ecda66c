/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * glob.h: Redis's glob-style pattern matching (stringmatchlen), for KEYS,
 * SCAN MATCH, COMMAND LIST FILTERBY PATTERN, PUBSUB patterns and the like.
 *
 * Pattern syntax, as Redis 7.0:
 *   *        any run of bytes, including none
 *   ?        exactly one byte
 *   [abc]    one byte of the set; [^abc] one byte not in it; [a-z] a range
 *            (either order); \x inside a class is x, always case-sensitive;
 *            a class left open runs to the end of the pattern
 *   \x       x itself (a lone trailing backslash matches a backslash)
 * Quirk kept for compatibility: an empty string matches only the empty
 * pattern (Redis's KEYS special-cases a pattern of exactly "*" itself).
 * Case folding (nocase) is ASCII only, like Redis in the C locale.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Does s[0..slen) match pat[0..plen)? Neither needs a NUL; both are
 * borrowed. O(plen * slen) in the worst case (no exponential blow-up on
 * patterns like "a*a*a*...b"), no allocation, no recursion; any core. */
bool glob_match(const char *pat, size_t plen, const char *s, size_t slen, bool nocase);
