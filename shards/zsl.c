/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * zsl.c: the sorted-set skiplist (see zsl.h), after Redis's zskiplist.
 *
 *   level 2: header ------------------------> [C] ---------------> NULL
 *   level 1: header --------> [A] ----------> [C] --------> [D] -> NULL
 *   level 0: header -> [A] -> [B] -> [C] -> [D] -> [E] -> NULL
 *                 NULL <-A <-- B <--- C <--- D <--- E   (backward; tail = E)
 *
 * Each node is one allocation: the fixed fields then its levels, a flexible
 * array sized by its height (1 + one more with probability 1/4 each, at most
 * ZSL_MAX_LEVEL). The header is a node of ZSL_MAX_LEVEL levels holding no
 * member; rank 0 is the header, ranks 1..length are the nodes.
 *
 * Invariants (zsl_check verifies them):
 * - level 0 lists the nodes in strictly ascending (score, member) order;
 *   backward is the previous node at level 0 (NULL for the first), tail the
 *   last;
 * - at every level i < zsl->level, span = rank(forward) - rank(node), and
 *   length - rank(node) where forward is NULL; header levels at or above
 *   zsl->level link nothing (their spans are stale and unused);
 * - memory is the sum of the usable sizes of the struct, the header and the
 *   nodes.
 *
 * Every search is one walk from the top level of the header down: at each
 * level it moves forward while a predicate holds for the next node, which
 * must hold for a prefix of the list (below a key, below a range's minimum,
 * up to a rank ...). The walk records, per level, the last node it reached
 * and its rank (struct path): the insertion/deletion points, and the rank of
 * the answer. Counting a range is then a difference of two ranks.
 *
 * update_score never reallocates: a node that must move is unlinked and
 * relinked with its own height (the number of levels at which its
 * predecessors point at it), so pointers held by the caller stay valid.
 *
 * Threading: single-threaded; the level generator is a xorshift64* state in
 * the struct.
 */
#include "shardis/zsl.h"

#include "shardis/util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The longest score bound zsl_parse_score_range reads (as util_str2d). */
#define ZSL_SCORE_MAX_CHARS (5 * 1024)

struct zsl {
    struct zsl_node *header;
    struct zsl_node *tail;
    size_t length;
    size_t memory;
    uint64_t rng; /* xorshift64* state, never 0 */
    int level;    /* levels in use, 1..ZSL_MAX_LEVEL */
};

/* The result of a walk, per level i < zsl->level: the last node reached
 * (header when none) and its rank. */
struct path {
    struct zsl_node *update[ZSL_MAX_LEVEL];
    size_t rank[ZSL_MAX_LEVEL];
};

/* A search key: a (score, member) pair. */
struct key {
    double score;
    const char *member;
    size_t mlen;
};

/* Holds for a prefix of the list; x is a node (never the header) of the
 * given 1-based rank. */
typedef bool node_pred_fn(const struct zsl_node *x, size_t rank, const void *arg);

/* ---- ordering ---- */

static int member_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;

    if (c != 0) {
        return c;
    }
    return alen < blen ? -1 : alen > blen;
}

static SH_ALWAYS_INLINE int node_cmp(const struct zsl_node *x, const struct key *k)
{
    if (x->score != k->score) {
        return x->score < k->score ? -1 : 1;
    }
    return member_cmp(x->member, x->mlen, k->member, k->mlen);
}

static bool key_lt(const struct zsl_node *x, size_t rank, const void *arg)
{
    (void)rank;
    return node_cmp(x, arg) < 0;
}

static bool key_le(const struct zsl_node *x, size_t rank, const void *arg)
{
    (void)rank;
    return node_cmp(x, arg) <= 0;
}

static bool rank_lt(const struct zsl_node *x, size_t rank, const void *arg)
{
    (void)x;
    return rank < *(const size_t *)arg;
}

static bool rank_le(const struct zsl_node *x, size_t rank, const void *arg)
{
    (void)x;
    return rank <= *(const size_t *)arg;
}

static bool score_below_min(const struct zsl_node *x, size_t rank, const void *arg)
{
    (void)rank;
    return !zsl_value_gte_min(x->score, arg);
}

static bool score_lte_max(const struct zsl_node *x, size_t rank, const void *arg)
{
    (void)rank;
    return zsl_value_lte_max(x->score, arg);
}

