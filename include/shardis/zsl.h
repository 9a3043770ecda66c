/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * zsl.h: the scalable index of a sorted set, Redis's zskiplist: nodes ordered
 * by (score, member), where members compare as bytes (memcmp over the shorter
 * length, then the shorter one first). Every link carries a span, so ranks
 * and positions by rank cost O(log n); level 0 is doubly linked for reverse
 * walks.
 *
 * Memory: a node does not copy its member. It borrows a pointer and a length
 * to bytes owned by the caller (the sorted set's member dictionary), who
 * keeps them alive and unchanged while the node exists, and re-points the
 * node with zsl_node_set_member when it moves them.
 *
 * The range specs and their parsers follow Redis's ZRANGEBYSCORE/ZRANGEBYLEX
 * syntax, and the value_gte_min/value_lte_max/range_is_empty helpers serve
 * the compact (listpack) encoding as well.
 *
 * Threading: single-threaded; a skiplist belongs to the shard that owns its
 * key. Nothing here keeps global state (the level generator lives in the
 * struct).
 */
#pragma once

#include "shardis/sh.h"

/* Most levels a node may have (p = 1/4: enough for 2^64 nodes). */
#define ZSL_MAX_LEVEL 32

struct zsl_level {
    struct zsl_node *forward; /* next node at this level, NULL at the end */
    size_t span;              /* rank(forward) - rank(this); to the end when forward is NULL */
};

/* Fields are read through the accessors below. */
struct zsl_node {
    const char *member;        /* public, read-only: borrowed bytes, not terminated */
    size_t mlen;               /* public, read-only */
    double score;              /* public, read-only: never NaN */
    struct zsl_node *backward; /* private: previous node at level 0, NULL for the first */
    struct zsl_level level[];  /* private: as many as the node's height */
};

struct zsl;

/* A score interval: min <= / < score <= / < max, as ZRANGEBYSCORE. */
struct zsl_range {
    double min;
    double max;
    bool minex; /* min is excluded ("(1.5") */
    bool maxex;
};

enum zsl_lex_kind {
    ZSL_LEX_VALUE = 0, /* the bound is the bytes ptr[0..len) */
    ZSL_LEX_MIN = 1,   /* "-": below every string */
    ZSL_LEX_MAX = 2,   /* "+": above every string */
};

struct zsl_lex_bound {
    const char *ptr; /* borrowed; only for ZSL_LEX_VALUE */
    size_t len;
    uint8_t kind; /* enum zsl_lex_kind */
    bool ex;      /* excluded ("(a"); "-" and "+" are exclusive, as in Redis */
};

/* A member interval, as ZRANGEBYLEX. Meaningful only when every node of the
 * skiplist has the same score (Redis's rule); otherwise results are
 * unspecified but memory-safe. */
struct zsl_lex_range {
    struct zsl_lex_bound min;
    struct zsl_lex_bound max;
};

/* Called for each node a range delete removes, after it is unlinked and
 * before it is freed, so the caller can drop the member from its dictionary
 * (and free the member bytes: the node is not read again). fn must not call
 * into the skiplist. */
typedef void zsl_removed_fn(void *arg, const struct zsl_node *node);

/* ---- the skiplist ---- */

/* A new empty skiplist. seed drives the level generator (a xorshift64 state
 * kept in the struct): the same seed and operations give the same shape.
 * Aborts if memory is exhausted. Freed with zsl_destroy. */
struct zsl *zsl_create(uint64_t seed);
/* Frees the skiplist and its nodes (not the member bytes, which the caller
 * owns). zsl_destroy(NULL) is a no-op. */
void zsl_destroy(struct zsl *zsl);
size_t zsl_length(const struct zsl *zsl);
/* Bytes the skiplist holds (struct, header and nodes, as the allocator's
 * usable sizes; member bytes excluded): a running counter. */
size_t zsl_memory(const struct zsl *zsl);
/* Highest level in use (1 when empty), for tests and statistics. */
int zsl_level(const struct zsl *zsl);

/* Adds (score, member): the caller guarantees the member is not present and
 * score is not NaN. The node borrows member[0..mlen). Returns the node, owned
 * by the skiplist, valid until it is deleted. O(log n). */
struct zsl_node *zsl_insert(struct zsl *zsl, double score, const char *member, size_t mlen);
/* Removes the node (score, member) if present and frees it (not the member
 * bytes). Returns whether it was found. O(log n). */
bool zsl_delete(struct zsl *zsl, double score, const char *member, size_t mlen);
/* Changes the score of node (which must be in zsl) to score (not NaN). In
 * place when the node keeps its position, else relinked at its new place;
 * either way the node is not reallocated, so pointers to it stay valid.
 * Returns node. O(log n). */
struct zsl_node *zsl_update_score(struct zsl *zsl, struct zsl_node *node, double score);

/* 1-based rank of (score, member) as Redis's zslGetRank, or 0 when absent.
 * O(log n). */
size_t zsl_rank(const struct zsl *zsl, double score, const char *member, size_t mlen);
/* The node of 1-based rank, or NULL when rank is 0 or above the length.
 * O(log n). */
struct zsl_node *zsl_node_by_rank(const struct zsl *zsl, size_t rank);
/* First and last nodes, NULL when empty. */
struct zsl_node *zsl_first(const struct zsl *zsl);
struct zsl_node *zsl_last(const struct zsl *zsl);

/* First / last node whose score is in r, or NULL when none. When rank is not
 * NULL and a node is returned, *rank is its 1-based rank (for LIMIT offsets
 * and ZCOUNT-like arithmetic). O(log n). */
struct zsl_node *zsl_first_in_range(const struct zsl *zsl, const struct zsl_range *r, size_t *rank);
struct zsl_node *zsl_last_in_range(const struct zsl *zsl, const struct zsl_range *r, size_t *rank);
/* The same for a lex range (see struct zsl_lex_range). O(log n). */
struct zsl_node *zsl_first_in_lex_range(const struct zsl *zsl, const struct zsl_lex_range *r,
                                        size_t *rank);
struct zsl_node *zsl_last_in_lex_range(const struct zsl *zsl, const struct zsl_lex_range *r,
                                       size_t *rank);
/* Number of nodes in a score / lex range, from two ranks. O(log n). */
size_t zsl_count_in_range(const struct zsl *zsl, const struct zsl_range *r);
size_t zsl_count_in_lex_range(const struct zsl *zsl, const struct zsl_lex_range *r);

/* Remove every node in a score range / lex range / 1-based inclusive rank
 * range [start, end] (start 0 counts as 1; ranks past the end are ignored).
 * fn (NULL allowed) sees each removed node in ascending order, see
 * zsl_removed_fn. Return the number removed. O(log n + removed). */
size_t zsl_delete_range_by_score(struct zsl *zsl, const struct zsl_range *r, zsl_removed_fn *fn,
                                 void *arg);
size_t zsl_delete_range_by_lex(struct zsl *zsl, const struct zsl_lex_range *r, zsl_removed_fn *fn,
                               void *arg);
size_t zsl_delete_range_by_rank(struct zsl *zsl, size_t start, size_t end, zsl_removed_fn *fn,
                                void *arg);

/* Verifies the whole structure: strict (score, member) order, no NaN, the
 * backward links and tail, every span at every level, the length and the
 * memory counter. Returns 0, or -EUCLEAN when something is wrong. For tests
 * and debugging: O(n * levels). */
SH_MUST_CHECK int zsl_check(const struct zsl *zsl);

/* ---- nodes ---- */

static inline double zsl_node_score(const struct zsl_node *node)
{
    return node->score;
}

/* The member bytes, borrowed from their owner. */
static inline struct sh_slice zsl_node_member(const struct zsl_node *node)
{
    return (struct sh_slice){ .ptr = node->member, .len = node->mlen };
}

/* Next node in ascending order, NULL after the last. */
static inline struct zsl_node *zsl_node_next(const struct zsl_node *node)
{
    return node->level[0].forward;
}

/* Previous node, NULL before the first. */
static inline struct zsl_node *zsl_node_prev(const struct zsl_node *node)
{
    return node->backward;
}

/* Re-points node at a copy of its member that moved to member[0..mlen): the
 * bytes must be equal to the old ones (the position depends on them; only
 * the length can be checked, the old bytes may be gone). */
void zsl_node_set_member(struct zsl_node *node, const char *member, size_t mlen);

/* ---- ranges (also for the listpack encoding) ---- */

/* Whether v is above the range's lower bound / below its upper bound. */
static inline bool zsl_value_gte_min(double v, const struct zsl_range *r)
{
    return r->minex ? v > r->min : v >= r->min;
}

static inline bool zsl_value_lte_max(double v, const struct zsl_range *r)
{
    return r->maxex ? v < r->max : v <= r->max;
}

/* True when no score can be in r: min > max, or min == max with a bound
 * excluded (Redis checks this before searching). */
bool zsl_range_is_empty(const struct zsl_range *r);
/* The same for members and lex ranges. */
bool zsl_lex_value_gte_min(const char *member, size_t mlen, const struct zsl_lex_range *r);
bool zsl_lex_value_lte_max(const char *member, size_t mlen, const struct zsl_lex_range *r);
bool zsl_lex_range_is_empty(const struct zsl_lex_range *r);

/* A score as ZADD / ZINCRBY accept it (Redis's getDoubleFromObject): strtod
 * over the whole string; "inf", "+inf", "-inf" in any case accepted; empty,
 * leading spaces, trailing bytes, NaN and overflow rejected. Returns 0 and
 * sets *out, or -EINVAL ("ERR value is not a valid float"). */
SH_MUST_CHECK int zsl_parse_score(const char *s, size_t len, double *out);
/* The bounds of ZRANGEBYSCORE / ZCOUNT: each is a float as strtod reads it,
 * prefixed by '(' when excluded ("-inf", "+inf", "(1.5", "(+inf"). As in
 * Redis 7.0 (zslParseRange), leading spaces are skipped, overflow gives
 * +/-inf, and an empty number ("" or "(") reads as 0. Returns 0 and fills
 * *out, or -EINVAL ("ERR min or max is not a float"; *out is then
 * unspecified). A bound longer than 5 KiB is rejected. */
SH_MUST_CHECK int zsl_parse_score_range(const char *min, size_t minlen, const char *max,
                                        size_t maxlen, struct zsl_range *out);
/* The bounds of ZRANGEBYLEX / ZLEXCOUNT: "[bytes" inclusive, "(bytes"
 * exclusive, "-" and "+" the minimum and maximum strings. *out borrows the
 * argument bytes. Returns 0, or -EINVAL for anything else ("ERR min or max
 * not valid string range item"; *out is then unspecified). */
SH_MUST_CHECK int zsl_parse_lex_range(const char *min, size_t minlen, const char *max,
                                      size_t maxlen, struct zsl_lex_range *out);
