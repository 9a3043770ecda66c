/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_list.c: the list command family (LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP
 * LLEN LRANGE LINDEX LSET LINSERT LREM LTRIM LPOS LMOVE RPOPLPUSH LMPOP)
 * with Redis 7.0's semantics, replies and error wording (t_list.c).
 *
 * Every handler implements the whole command over the database of the core
 * it runs on: routing sends a command here whole when all its keys live on
 * this core (one shard, one key, or keys with one {hash tag}). LMOVE,
 * RPOPLPUSH and LMPOP name several keys; when their owners differ, the
 * staged gathers at the bottom of the file run them across shards with two
 * internal commands (__lcheck, __lpush) that clients cannot name.
 *
 * Values go through tlist.h only (encodings and their conversion at
 * list-max-listpack-size, ctx->shard->cfg.limits). An empty list is never
 * stored: a push to a missing key creates it with its first element, and a
 * pop, LREM or LTRIM that takes the last element deletes the key ("del"
 * event after the command's own, as Redis). All pops (LPOP RPOP LMPOP LMOVE)
 * go through tlist_pop and popped(), all pushes through tlist_push and
 * pushed(). A list gets elements after being empty only by being created
 * (kdb_add), whose new-key hook is what wakes blocked clients (block.c).
 *
 * Lookups: LLEN LRANGE LINDEX LPOS count keyspace hits and misses (Redis's
 * lookupKeyRead); the writes do not. Arguments Redis parses before the
 * lookup (LPOP's count, LRANGE/LTRIM/LREM's integers, LINSERT's position,
 * LPOS's options, LMOVE's ends, LMPOP's arguments) are parsed first here
 * too, so their errors win over WRONGTYPE; LINDEX and LSET look up first.
 *
 * Keyspace notifications (class l, published by the owner after the
 * write): "lpush"/"rpush" once per push command that wrote, "lpop"/"rpop"
 * once per pop that took something, "lset", "linsert" (pivot found),
 * "lrem" (something removed), "ltrim" (always, when the key exists); LMOVE
 * publishes the destination's "lpush"/"rpush" and then the source's
 * "lpop"/"rpop"; "del" (class g) when the list was emptied.
 *
 * Threading: handlers run on the owner's core; gathers on the client's.
 */
#include "shardis/cmd.h"
#include "shardis/cmd_bind.h"
#include "shardis/cmdtab.h"
#include "shardis/config.h"
#include "shardis/kdb.h"
#include "shardis/kval.h"
#include "shardis/pubsub.h"
#include "shardis/reply.h"
#include "shardis/route.h"
#include "shardis/shard.h"
#include "shardis/tlist.h"
#include "shardis/util.h"

#include <limits.h>
#include <string.h>

#define OOM_MSG    "OOM command not allowed when used memory > 'maxmemory'."
#define POSITIVE   "ERR value is out of range, must be positive"
#define SYNTAX     "ERR syntax error"
#define STACK_ELEM 256 /* LMOVE of a list onto itself copies shorter elements on the stack */
#define RANK_ZERO                                                                                  \
    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use "   \
    "negative to start from the end of the list"

/* LMPOP's arguments past the keys. */
struct mpop_args {
    int numkeys;
    enum tlist_end end;
    long long count;
};

/* ---- helpers ---- */

static bool is_list(const struct kentry *e)
{
    return e->val.type == KVAL_LIST;
}

static const struct kval_limits *limits(const struct cmd_ctx *ctx)
{
    return &ctx->shard->cfg.limits;
}

/* Publishes keyspace event `event` of class type for the key argv[i]. */
static void notify_key(struct cmd_ctx *ctx, int i, int type, const char *event)
{
    pubsub_notify(ctx->shard, type, event, ctx->argv[i].ptr, ctx->argv[i].len, ctx->dbid);
}

/* argv[i] as a long long, or replies Redis's "not an integer" error. */
static bool arg_ll(struct cmd_ctx *ctx, int i, long long *out)
{
    if (!util_str2ll(ctx->argv[i].ptr, ctx->argv[i].len, out)) {
        reply_err_notint(&ctx->r);
        return false;
    }
    return true;
}

/* The list at argv[i] for a read, counted as hit or miss. Returns false
 * after replying WRONGTYPE; *e is NULL when the key is missing. */
static bool lookup_read(struct cmd_ctx *ctx, int i, struct kentry **e)
{
    *e = cmd_lookup(ctx, i);
    cmd_count_lookup(ctx, *e != NULL);
    if (*e && !is_list(*e)) {
        reply_err_wrongtype(&ctx->r);
        return false;
    }
    return true;
}

/* The list at argv[i] for a write (not counted). Returns false after
 * replying WRONGTYPE; *e is NULL when the key is missing. */
static bool lookup_write(struct cmd_ctx *ctx, int i, struct kentry **e)
{
    *e = cmd_lookup(ctx, i);
    if (*e && !is_list(*e)) {
        reply_err_wrongtype(&ctx->r);
        return false;
    }
    return true;
}

static void reply_elem(void *arg, struct sh_slice s)
{
    reply_bulk(arg, s.ptr, s.len);
}

/* LEFT or RIGHT (any case); false for anything else. */
static bool parse_end(struct sh_slice s, enum tlist_end *end)
{
    if (sh_slice_eq_nocase(s, "left")) {
        *end = TLIST_HEAD;
    } else if (sh_slice_eq_nocase(s, "right")) {
        *end = TLIST_TAIL;
    } else {
        return false;
    }
    return true;
}

/* After elements were pushed at `end` of key argv[i]: "lpush"/"rpush". */
static void pushed(struct cmd_ctx *ctx, int i, enum tlist_end end)
{
    notify_key(ctx, i, NOTIFY_LIST, end == TLIST_HEAD ? "lpush" : "rpush");
}

/* Pushes argv[first..argc) one by one at `end` of key argv[i] (entry e, or
 * NULL: the key is created), then publishes "lpush"/"rpush". Returns the
 * list's new length. */
static size_t push_elements(struct cmd_ctx *ctx, int i, struct kentry *e, enum tlist_end end,
                            int first)
{
    if (!e) {
        e = kdb_add(ctx->db, ctx->argv[i].ptr, ctx->argv[i].len, cmd_key_hash(ctx, i));
    }
    for (int j = first; j < ctx->argc; j++) {
        tlist_push(&e->val, end, ctx->argv[j].ptr, ctx->argv[j].len, limits(ctx));
    }
    pushed(ctx, i, end);
    return tlist_len(&e->val);
}

/* After elements were popped from key argv[i] (entry e): "lpop"/"rpop",
 * then the key's deletion and "del" when the list is empty. */
static void popped(struct cmd_ctx *ctx, int i, struct kentry *e, enum tlist_end end)
{
    notify_key(ctx, i, NOTIFY_LIST, end == TLIST_HEAD ? "lpop" : "rpop");
    if (tlist_len(&e->val) == 0) {
        kdb_delete(ctx->db, e);
        notify_key(ctx, i, NOTIFY_GENERIC, "del");
    }
}

/* Deletes key argv[i] (entry e) when LREM or LTRIM emptied it. */
static void drop_if_empty(struct cmd_ctx *ctx, int i, struct kentry *e)
{
    if (tlist_len(&e->val) == 0) {
        kdb_delete(ctx->db, e);
        notify_key(ctx, i, NOTIFY_GENERIC, "del");
    }
}

/* ---- pushes ---- */

/* Redis's pushGenericCommand: xx = LPUSHX/RPUSHX (a missing key stays). */
static void push_generic(struct cmd_ctx *ctx, enum tlist_end end, bool xx)
{
    struct kentry *e;

    if (!lookup_write(ctx, 1, &e)) {
        return;
    }
    if (!e && xx) {
        reply_int(&ctx->r, 0);
        ctx->unchanged = true;
        return;
    }
    reply_int(&ctx->r, (long long)push_elements(ctx, 1, e, end, 2));
}

static void cmd_lpush(struct cmd_ctx *ctx)
{
    push_generic(ctx, TLIST_HEAD, false);
}

static void cmd_rpush(struct cmd_ctx *ctx)
{
    push_generic(ctx, TLIST_TAIL, false);
}

static void cmd_lpushx(struct cmd_ctx *ctx)
{
    push_generic(ctx, TLIST_HEAD, true);
}

static void cmd_rpushx(struct cmd_ctx *ctx)
{
    push_generic(ctx, TLIST_TAIL, true);
}

/* ---- pops ---- */

/* Pops up to count elements of e (key argv[i]) and replies them as an
 * array, then publishes and deletes an emptied key. */
static void pop_reply_array(struct cmd_ctx *ctx, int i, struct kentry *e, enum tlist_end end,
                            long long count)
{
    size_t len = tlist_len(&e->val);
    size_t n = (unsigned long long)count < len ? (size_t)count : len;

    reply_array(&ctx->r, (long long)n);
    tlist_pop(&e->val, end, n, reply_elem, &ctx->r, limits(ctx));
    popped(ctx, i, e, end);
}

/* LPOP/RPOP key [count]: a bulk string without count, an array with one
 * (empty for count 0; a nil array for a missing key). */
static void pop_generic(struct cmd_ctx *ctx, enum tlist_end end)
{
    bool has_count = ctx->argc == 3;
    long long count = 0;
    struct kentry *e;

    if (ctx->argc > 3) {
        reply_err_arity(&ctx->r, ctx->cmd->fullname);
        return;
    }
    if (has_count && (!util_str2ll(ctx->argv[2].ptr, ctx->argv[2].len, &count) || count < 0)) {
        reply_error(&ctx->r, POSITIVE);
        return;
    }
    if (!lookup_write(ctx, 1, &e)) {
        return;
    }
    if (!e) {
        has_count ? reply_null_array(&ctx->r) : reply_null(&ctx->r);
        ctx->unchanged = true;
    } else if (!has_count) {
        tlist_pop(&e->val, end, 1, reply_elem, &ctx->r, limits(ctx));
        popped(ctx, 1, e, end);
    } else if (count == 0) {
        reply_array(&ctx->r, 0);
        ctx->unchanged = true;
    } else {
        pop_reply_array(ctx, 1, e, end, count);
    }
}

static void cmd_lpop(struct cmd_ctx *ctx)
{
    pop_generic(ctx, TLIST_HEAD);
}

static void cmd_rpop(struct cmd_ctx *ctx)
{
    pop_generic(ctx, TLIST_TAIL);
}

/* ---- LMPOP ---- */

/* Redis's getRangeLongFromObjectOrReply(1, LONG_MAX) with its message. */
static bool parse_positive(struct sh_slice s, long long *out)
{
    return util_str2ll(s.ptr, s.len, out) && *out >= 1;
}

/* Redis's lmpopGenericCommand's parsing of argv (LMPOP numkeys key ...
 * LEFT|RIGHT [COUNT count]): NULL, or the error to reply. */
static const char *parse_mpop(int argc, const struct sh_slice *argv, struct mpop_args *mp)
{
    long long numkeys;
    int where;

    if (!parse_positive(argv[1], &numkeys)) {
        return "ERR numkeys should be greater than 0";
    }
    if (numkeys > argc - 3) {
        return SYNTAX;
    }
    mp->numkeys = (int)numkeys;
    where = 2 + mp->numkeys;
    if (!parse_end(argv[where], &mp->end)) {
        return SYNTAX;
    }
    mp->count = -1;
    for (int j = where + 1; j < argc; j++) {
        if (mp->count != -1 || !sh_slice_eq_nocase(argv[j], "count") || j + 1 >= argc) {
            return SYNTAX;
        }
        if (!parse_positive(argv[++j], &mp->count)) {
            return "ERR count should be greater than 0";
        }
    }
    if (mp->count == -1) {
        mp->count = 1;
    }
    return NULL;
}

/* LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]: pops from the first
 * non-empty list, [key, [elements]], or a nil array. */
static void cmd_lmpop(struct cmd_ctx *ctx)
{
    struct mpop_args mp;
    const char *err = parse_mpop(ctx->argc, ctx->argv, &mp);

    if (err) {
        reply_error(&ctx->r, err);
        return;
    }
    for (int i = 2; i < 2 + mp.numkeys; i++) {
        struct kentry *e;

        if (!lookup_write(ctx, i, &e)) {
            return;
        }
        if (e) {
            /* the key popped from is changed, not the others it names */
            route_touch(ctx->shard, ctx->dbid, ctx->argv[i]);
            ctx->touched_own = true;
            reply_array(&ctx->r, 2);
            reply_bulk(&ctx->r, ctx->argv[i].ptr, ctx->argv[i].len);
            pop_reply_array(ctx, i, e, mp.end, mp.count);
            return;
        }
    }
    ctx->unchanged = true;
    reply_null_array(&ctx->r);
}

/* ---- reads ---- */

static void cmd_llen(struct cmd_ctx *ctx)
{
    struct kentry *e;

    if (lookup_read(ctx, 1, &e)) {
        reply_int(&ctx->r, e ? (long long)tlist_len(&e->val) : 0);
    }
}

/* Clamps LRANGE/LTRIM's inclusive start..end (negative from the tail) to
 * the list; false when the range is empty. */
static bool clamp_range(long long len, long long *start, long long *end)
{
    if (*start < 0) {
        *start += len;
    }
    if (*end < 0) {
        *end += len;
    }
    if (*start < 0) {
        *start = 0;
    }
    if (*start > *end || *start >= len) {
        return false;
    }
    if (*end >= len) {
        *end = len - 1;
    }
    return true;
}

static void cmd_lrange(struct cmd_ctx *ctx)
{
    long long start, end;
    struct tlist_iter it;
    struct sh_slice s;
    struct kentry *e;

    if (!arg_ll(ctx, 2, &start) || !arg_ll(ctx, 3, &end) || !lookup_read(ctx, 1, &e)) {
        return;
    }
    if (!e || !clamp_range((long long)tlist_len(&e->val), &start, &end)) {
        reply_array(&ctx->r, 0);
        return;
    }
    reply_array(&ctx->r, end - start + 1);
    tlist_iter_init(&it, &e->val, (size_t)start, false);
    for (long long i = start; i <= end && tlist_iter_next(&it, &s); i++) {
        reply_bulk(&ctx->r, s.ptr, s.len);
    }
}

static void cmd_lindex(struct cmd_ctx *ctx)
{
    char buf[TLIST_BUF];
    struct sh_slice s;
    struct kentry *e;
    long long index;

    if (!lookup_read(ctx, 1, &e)) {
        return;
    }
    if (!e) {
        reply_null(&ctx->r);
    } else if (arg_ll(ctx, 2, &index)) {
        if (tlist_index(&e->val, index, buf, &s)) {
            reply_bulk(&ctx->r, s.ptr, s.len);
        } else {
            reply_null(&ctx->r);
        }
    }
}

/* LPOS's options; count -1 means "not given" (a single index reply). */
struct lpos_opts {
    long long rank; /* >= 1: which match is the first reported */
    long long count;
    long long maxlen;
    bool backward;  /* a negative RANK: walk from the tail */
    bool unlimited; /* RANK LLONG_MIN: Redis 7.0's overflow ignores COUNT */
};

/* One LPOS option at argv[j] (with its value at j+1). */
static bool lpos_option(struct cmd_ctx *ctx, int j, struct lpos_opts *o)
{
    struct sh_slice v = ctx->argv[j + 1];

    if (sh_slice_eq_nocase(ctx->argv[j], "rank")) {
        if (!arg_ll(ctx, j + 1, &o->rank)) {
            return false;
        }
        if (o->rank == 0) {
            reply_error(&ctx->r, RANK_ZERO);
            return false;
        }
    } else if (sh_slice_eq_nocase(ctx->argv[j], "count")) {
        if (!util_str2ll(v.ptr, v.len, &o->count) || o->count < 0) {
            reply_error(&ctx->r, "ERR COUNT can't be negative");
            return false;
        }
    } else if (sh_slice_eq_nocase(ctx->argv[j], "maxlen")) {
        if (!util_str2ll(v.ptr, v.len, &o->maxlen) || o->maxlen < 0) {
            reply_error(&ctx->r, "ERR MAXLEN can't be negative");
            return false;
        }
    } else {
        reply_err_syntax(&ctx->r);
        return false;
    }
    return true;
}

/* Parses LPOS's options from argv[3]; false after replying the error. */
static bool lpos_parse(struct cmd_ctx *ctx, struct lpos_opts *o)
{
    *o = (struct lpos_opts){ .rank = 1, .count = -1, .maxlen = 0 };
    for (int j = 3; j < ctx->argc; j += 2) {
        if (j + 1 >= ctx->argc) {
            reply_err_syntax(&ctx->r);
            return false;
        }
        if (!lpos_option(ctx, j, o)) {
            return false;
        }
    }
    o->backward = o->rank < 0;
    if (o->rank == LLONG_MIN) {
        /* Redis 7.0 negates it and gets LLONG_MIN again: every match from
         * the tail counts, and the COUNT test overflows so it never stops */
        o->rank = 1;
        o->unlimited = true;
    } else if (o->rank < 0) {
        o->rank = -o->rank;
    }
    if (o->count == 0 || (o->count > 0 && o->unlimited)) {
        o->count = LLONG_MAX;
    }
    return true;
}

/* Walks the list for LPOS: returns the index of the rank-th match when
 * COUNT was not given (-1: none); else replies each index from the rank-th
 * match on, up to COUNT of them, counted in *reported, and returns -1. */
static long long lpos_scan(struct cmd_ctx *ctx, const struct kval *v, const struct lpos_opts *o,
                           long long *reported)
{
    long long len = (long long)tlist_len(v), matches = 0, index = 0;
    const struct sh_slice *ele = &ctx->argv[2];
    struct tlist_iter it;
    struct sh_slice s;

    tlist_iter_init(&it, v, o->backward ? (size_t)len - 1 : 0, o->backward);
    for (; (o->maxlen == 0 || index < o->maxlen) && tlist_iter_next(&it, &s); index++) {
        long long pos = o->backward ? len - index - 1 : index;

        if (s.len != ele->len || memcmp(s.ptr, ele->ptr, s.len) != 0 || ++matches < o->rank) {
            continue;
        }
        if (o->count == -1) {
            return pos;
        }
        reply_int(&ctx->r, pos);
        if (++*reported == o->count) {
            break;
        }
    }
    return -1;
}

/* LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len] */
static void cmd_lpos(struct cmd_ctx *ctx)
{
    struct lpos_opts o;
    long long reported = 0, pos;
    struct kentry *e;
    size_t at;

    if (!lpos_parse(ctx, &o) || !lookup_read(ctx, 1, &e)) {
        return;
    }
    if (!e) {
        o.count == -1 ? reply_null(&ctx->r) : reply_array(&ctx->r, 0);
        return;
    }
    if (o.count == -1) {
        pos = lpos_scan(ctx, &e->val, &o, &reported);
        pos >= 0 ? reply_int(&ctx->r, pos) : reply_null(&ctx->r);
        return;
    }
    at = reply_array_begin(&ctx->r);
    (void)lpos_scan(ctx, &e->val, &o, &reported);
    reply_array_end(&ctx->r, at, reported);
}

/* ---- writes in place ---- */

static void cmd_lset(struct cmd_ctx *ctx)
{
    struct kentry *e;
    long long index;

    if (!lookup_write(ctx, 1, &e)) {
        return;
    }
    if (!e) {
        reply_error(&ctx->r, "ERR no such key");
        return;
    }
    if (!arg_ll(ctx, 2, &index)) {
        return;
    }
    if (!tlist_set(&e->val, index, ctx->argv[3].ptr, ctx->argv[3].len, limits(ctx))) {
        reply_error(&ctx->r, "ERR index out of range");
        return;
    }
    notify_key(ctx, 1, NOTIFY_LIST, "lset");
    reply_ok(&ctx->r);
}

/* LINSERT key BEFORE|AFTER pivot element: the new length, -1 when the
 * pivot is not there, 0 when the key is missing. */
static void cmd_linsert(struct cmd_ctx *ctx)
{
    const struct sh_slice *pivot = &ctx->argv[3], *elem = &ctx->argv[4];
    enum lpack_where where;
    struct kentry *e;

    if (sh_slice_eq_nocase(ctx->argv[2], "after")) {
        where = LPACK_AFTER;
    } else if (sh_slice_eq_nocase(ctx->argv[2], "before")) {
        where = LPACK_BEFORE;
    } else {
        reply_err_syntax(&ctx->r);
        return;
    }
    if (!lookup_write(ctx, 1, &e)) {
        return;
    }
    if (!e) {
        reply_int(&ctx->r, 0);
        ctx->unchanged = true;
        return;
    }
    if (!tlist_insert(&e->val, where, pivot->ptr, pivot->len, elem->ptr, elem->len, limits(ctx))) {
        reply_int(&ctx->r, -1);
        ctx->unchanged = true;
        return;
    }
    notify_key(ctx, 1, NOTIFY_LIST, "linsert");
    reply_int(&ctx->r, (long long)tlist_len(&e->val));
}

/* LREM key count element */
static void cmd_lrem(struct cmd_ctx *ctx)
{
    long long count;
    struct kentry *e;
    size_t removed;

    if (!arg_ll(ctx, 2, &count) || !lookup_write(ctx, 1, &e)) {
        return;
    }
    if (!e) {
        reply_int(&ctx->r, 0);
        ctx->unchanged = true;
        return;
    }
    removed = tlist_remove(&e->val, count, ctx->argv[3].ptr, ctx->argv[3].len, limits(ctx));
    if (removed) {
        notify_key(ctx, 1, NOTIFY_LIST, "lrem");
        drop_if_empty(ctx, 1, e);
    }
    ctx->unchanged = removed == 0;
    reply_int(&ctx->r, (long long)removed);
}

/* LTRIM key start stop */
static void cmd_ltrim(struct cmd_ctx *ctx)
{
    long long start, end, len;
    struct kentry *e;

    if (!arg_ll(ctx, 2, &start) || !arg_ll(ctx, 3, &end) || !lookup_write(ctx, 1, &e)) {
        return;
    }
    if (e) {
        len = (long long)tlist_len(&e->val);
        if (clamp_range(len, &start, &end)) {
            tlist_trim(&e->val, (size_t)start, (size_t)(len - end - 1), limits(ctx));
        } else {
            tlist_trim(&e->val, (size_t)len, 0, limits(ctx));
        }
        notify_key(ctx, 1, NOTIFY_LIST, "ltrim");
        drop_if_empty(ctx, 1, e);
    }
    reply_ok(&ctx->r);
}

/* ---- LMOVE RPOPLPUSH on one shard ---- */

struct move_to {
    struct kval *dst;
    enum tlist_end end;
    const struct kval_limits *lim;
    struct reply *r;
};

/* Pushes the popped element onto the destination and replies it. */
static void move_elem(void *arg, struct sh_slice s)
{
    struct move_to *m = arg;

    reply_bulk(m->r, s.ptr, s.len);
    tlist_push(m->dst, m->end, s.ptr, s.len, m->lim);
}

/* A list rotated onto itself: the element is copied out first, since
 * popping frees it and pushing must not read from the list. False after
 * replying OOM (nothing changed). */
static bool rotate(struct cmd_ctx *ctx, struct kval *v, enum tlist_end from, enum tlist_end to)
{
    char buf[TLIST_BUF], stack[STACK_ELEM];
    struct sh_slice s;
    char *copy = stack;

    (void)tlist_index(v, from == TLIST_HEAD ? 0 : -1, buf, &s);
    if (s.len > sizeof(stack)) {
        copy = sh_try_malloc(s.len);
        if (!copy) {
            reply_error(&ctx->r, OOM_MSG);
            return false;
        }
    }
    memcpy(copy, s.ptr, s.len);
    (void)tlist_pop(v, from, 1, NULL, NULL, limits(ctx));
    tlist_push(v, to, copy, s.len, limits(ctx));
    reply_bulk(&ctx->r, copy, s.len);
    if (copy != stack) {
        sh_free(copy);
    }
    return true;
}

/* Redis's lmoveGenericCommand over keys argv[1] (source) and argv[2]. */
static void lmove_generic(struct cmd_ctx *ctx, enum tlist_end from, enum tlist_end to)
{
    struct kentry *src, *dst;
    struct move_to m;

    if (!lookup_write(ctx, 1, &src)) {
        return;
    }
    if (!src) {
        reply_null(&ctx->r);
        ctx->unchanged = true;
        return;
    }
    if (!lookup_write(ctx, 2, &dst)) {
        return;
    }
    if (dst == src) {
        if (!rotate(ctx, &src->val, from, to)) {
            return;
        }
    } else {
        if (!dst) {
            dst = kdb_add(ctx->db, ctx->argv[2].ptr, ctx->argv[2].len, cmd_key_hash(ctx, 2));
        }
        m = (struct move_to){ &dst->val, to, limits(ctx), &ctx->r };
        (void)tlist_pop(&src->val, from, 1, move_elem, &m, limits(ctx));
    }
    pushed(ctx, 2, to);
    popped(ctx, 1, src, from);
}

/* The ends of LMOVE (argv[3], argv[4]) or RPOPLPUSH (argc 3: RIGHT LEFT);
 * false when one is not LEFT or RIGHT. */
static bool parse_move(int argc, const struct sh_slice *argv, enum tlist_end *from,
                       enum tlist_end *to)
{
    if (argc == 3) {
        *from = TLIST_TAIL; /* RPOPLPUSH */
        *to = TLIST_HEAD;
        return true;
    }
    return parse_end(argv[3], from) && parse_end(argv[4], to);
}

/* LMOVE source destination LEFT|RIGHT LEFT|RIGHT, and RPOPLPUSH source
 * destination (RIGHT LEFT). */
static void cmd_lmove(struct cmd_ctx *ctx)
{
    enum tlist_end from, to;

    if (!parse_move(ctx->argc, ctx->argv, &from, &to)) {
        reply_err_syntax(&ctx->r);
        return;
    }
    lmove_generic(ctx, from, to);
}

/* ---- the internal commands of the gathers ---- */

/* __lcheck key -> :1 a list, :0 missing, WRONGTYPE */
static void cmd_lcheck(struct cmd_ctx *ctx)
{
    struct kentry *e;

    if (lookup_write(ctx, 1, &e)) {
        reply_int(&ctx->r, e != NULL);
    }
}

/* __lpush key LEFT|RIGHT element -> the element pushed (a list or a missing
 * key; "lpush"/"rpush" published), or [element] when the key holds another
 * type, so that the caller can give it back. */
static void cmd_lpush_internal(struct cmd_ctx *ctx)
{
    const struct sh_slice *elem = &ctx->argv[3];
    enum tlist_end end;
    struct kentry *e = cmd_lookup(ctx, 1);

    if (!parse_end(ctx->argv[2], &end)) {
        reply_err_syntax(&ctx->r);
        return;
    }
    if (e && !is_list(e)) {
        reply_array(&ctx->r, 1);
        reply_bulk(&ctx->r, elem->ptr, elem->len);
        return;
    }
    (void)push_elements(ctx, 1, e, end, 3);
    route_touch(ctx->shard, ctx->dbid, ctx->argv[1]); /* internal: no command path */
    reply_bulk(&ctx->r, elem->ptr, elem->len);
}

static const struct cmd_spec check_spec = {
    .name = "__lcheck",
    .fullname = "__lcheck",
    .arity = 2,
    .proc = cmd_lcheck,
};

static const struct cmd_spec push_spec = {
    .name = "__lpush",
    .fullname = "__lpush",
    .arity = 4,
    .proc = cmd_lpush_internal,
};

/* ---- gathers: LMOVE RPOPLPUSH LMPOP across shards (client's core) ---- */

/* The one part of this stage (every stage sends at most one per shard, and
 * these gathers one per stage except LMOVE's stage 0). */
static struct sh_slice only_part(const struct coord *c)
{
    for (int s = 0; s < c->nshards; s++) {
        struct sh_slice p = coord_part(c, s);

        if (p.len) {
            return p;
        }
    }
    return (struct sh_slice){ NULL, 0 };
}

static bool is_error(struct sh_slice p)
{
    return p.len && p.ptr[0] == '-';
}

static bool is_nil(struct sh_slice p)
{
    return p.len == 5 && (memcmp(p.ptr, "$-1\r\n", 5) == 0 || memcmp(p.ptr, "*-1\r\n", 5) == 0);
}

/* The bulk string at p.ptr[pos..] ("$n\r\n<n bytes>\r\n"); false when p holds
 * no whole one there. */
static bool part_bulk(struct sh_slice p, size_t pos, struct sh_slice *out)
{
    const char *lf;
    long long n;

    if (pos >= p.len || p.ptr[pos] != '$') {
        return false;
    }
    lf = memchr(p.ptr + pos, '\n', p.len - pos);
    if (!lf || lf - (p.ptr + pos) < 3 ||
        !util_str2ll(p.ptr + pos + 1, (size_t)(lf - (p.ptr + pos)) - 2, &n) || n < 0) {
        return false;
    }
    pos = (size_t)(lf - p.ptr) + 1;
    if ((size_t)n > p.len - pos) {
        return false;
    }
    *out = (struct sh_slice){ p.ptr + pos, (size_t)n };
    return true;
}

/*
 * LMPOP across shards tries the keys in argument order, one owner at a
 * time: each stage sends LMPOP over the next run of consecutive keys that
 * share an owner (LMPOP's own handler, so a WRONGTYPE key before the first
 * non-empty list still wins), until a part pops something or the keys run
 * out. acc is the argv index of the next key to try. Atomic per stage only:
 * a list filled on an earlier owner after its stage is not seen.
 */
static void mpop_send_run(struct coord *c, const struct mpop_args *mp)
{
    int first = (int)c->acc, last = 2 + mp->numkeys, o = coord_key_owner(c, c->argv[first]),
        j = first + 1, k = 0;
    struct sh_slice *sub = sh_malloc(sizeof(*sub) * (size_t)(c->argc + 4));
    char num[24], cnt[24];

    while (j < last && coord_key_owner(c, c->argv[j]) == o) {
        j++;
    }
    sub[k++] = c->argv[0];
    sub[k++] = (struct sh_slice){ num, util_ll2str(num, j - first) };
    for (int i = first; i < j; i++) {
        sub[k++] = c->argv[i];
    }
    sub[k++] = c->argv[last];
    sub[k++] = (struct sh_slice){ "COUNT", 5 };
    sub[k++] = (struct sh_slice){ cnt, util_ll2str(cnt, mp->count) };
    coord_send(c, o, c->cmd, c->dbid, k, sub);
    c->acc = j;
    sh_free(sub);
}

static void mpop_start(struct coord *c)
{
    struct mpop_args mp;

    if (!parse_mpop(c->argc, c->argv, &mp)) {
        c->acc = 2;
        mpop_send_run(c, &mp);
    }
}

static bool mpop_done(struct coord *c, struct reply *r)
{
    struct mpop_args mp;
    const char *err = parse_mpop(c->argc, c->argv, &mp);
    struct sh_slice p = only_part(c);

    if (err) {
        reply_error(r, err);
        return true;
    }
    if (!is_nil(p)) {
        /* an error, or [key, [elements]]: the same bytes in RESP3 */
        reply_raw(r, p.ptr, p.len);
        return true;
    }
    if (c->acc < 2 + mp.numkeys) {
        mpop_send_run(c, &mp);
        return false;
    }
    reply_null_array(r);
    return true;
}

/*
 * LMOVE / RPOPLPUSH with source and destination on different owners, in
 * stages (atomic per shard only):
 *
 *   stage 0  __lcheck src, __lcheck dst   both owners at once: src missing
 *            -> nil; WRONGTYPE of src, then of dst -> the error, before
 *            anything is popped (Redis's order)
 *   stage 1  LPOP|RPOP src                at src's owner ("lpop"/"rpop",
 *            "del"); nil when another client emptied it meanwhile
 *   stage 2  __lpush dst end element      at dst's owner ("lpush"/"rpush"):
 *            the element comes back as the reply
 *   stage 3  only when dst changed type between stages 0 and 2: __lpush
 *            src from element gives the element back to src's end it
 *            came from, and the reply is WRONGTYPE
 *
 * The events are published by each key's owner: the source's pop comes
 * before the destination's push here, where Redis publishes the push first.
 */
static void move_start(struct coord *c)
{
    enum tlist_end from, to;
    struct sh_slice argv[2] = { { "__lcheck", 8 }, c->argv[1] };

    if (!parse_move(c->argc, c->argv, &from, &to)) {
        return;
    }
    coord_send(c, coord_key_owner(c, c->argv[1]), &check_spec, c->dbid, 2, argv);
    argv[1] = c->argv[2];
    coord_send(c, coord_key_owner(c, c->argv[2]), &check_spec, c->dbid, 2, argv);
}

/* Sends __lpush key end element to key argv[i]'s owner. */
static void move_push(struct coord *c, int i, enum tlist_end end, struct sh_slice elem)
{
    struct sh_slice argv[4] = { { "__lpush", 7 }, c->argv[i] };

    argv[2] = end == TLIST_HEAD ? (struct sh_slice){ "LEFT", 4 } : (struct sh_slice){ "RIGHT", 5 };
    argv[3] = elem;
    coord_send(c, coord_key_owner(c, c->argv[i]), &push_spec, c->dbid, 4, argv);
}

/* Stage 0 is back: reply, or pop from the source. */
static bool move_checked(struct coord *c, enum tlist_end from, struct reply *r)
{
    struct sh_slice src = coord_part(c, coord_key_owner(c, c->argv[1])),
                    dst = coord_part(c, coord_key_owner(c, c->argv[2]));
    const char *name = from == TLIST_HEAD ? "lpop" : "rpop";
    const struct cmd_spec *pop = cmdtab_lookup(name, 4);
    struct sh_slice argv[2] = { { name, 4 }, c->argv[1] };

    if (is_error(src)) {
        reply_raw(r, src.ptr, src.len);
        return true;
    }
    if (src.len != 4 || memcmp(src.ptr, ":1\r\n", 4) != 0) {
        reply_null(r);
        return true;
    }
    if (is_error(dst)) {
        reply_raw(r, dst.ptr, dst.len);
        return true;
    }
    if (!pop) {
        reply_error(r, "ERR internal error: no LPOP/RPOP");
        return true;
    }
    coord_send(c, coord_key_owner(c, c->argv[1]), pop, c->dbid, 2, argv);
    return false;
}

/* Stage 1 is back: push the popped element, or reply. */
static bool move_popped(struct coord *c, enum tlist_end to, struct reply *r)
{
    struct sh_slice p = only_part(c), elem;

    if (is_error(p)) {
        reply_raw(r, p.ptr, p.len);
        return true;
    }
    if (!part_bulk(p, 0, &elem)) {
        reply_null(r);
        return true;
    }
    move_push(c, 2, to, elem);
    return false;
}

/* Stage 2 is back: reply the element, or give it back to the source. */
static bool move_pushed(struct coord *c, enum tlist_end from, struct reply *r)
{
    struct sh_slice p = only_part(c), elem;
    const char *lf = p.len ? memchr(p.ptr, '\n', p.len) : NULL;

    if (p.len && p.ptr[0] != '*') {
        reply_raw(r, p.ptr, p.len); /* the element (a bulk in RESP3 too), or an error */
        return true;
    }
    if (!lf || !part_bulk(p, (size_t)(lf - p.ptr) + 1, &elem)) {
        reply_error(r, "ERR internal error: bad __lpush reply");
        return true;
    }
    move_push(c, 1, from, elem);
    return false;
}

static bool move_done(struct coord *c, struct reply *r)
{
    enum tlist_end from, to;

    if (!parse_move(c->argc, c->argv, &from, &to)) {
        reply_error(r, SYNTAX);
        return true;
    }
    switch (c->stage) {
    case 0:
        return move_checked(c, from, r);
    case 1:
        return move_popped(c, to, r);
    case 2:
        return move_pushed(c, from, r);
    default:
        reply_err_wrongtype(r);
        return true;
    }
}

static const struct gather gather_move = { .start = move_start,
                                           .done = move_done,
                                           .barrier = true };
static const struct gather gather_mpop = { .start = mpop_start,
                                           .done = mpop_done,
                                           .barrier = true };

void cmd_list_bind(void)
{
    static const struct {
        const char *name;
        cmd_fn *proc;
    } key_cmds[] = {
        { "lpush", cmd_lpush },   { "rpush", cmd_rpush },     { "lpushx", cmd_lpushx },
        { "rpushx", cmd_rpushx }, { "lpop", cmd_lpop },       { "rpop", cmd_rpop },
        { "llen", cmd_llen },     { "lrange", cmd_lrange },   { "lindex", cmd_lindex },
        { "lset", cmd_lset },     { "linsert", cmd_linsert }, { "lrem", cmd_lrem },
        { "ltrim", cmd_ltrim },   { "lpos", cmd_lpos },
    };

    for (size_t i = 0; i < SH_ARRAY_LEN(key_cmds); i++) {
        cmd_must_bind(key_cmds[i].name, key_cmds[i].proc, CMD_ROUTE_KEY, NULL);
    }
    cmd_must_bind("lmove", cmd_lmove, CMD_ROUTE_MULTI, &gather_move);
    cmd_must_bind("rpoplpush", cmd_lmove, CMD_ROUTE_MULTI, &gather_move);
    cmd_must_bind("lmpop", cmd_lmpop, CMD_ROUTE_MULTI, &gather_mpop);
}