static bool lex_below_min(const struct zsl_node *x, size_t rank, const void *arg)
{
    (void)rank;
    return !zsl_lex_value_gte_min(x->member, x->mlen, arg);
}

static bool lex_lte_max(const struct zsl_node *x, size_t rank, const void *arg)
{
    (void)rank;
    return zsl_lex_value_lte_max(x->member, x->mlen, arg);
}

/* ---- nodes and levels ---- */

static uint64_t next_random(struct zsl *zsl)
{
    uint64_t x = zsl->rng;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    zsl->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* 1 + the number of trailing pairs of zero bits: level k+1 with probability
 * (1/4)^k, capped at ZSL_MAX_LEVEL by the bit forced on top. */
static int random_level(struct zsl *zsl)
{
    uint64_t r = next_random(zsl) | (1ULL << (2 * (ZSL_MAX_LEVEL - 1)));

    return 1 + __builtin_ctzll(r) / 2;
}

static struct zsl_node *node_create(struct zsl *zsl, int height)
{
    struct zsl_node *x =
            sh_malloc(sizeof(struct zsl_node) + (size_t)height * sizeof(struct zsl_level));

    zsl->memory += sh_alloc_size(x);
    return x;
}

static void node_free(struct zsl *zsl, struct zsl_node *x)
{
    zsl->memory -= sh_alloc_size(x);
    sh_free(x);
}

struct zsl *zsl_create(uint64_t seed)
{
    struct zsl *zsl = sh_calloc(1, sizeof(*zsl));
    uint64_t z = seed + 0x9E3779B97F4A7C15ULL;

    /* splitmix64 spreads close seeds; xorshift needs a non-zero state */
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    zsl->rng = z ? z : 0x9E3779B97F4A7C15ULL;
    zsl->memory = sh_alloc_size(zsl);
    zsl->level = 1;
    zsl->header = node_create(zsl, ZSL_MAX_LEVEL);
    memset(zsl->header, 0, sizeof(struct zsl_node) + ZSL_MAX_LEVEL * sizeof(struct zsl_level));
    return zsl;
}

void zsl_destroy(struct zsl *zsl)
{
    if (!zsl) {
        return;
    }
    struct zsl_node *x = zsl->header->level[0].forward;

    while (x) {
        struct zsl_node *next = x->level[0].forward;

        sh_free(x);
        x = next;
    }
    sh_free(zsl->header);
    sh_free(zsl);
}

size_t zsl_length(const struct zsl *zsl)
{
    return zsl->length;
}

size_t zsl_memory(const struct zsl *zsl)
{
    return zsl->memory;
}

int zsl_level(const struct zsl *zsl)
{
    return zsl->level;
}

struct zsl_node *zsl_first(const struct zsl *zsl)
{
    return zsl->header->level[0].forward;
}

struct zsl_node *zsl_last(const struct zsl *zsl)
{
    return zsl->tail;
}

void zsl_node_set_member(struct zsl_node *node, const char *member, size_t mlen)
{
    SH_ASSERT(mlen == node->mlen);
    node->member = member;
}

/* ---- walking, linking, unlinking ---- */

/* The misses a walk's step at x on level i may take, started together:
 * next's score, next's link at this level (another line in a tall node),
 * and the node one level down should next not qualify. */
static SH_ALWAYS_INLINE void prefetch_step(const struct zsl_node *x, const struct zsl_node *next,
                                           int i)
{
    __builtin_prefetch(&next->level[i]);
    if (i > 0) {
        __builtin_prefetch(x->level[i - 1].forward);
    }
}

/* Moves forward from the header while pred holds for the next node, level by
 * level; fills p and returns the last node reached (the header if none). */
static struct zsl_node *walk(const struct zsl *zsl, node_pred_fn *pred, const void *arg,
                             struct path *p)
{
    struct zsl_node *x = zsl->header;
    size_t rank = 0;

    for (int i = zsl->level - 1; i >= 0; i--) {
        struct zsl_node *next;

        while ((next = x->level[i].forward)) {
            prefetch_step(x, next, i);
            if (!pred(next, rank + x->level[i].span, arg)) {
                break;
            }
            rank += x->level[i].span;
            x = next;
        }
        p->update[i] = x;
        p->rank[i] = rank;
    }
    return x;
}

/* Links x (of the given height) after p->update[i] at each of its levels; p
 * comes from a walk that stopped just before x's place. */
static void link_node(struct zsl *zsl, struct zsl_node *x, int height, struct path *p)
{
    if (height > zsl->level) {
        for (int i = zsl->level; i < height; i++) {
            p->update[i] = zsl->header;
            p->rank[i] = 0;
            zsl->header->level[i].span = zsl->length;
        }
        zsl->level = height;
    }
    for (int i = 0; i < height; i++) {
        struct zsl_level *prev = &p->update[i]->level[i];
        size_t before = p->rank[0] - p->rank[i]; /* nodes between update[i] and x */

        x->level[i].forward = prev->forward;
        x->level[i].span = prev->span - before;
        prev->forward = x;
        prev->span = before + 1;
    }
    for (int i = height; i < zsl->level; i++) {
        p->update[i]->level[i].span++;
    }
    x->backward = p->update[0] == zsl->header ? NULL : p->update[0];
    if (x->level[0].forward) {
        x->level[0].forward->backward = x;
    } else {
        zsl->tail = x;
    }
    zsl->length++;
}

/* Unlinks x, whose predecessors are p->update (x = p->update[0]'s next).
 * Returns x's height. */
static int unlink_node(struct zsl *zsl, struct zsl_node *x, struct path *p)
{
    int height = 0;

    for (int i = 0; i < zsl->level; i++) {
        struct zsl_level *prev = &p->update[i]->level[i];

        if (prev->forward == x) {
            prev->span += x->level[i].span - 1;
            prev->forward = x->level[i].forward;
            height = i + 1;
        } else {
            prev->span--;
        }
    }
    if (x->level[0].forward) {
        x->level[0].forward->backward = x->backward;
    } else {
        zsl->tail = x->backward;
    }
    while (zsl->level > 1 && zsl->header->level[zsl->level - 1].forward == NULL) {
        zsl->level--;
    }
    zsl->length--;
    return height;
}

/* ---- single nodes ---- */

struct zsl_node *zsl_insert(struct zsl *zsl, double score, const char *member, size_t mlen)
{
    struct key k = { .score = score, .member = member, .mlen = mlen };
    int height = random_level(zsl);
    struct zsl_node *x = node_create(zsl, height);
    struct path p;
    struct zsl_node *next;

    SH_ASSERT(!isnan(score));
    x->member = member;
    x->mlen = mlen;
    x->score = score;
    next = walk(zsl, key_lt, &k, &p)->level[0].forward;
    /* one comparison catches a duplicate of (score, member), not a member
     * already present under another score: that is the caller's guarantee */
    SH_ASSERT(next == NULL || node_cmp(next, &k) != 0);
    link_node(zsl, x, height, &p);
    return x;
}

bool zsl_delete(struct zsl *zsl, double score, const char *member, size_t mlen)
{
    struct key k = { .score = score, .member = member, .mlen = mlen };
    struct path p;
    struct zsl_node *x = walk(zsl, key_lt, &k, &p)->level[0].forward;

    if (!x || node_cmp(x, &k) != 0) {
        return false;
    }
    unlink_node(zsl, x, &p);
    node_free(zsl, x);
    return true;
}

/* Whether x would still sit between its neighbours with this score. */
static bool keeps_place(const struct zsl_node *x, double score)
{
    struct key k = { .score = score, .member = x->member, .mlen = x->mlen };
    const struct zsl_node *next = x->level[0].forward;

    return (!x->backward || node_cmp(x->backward, &k) < 0) && (!next || node_cmp(next, &k) > 0);
}

/* One of two walks update_score runs in lockstep. */
struct cursor {
    struct zsl_node *x; /* the last node reached */
    size_t rank;        /* its rank, counting every node of the list */
    int i;              /* the level it is on; below 0 when done */
};

/* One step of a key_lt walk for k that looks through skip (NULL: through
 * nothing), as though it were not linked: records the level in p and goes
 * down when the next node is not below k. Returns whether the walk goes on.
 * Ranks count skip; the caller corrects them. */
static SH_ALWAYS_INLINE bool walk_step(struct cursor *c, const struct key *k,
                                       const struct zsl_node *skip, struct path *p)
{
    struct zsl_node *x = c->x;
    int i = c->i;
    struct zsl_node *next = x->level[i].forward;
    size_t span = x->level[i].span;

    if (next != NULL && next == skip) {
        span += next->level[i].span;
        next = next->level[i].forward;
    }
    if (next != NULL) {
        prefetch_step(x, next, i);
        if (node_cmp(next, k) < 0) {
            c->rank += span;
            c->x = next;
            return true;
        }
    }
    p->update[i] = x;
    p->rank[i] = c->rank;
    return --c->i >= 0;
}

struct zsl_node *zsl_update_score(struct zsl *zsl, struct zsl_node *node, double score)
{
    struct key was = { .score = node->score, .member = node->member, .mlen = node->mlen };
    struct key k = { .score = score, .member = node->member, .mlen = node->mlen };
    struct cursor a = { zsl->header, 0, zsl->level - 1 };
    struct cursor b = a;
    struct path pa, pb;
    bool more_a = true, more_b = true;
    size_t at;
    int height;

    SH_ASSERT(!isnan(score));
    if (keeps_place(node, score)) {
        node->score = score;
        return node;
    }
    /* The walk to node's predecessors (a) and the one to its new place in
     * the list without it (b) do not depend on each other: run step by
     * step together, the cache misses of one overlap the other's. */
    while (more_a || more_b) {
        if (more_a) {
            more_a = walk_step(&a, &was, NULL, &pa);
        }
        if (more_b) {
            more_b = walk_step(&b, &k, node, &pb);
        }
    }
    SH_ASSERT(pa.update[0]->level[0].forward == node);
    at = pa.rank[0] + 1; /* node's rank */
    for (int i = 0; i < zsl->level; i++) {
        /* b stopped only at other nodes: past node, a rank counted it */
        pb.rank[i] -= pb.rank[i] > at;
    }
    height = unlink_node(zsl, node, &pa);
    node->score = score;
    link_node(zsl, node, height, &pb);
    return node;
}

size_t zsl_rank(const struct zsl *zsl, double score, const char *member, size_t mlen)
{
    struct key k = { .score = score, .member = member, .mlen = mlen };
    struct path p;
    struct zsl_node *x = walk(zsl, key_le, &k, &p);

    if (x == zsl->header || node_cmp(x, &k) != 0) {
        return 0;
    }
    return p.rank[0];
}

struct zsl_node *zsl_node_by_rank(const struct zsl *zsl, size_t rank)
{
    struct path p;
    struct zsl_node *x;

    if (rank == 0 || rank > zsl->length) {
        return NULL;
    }
    x = walk(zsl, rank_le, &rank, &p);
    SH_ASSERT(p.rank[0] == rank);
    return x;
}

/* ---- ranges ---- */

/* The first node for which below_min fails, if lte_max holds for it. */
static struct zsl_node *first_in(const struct zsl *zsl, node_pred_fn *below_min,
                                 node_pred_fn *lte_max, const void *r, size_t *rank)
{
    struct path p;
    struct zsl_node *x = walk(zsl, below_min, r, &p)->level[0].forward;

    if (!x || !lte_max(x, p.rank[0] + 1, r)) {
        return NULL;
    }
    if (rank) {
        *rank = p.rank[0] + 1;
    }
    return x;
}

/* The last node for which lte_max holds, if below_min fails for it. */
static struct zsl_node *last_in(const struct zsl *zsl, node_pred_fn *below_min,
                                node_pred_fn *lte_max, const void *r, size_t *rank)
{
    struct path p;
    struct zsl_node *x = walk(zsl, lte_max, r, &p);

    if (x == zsl->header || below_min(x, p.rank[0], r)) {
        return NULL;
    }
    if (rank) {
        *rank = p.rank[0];
    }
    return x;
}

/* Nodes up to the maximum minus nodes below the minimum. */
static size_t count_in(const struct zsl *zsl, node_pred_fn *below_min, node_pred_fn *lte_max,
                       const void *r)
{
    struct path p;
    size_t below;

    walk(zsl, below_min, r, &p);
    below = p.rank[0];
    walk(zsl, lte_max, r, &p);
    return p.rank[0] > below ? p.rank[0] - below : 0;
}

struct zsl_node *zsl_first_in_range(const struct zsl *zsl, const struct zsl_range *r, size_t *rank)
{
    return first_in(zsl, score_below_min, score_lte_max, r, rank);
}

struct zsl_node *zsl_last_in_range(const struct zsl *zsl, const struct zsl_range *r, size_t *rank)
{
    return last_in(zsl, score_below_min, score_lte_max, r, rank);
}

struct zsl_node *zsl_first_in_lex_range(const struct zsl *zsl, const struct zsl_lex_range *r,
                                        size_t *rank)
{
    return first_in(zsl, lex_below_min, lex_lte_max, r, rank);
}

struct zsl_node *zsl_last_in_lex_range(const struct zsl *zsl, const struct zsl_lex_range *r,
                                       size_t *rank)
{
    return last_in(zsl, lex_below_min, lex_lte_max, r, rank);
}

size_t zsl_count_in_range(const struct zsl *zsl, const struct zsl_range *r)
{
    return count_in(zsl, score_below_min, score_lte_max, r);
}

size_t zsl_count_in_lex_range(const struct zsl *zsl, const struct zsl_lex_range *r)
{
    return count_in(zsl, lex_below_min, lex_lte_max, r);
}

/* ---- range deletes ---- */

/* Removes the nodes after p's position while in_range holds for them (given
 * their rank before the delete), calling fn for each before freeing it. */
static size_t delete_run(struct zsl *zsl, struct path *p, node_pred_fn *in_range, const void *r,
                         zsl_removed_fn *fn, void *arg)
{
    size_t first_rank = p->rank[0] + 1;
    size_t removed = 0;
    struct zsl_node *x = p->update[0]->level[0].forward;

    while (x && in_range(x, first_rank + removed, r)) {
        struct zsl_node *next = x->level[0].forward;

        unlink_node(zsl, x, p);
        if (fn) {
            fn(arg, x);
        }
        node_free(zsl, x);
        removed++;
        x = next;
    }
    return removed;
}

size_t zsl_delete_range_by_score(struct zsl *zsl, const struct zsl_range *r, zsl_removed_fn *fn,
                                 void *arg)
{
    struct path p;

    walk(zsl, score_below_min, r, &p);
    return delete_run(zsl, &p, score_lte_max, r, fn, arg);
}

size_t zsl_delete_range_by_lex(struct zsl *zsl, const struct zsl_lex_range *r, zsl_removed_fn *fn,
                               void *arg)
{
    struct path p;

    walk(zsl, lex_below_min, r, &p);
    return delete_run(zsl, &p, lex_lte_max, r, fn, arg);
}

size_t zsl_delete_range_by_rank(struct zsl *zsl, size_t start, size_t end, zsl_removed_fn *fn,
                                void *arg)
{
    struct path p;

    walk(zsl, rank_lt, &start, &p);
    return delete_run(zsl, &p, rank_le, &end, fn, arg);
}

/* ---- range specs ---- */

bool zsl_range_is_empty(const struct zsl_range *r)
{
    return r->min > r->max || (r->min == r->max && (r->minex || r->maxex));
}

/* member against a bound: <0, 0, >0. */
static int lex_cmp(const char *member, size_t mlen, const struct zsl_lex_bound *b)
{
    if (b->kind == ZSL_LEX_MIN) {
        return 1;
    }
    if (b->kind == ZSL_LEX_MAX) {
        return -1;
    }
    return member_cmp(member, mlen, b->ptr, b->len);
}

bool zsl_lex_value_gte_min(const char *member, size_t mlen, const struct zsl_lex_range *r)
{
    int c = lex_cmp(member, mlen, &r->min);

    return r->min.ex ? c > 0 : c >= 0;
}

bool zsl_lex_value_lte_max(const char *member, size_t mlen, const struct zsl_lex_range *r)
{
    int c = lex_cmp(member, mlen, &r->max);

    return r->max.ex ? c < 0 : c <= 0;
}

bool zsl_lex_range_is_empty(const struct zsl_lex_range *r)
{
    const struct zsl_lex_bound *a = &r->min;
    const struct zsl_lex_bound *b = &r->max;
    int c;

    if (a->kind != ZSL_LEX_VALUE && a->kind == b->kind) {
        c = 0;
    } else if (a->kind == ZSL_LEX_MIN || b->kind == ZSL_LEX_MAX) {
        c = -1;
    } else if (a->kind == ZSL_LEX_MAX || b->kind == ZSL_LEX_MIN) {
        c = 1;
    } else {
        c = member_cmp(a->ptr, a->len, b->ptr, b->len);
    }
    return c > 0 || (c == 0 && (a->ex || b->ex));
}

int zsl_parse_score(const char *s, size_t len, double *out)
{
    return util_str2d(s, len, out) ? 0 : -EINVAL;
}

/* One bound as Redis's zslParseRange reads it: strtod must stop at the end
 * of the string (or at an embedded NUL, as with Redis's C strings); leading
 * spaces, overflow and an empty number are accepted as strtod takes them. */
static int parse_score_bound(const char *s, size_t len, double *out, bool *ex)
{
    char buf[ZSL_SCORE_MAX_CHARS + 1];
    char *end;

    *ex = len > 0 && s[0] == '(';
    if (*ex) {
        s++;
        len--;
    }
    if (len > ZSL_SCORE_MAX_CHARS) {
        return -EINVAL;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    *out = strtod(buf, &end);
    if (*end != '\0' || isnan(*out)) {
        return -EINVAL;
    }
    return 0;
}

int zsl_parse_score_range(const char *min, size_t minlen, const char *max, size_t maxlen,
                          struct zsl_range *out)
{
    int err = parse_score_bound(min, minlen, &out->min, &out->minex);

    if (err) {
        return err;
    }
    return parse_score_bound(max, maxlen, &out->max, &out->maxex);
}

static int parse_lex_bound(const char *s, size_t len, struct zsl_lex_bound *b)
{
    if (len == 0) {
        return -EINVAL;
    }
    *b = (struct zsl_lex_bound){ .ptr = s + 1, .len = len - 1, .ex = true };
    switch (s[0]) {
    case '-':
        b->kind = ZSL_LEX_MIN;
        return len == 1 ? 0 : -EINVAL;
    case '+':
        b->kind = ZSL_LEX_MAX;
        return len == 1 ? 0 : -EINVAL;
    case '(':
        b->kind = ZSL_LEX_VALUE;
        return 0;
    case '[':
        b->kind = ZSL_LEX_VALUE;
        b->ex = false;
        return 0;
    default:
        return -EINVAL;
    }
}

int zsl_parse_lex_range(const char *min, size_t minlen, const char *max, size_t maxlen,
                        struct zsl_lex_range *out)
{
    int err = parse_lex_bound(min, minlen, &out->min);

    if (err) {
        return err;
    }
    return parse_lex_bound(max, maxlen, &out->max);
}

/* ---- consistency check ---- */

/* Level 0: order, backward links, tail, length, memory. */
static int check_level0(const struct zsl *zsl)
{
    const struct zsl_node *prev = NULL;
    size_t n = 0;
    size_t memory = sh_alloc_size(zsl) + sh_alloc_size(zsl->header);

    for (const struct zsl_node *x = zsl->header->level[0].forward; x; x = x->level[0].forward) {
        struct key k = { .score = x->score, .member = x->member, .mlen = x->mlen };

        if (isnan(x->score) || x->backward != prev || (prev && node_cmp(prev, &k) >= 0)) {
            return -EUCLEAN;
        }
        memory += sh_alloc_size(x);
        prev = x;
        n++;
    }
    if (zsl->tail != prev || n != zsl->length || memory != zsl->memory) {
        return -EUCLEAN;
    }
    return 0;
}

/* Level i: each span equals the level-0 steps to the forward node (or to
 * the end when there is none). */
static int check_level(const struct zsl *zsl, int i)
{
    const struct zsl_node *x = zsl->header;
    size_t rank = 0;

    while (x) {
        const struct zsl_node *target = x->level[i].forward;
        const struct zsl_node *y = x;
        size_t steps = 0;

        while (y != target && y) {
            y = y->level[0].forward;
            steps += y != NULL;
        }
        if (y != target || x->level[i].span != steps) {
            return -EUCLEAN;
        }
        rank += steps;
        x = target;
    }
    return rank == zsl->length ? 0 : -EUCLEAN;
}

int zsl_check(const struct zsl *zsl)
{
    int err;

    if (zsl->level < 1 || zsl->level > ZSL_MAX_LEVEL) {
        return -EUCLEAN;
    }
    for (int i = zsl->level; i < ZSL_MAX_LEVEL; i++) {
        if (zsl->header->level[i].forward) {
            return -EUCLEAN;
        }
    }
    if (zsl->header->backward || (zsl->level > 1 && !zsl->header->level[zsl->level - 1].forward)) {
        return -EUCLEAN;
    }
    err = check_level0(zsl);
    for (int i = 0; i < zsl->level && !err; i++) {
        err = check_level(zsl, i);
    }
    return err;
}
