/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_stream.c: the stream commands on one key (XADD XRANGE XREVRANGE XLEN
 * XDEL XTRIM XSETID XINFO) with Redis 7.0's semantics, replies and error
 * wording (t_stream.c), and the helpers the other stream files share
 * (cmd_stream_internal.h). The value is a struct tstream (tstream.h).
 *
 * Argument checks that Redis makes before the key lookup come first here
 * too, so the error a client sees is Redis's. Reads count keyspace hits and
 * misses, writes do not. Keyspace events (class t): "xadd", "xtrim" (XADD
 * with a trim that removed entries, XTRIM), "xdel", "xsetid"; the group
 * events live in cmd_stream_group.c.
 *
 * XINFO STREAM's radix-tree-nodes counts the nodes of a radix tree over the
 * node keys as Redis would build it only approximately (keys + 1): shardis
 * indexes nodes in a sorted map, not a rax.
 *
 * Threading: every handler runs on the key's owner core.
 */
#include "cmd_stream_internal.h"
#include "shardis/block.h"
#include "shardis/cmd_bind.h"
#include "shardis/cmdtab.h"
#include "shardis/config.h"
#include "shardis/kdb.h"
#include "shardis/kval.h"
#include "shardis/pubsub.h"
#include "shardis/reply.h"
#include "shardis/shard.h"
#include "shardis/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ERR_EXHAUSTED "ERR The stream has exhausted the last possible ID, unable to add more items"
#define ERR_SMALLER                                                                                \
    "ERR The ID specified in XADD is equal or smaller than the target stream top item"
#define ERR_TOO_LARGE      "ERR Elements are too large to be stored"
#define TRIM_DEFAULT_LIMIT 10000
#define TRIM_MAX_LIMIT     1000000

/* ---- shared helpers ---- */

/* Redis's string2ull: a long long >= 0, else what strtoull reads whole. */
static bool str2ull(const char *s, unsigned long long *out)
{
    long long ll;
    char *end = NULL;

    if (util_str2ll(s, strlen(s), &ll)) {
        if (ll < 0) {
            return false;
        }
        *out = (unsigned long long)ll;
        return true;
    }
    errno = 0;
    *out = strtoull(s, &end, 10);
    return !(errno == EINVAL || errno == ERANGE || !(*s != '\0' && *end == '\0'));
}

bool cmd_stream_parse_id(struct sh_slice s, struct tstream_id *id, uint64_t missing_seq,
                         bool strict, bool *seq_given)
{
    char buf[128], *dash;
    unsigned long long ms, seq;

    if (s.len > sizeof(buf) - 1) {
        return false;
    }
    memcpy(buf, s.ptr, s.len);
    buf[s.len] = '\0';
    if (strict && (buf[0] == '-' || buf[0] == '+') && buf[1] == '\0') {
        return false;
    }
    if (seq_given) {
        *seq_given = true;
    }
    if (buf[0] == '-' && buf[1] == '\0') {
        *id = (struct tstream_id){ 0, 0 };
        return true;
    }
    if (buf[0] == '+' && buf[1] == '\0') {
        *id = (struct tstream_id){ UINT64_MAX, UINT64_MAX };
        return true;
    }
    dash = strchr(buf, '-');
    if (dash) {
        *dash = '\0';
    }
    if (!str2ull(buf, &ms)) {
        return false;
    }
    if (!dash) {
        seq = missing_seq;
    } else if (seq_given && dash[1] == '*' && dash[2] == '\0') {
        seq = 0;
        *seq_given = false;
    } else if (!str2ull(dash + 1, &seq)) {
        return false;
    }
    id->ms = ms;
    id->seq = seq;
    return true;
}

bool cmd_stream_lookup(struct cmd_ctx *ctx, int i, bool read, struct kentry **e)
{
    *e = cmd_lookup(ctx, i);
    if (read) {
        cmd_count_lookup(ctx, *e != NULL);
    }
    if (*e && (*e)->val.type != KVAL_STREAM) {
        reply_err_wrongtype(&ctx->r);
        return false;
    }
    return true;
}

void cmd_stream_notify(struct cmd_ctx *ctx, int i, const char *event)
{
    pubsub_notify(ctx->shard, NOTIFY_STREAM, event, ctx->argv[i].ptr, ctx->argv[i].len, ctx->dbid);
}

void cmd_stream_reply_id(struct reply *r, const struct tstream_id *id)
{
    char buf[TSTREAM_ID_BUF];

    reply_bulk(r, buf, tstream_id_fmt(buf, id));
}

long long cmd_stream_reply_entries(struct reply *r, const struct tstream *s,
                                   const struct tstream_id *start, const struct tstream_id *end,
                                   long long count, bool rev)
{
    struct tstream_iter it;
    struct tstream_id id;
    long long nf, n = 0;

    tstream_iter_start(&it, s, start, end, rev);
    while ((!count || n < count) && tstream_iter_next(&it, &id, &nf)) {
        reply_array(r, 2);
        cmd_stream_reply_id(r, &id);
        reply_array(r, nf * 2);
        for (long long i = 0; i < nf; i++) {
            struct sh_slice f, v;

            tstream_iter_field(&it, &f, &v);
            reply_bulk(r, f.ptr, f.len);
            reply_bulk(r, v.ptr, v.len);
        }
        n++;
    }
    return n;
}

void cmd_stream_reply_lag(struct reply *r, const struct tstream *s, const struct tstream_group *g)
{
    long long read;

    if (!s->entries_added) {
        reply_int(r, 0);
        return;
    }
    if (g->entries_read != TSTREAM_ENTRIES_UNKNOWN &&
        !tstream_range_has_tombstones(s, &g->last_id, NULL)) {
        reply_int(r, (long long)s->entries_added - g->entries_read);
        return;
    }
    read = tstream_estimate_distance(s, &g->last_id);
    if (read != TSTREAM_ENTRIES_UNKNOWN) {
        reply_int(r, (long long)s->entries_added - read);
    } else {
        reply_null(r);
    }
}

void cmd_stream_reply_nogroup(struct cmd_ctx *ctx, int key, int group, const char *suffix)
{
    reply_errorf(&ctx->r, "NOGROUP No such key '%.*s' or consumer group '%.*s'%s",
                 (int)ctx->argv[key].len, ctx->argv[key].ptr, (int)ctx->argv[group].len,
                 ctx->argv[group].ptr, suffix);
}

struct tstream_consumer *cmd_stream_consumer(struct cmd_ctx *ctx, struct tstream_group *g, int i,
                                             int key)
{
    int64_t now = ctx->shard->now_ms;
    struct tstream_consumer *c = tstream_consumer_find(g, ctx->argv[i].ptr, ctx->argv[i].len);

    if (c) {
        c->seen_time = now;
        return c;
    }
    c = tstream_consumer_create(g, ctx->argv[i].ptr, ctx->argv[i].len, now);
    cmd_stream_notify(ctx, key, "xgroup-createconsumer");
    return c;
}

static struct tstream_limits limits_of(const struct cmd_ctx *ctx)
{
    return (struct tstream_limits){ ctx->shard->cfg.stream_node_max_bytes,
                                    ctx->shard->cfg.stream_node_max_entries };
}

/* ---- XADD / XTRIM options ---- */

struct add_args {
    struct tstream_id id, minid;
    long long maxlen, limit;
    int trim; /* 0 or enum tstream_trim_kind */
    bool approx, id_given, seq_given, nomkstream;
};

static bool parse_ll(struct cmd_ctx *ctx, struct sh_slice s, long long *v)
{
    if (!util_str2ll(s.ptr, s.len, v)) {
        reply_err_notint(&ctx->r);
        return false;
    }
    return true;
}

/* MAXLEN/MINID [=|~] arg at argv[*i]; moves *i to the argument. */
static bool parse_trim_opt(struct cmd_ctx *ctx, struct add_args *a, int *i, bool maxlen)
{
    int more = ctx->argc - 1 - *i;
    struct sh_slice next = ctx->argv[*i + 1];

    if (a->trim) {
        reply_error(&ctx->r, "ERR syntax error, MAXLEN and MINID options at the same time are "
                             "not compatible");
        return false;
    }
    a->approx = false;
    if (more >= 2 && next.len == 1 && (next.ptr[0] == '~' || next.ptr[0] == '=')) {
        a->approx = next.ptr[0] == '~';
        (*i)++;
    }
    (*i)++;
    if (maxlen) {
        if (!parse_ll(ctx, ctx->argv[*i], &a->maxlen)) {
            return false;
        }
        if (a->maxlen < 0) {
            reply_error(&ctx->r, "ERR The MAXLEN argument must be >= 0.");
            return false;
        }
        a->trim = TSTREAM_TRIM_MAXLEN;
    } else {
        if (!cmd_stream_parse_id(ctx->argv[*i], &a->minid, 0, true, NULL)) {
            reply_error(&ctx->r, CMD_STREAM_ERR_ID);
            return false;
        }
        a->trim = TSTREAM_TRIM_MINID;
    }
    return true;
}

/* Checks the LIMIT rules and sets the default limit. */
static bool finish_trim_args(struct cmd_ctx *ctx, struct add_args *a, bool limit_given, bool xadd)
{
    if (a->limit && !a->trim) {
        reply_error(
                &ctx->r,
                "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy");
        return false;
    }
    if (!xadd && !a->trim) {
        reply_error(&ctx->r, "ERR syntax error, XTRIM must be called with a trimming strategy");
        return false;
    }
    if (limit_given) {
        if (!a->approx) {
            reply_error(&ctx->r,
                        "ERR syntax error, LIMIT cannot be used without the special ~ option");
            return false;
        }
    } else if (a->approx) {
        long long per = ctx->shard->cfg.stream_node_max_entries;

        a->limit = per > TRIM_MAX_LIMIT / 100 ? TRIM_MAX_LIMIT : 100 * per;
        if (a->limit <= 0) {
            a->limit = TRIM_DEFAULT_LIMIT;
        }
    } else {
        a->limit = 0;
    }
    return true;
}

/* Redis's streamParseAddOrTrimArgsOrReply: returns the ID's index (XADD)
 * or argc, or -1 after replying an error. */
static int parse_add_args(struct cmd_ctx *ctx, struct add_args *a, bool xadd)
{
    bool limit_given = false;
    int i;

    memset(a, 0, sizeof(*a));
    a->maxlen = -1;
    for (i = 2; i < ctx->argc; i++) {
        int more = ctx->argc - 1 - i;
        struct sh_slice o = ctx->argv[i];

        if (xadd && o.len == 1 && o.ptr[0] == '*') {
            break;
        } else if (sh_slice_eq_nocase(o, "maxlen") && more) {
            if (!parse_trim_opt(ctx, a, &i, true)) {
                return -1;
            }
        } else if (sh_slice_eq_nocase(o, "minid") && more) {
            if (!parse_trim_opt(ctx, a, &i, false)) {
                return -1;
            }
        } else if (sh_slice_eq_nocase(o, "limit") && more) {
            if (!parse_ll(ctx, ctx->argv[i + 1], &a->limit)) {
                return -1;
            }
            if (a->limit < 0) {
                reply_error(&ctx->r, "ERR The LIMIT argument must be >= 0.");
                return -1;
            }
            limit_given = true;
            i++;
        } else if (xadd && sh_slice_eq_nocase(o, "nomkstream")) {
            a->nomkstream = true;
        } else if (xadd) {
            if (!cmd_stream_parse_id(o, &a->id, 0, true, &a->seq_given)) {
                reply_error(&ctx->r, CMD_STREAM_ERR_ID);
                return -1;
            }
            a->id_given = true;
            break;
        } else {
            reply_err_syntax(&ctx->r);
            return -1;
        }
    }
    if (!finish_trim_args(ctx, a, limit_given, xadd)) {
        return -1;
    }
    return i;
}

static long long do_trim(struct tstream *s, const struct add_args *a)
{
    return tstream_trim(s, (enum tstream_trim_kind)a->trim, a->maxlen, &a->minid, a->approx,
                        a->limit);
}

/* ---- XADD ---- */

/* The ID the entry gets, or false after replying the error. */
static bool next_id(struct cmd_ctx *ctx, const struct tstream *s, const struct add_args *a,
                    struct tstream_id *id)
{
    uint64_t ms = (uint64_t)ctx->shard->now_ms;

    if (!a->id_given) {
        if (ms > s->last_id.ms) {
            *id = (struct tstream_id){ ms, 0 };
        } else {
            *id = s->last_id;
            (void)tstream_id_incr(id);
        }
    } else if (!a->seq_given && s->last_id.ms == a->id.ms) {
        if (s->last_id.seq == UINT64_MAX) {
            reply_error(&ctx->r, ERR_SMALLER);
            return false;
        }
        *id = s->last_id;
        id->seq++;
    } else {
        *id = a->id;
    }
    if (tstream_id_cmp(id, &s->last_id) <= 0) {
        reply_error(&ctx->r, ERR_SMALLER);
        return false;
    }
    return true;
}

static void cmd_xadd(struct cmd_ctx *ctx)
{
    struct tstream_limits lim = limits_of(ctx);
    struct add_args a;
    struct kentry *e;
    struct tstream *s;
    struct tstream_id id;
    size_t total = 0;
    int idpos = parse_add_args(ctx, &a, true), first;

    if (idpos < 0) {
        return;
    }
    first = idpos + 1;
    if (ctx->argc - first < 2 || (ctx->argc - first) % 2 == 1) {
        reply_err_arity(&ctx->r, ctx->cmd->fullname);
        return;
    }
    if (a.id_given && a.seq_given && a.id.ms == 0 && a.id.seq == 0) {
        reply_error(&ctx->r, "ERR The ID specified in XADD must be greater than 0-0");
        return;
    }
    if (!cmd_stream_lookup(ctx, 1, false, &e)) {
        return;
    }
    if (!e && a.nomkstream) {
        reply_null(&ctx->r);
        return;
    }
    for (int i = first; i < ctx->argc; i++) {
        total += ctx->argv[i].len;
    }
    if (e) {
        s = tstream_of(&e->val);
        if (s->last_id.ms == UINT64_MAX && s->last_id.seq == UINT64_MAX) {
            reply_error(&ctx->r, ERR_EXHAUSTED);
            return;
        }
    } else {
        static const struct tstream empty;

        s = (struct tstream *)&empty;
    }
    if (!next_id(ctx, s, &a, &id)) {
        return;
    }
    if (total > TSTREAM_LP_MAX_SIZE) {
        reply_error(&ctx->r, ERR_TOO_LARGE);
        return;
    }
    if (!e) {
        e = kdb_add(ctx->db, ctx->argv[1].ptr, ctx->argv[1].len, cmd_key_hash(ctx, 1));
        tstream_init(&e->val);
        s = tstream_of(&e->val);
    }
    tstream_append(s, &id, ctx->argv + first, (size_t)(ctx->argc - first) / 2, &lim);
    cmd_stream_reply_id(&ctx->r, &id);
    cmd_stream_notify(ctx, 1, "xadd");
    block_key_touched(ctx->shard, ctx->dbid, ctx->argv[1]); /* blocked readers */
    if (a.trim && do_trim(s, &a)) {
        cmd_stream_notify(ctx, 1, "xtrim");
    }
}

/* ---- XTRIM XLEN XDEL XSETID ---- */

static void cmd_xtrim(struct cmd_ctx *ctx)
{
    struct add_args a;
    struct kentry *e;
    long long n;

    if (parse_add_args(ctx, &a, false) < 0 || !cmd_stream_lookup(ctx, 1, false, &e)) {
        return;
    }
    if (!e) {
        reply_int(&ctx->r, 0);
        ctx->unchanged = true;
        return;
    }
    n = do_trim(tstream_of(&e->val), &a);
    if (n) {
        cmd_stream_notify(ctx, 1, "xtrim");
    }
    ctx->unchanged = n == 0;
    reply_int(&ctx->r, n);
}

static void cmd_xlen(struct cmd_ctx *ctx)
{
    struct kentry *e;

    if (cmd_stream_lookup(ctx, 1, true, &e)) {
        reply_int(&ctx->r, e ? (long long)tstream_of(&e->val)->length : 0);
    }
}

static void cmd_xdel(struct cmd_ctx *ctx)
{
    struct tstream_id *ids;
    struct kentry *e;
    struct tstream *s;
    long long deleted = 0;
    bool first = false;

    if (!cmd_stream_lookup(ctx, 1, false, &e)) {
        return;
    }
    if (!e) {
        reply_int(&ctx->r, 0);
        ctx->unchanged = true;
        return;
    }
    s = tstream_of(&e->val);
    ids = sh_malloc(sizeof(*ids) * (size_t)(ctx->argc - 2));
    for (int j = 2; j < ctx->argc; j++) {
        if (!cmd_stream_parse_id(ctx->argv[j], &ids[j - 2], 0, true, NULL)) {
            reply_error(&ctx->r, CMD_STREAM_ERR_ID);
            sh_free(ids);
            return;
        }
    }
    for (int j = 0; j < ctx->argc - 2; j++) {
        if (!tstream_delete(s, &ids[j])) {
            continue;
        }
        first |= tstream_id_cmp(&ids[j], &s->first_id) == 0;
        if (tstream_id_cmp(&ids[j], &s->max_deleted_id) > 0) {
            s->max_deleted_id = ids[j];
        }
        deleted++;
    }
    sh_free(ids);
    if (deleted) {
        if (s->length == 0) {
            s->first_id = (struct tstream_id){ 0, 0 };
        } else if (first) {
            tstream_edge_id(s, true, &s->first_id);
        }
        cmd_stream_notify(ctx, 1, "xdel");
    }
    ctx->unchanged = deleted == 0;
    reply_int(&ctx->r, deleted);
}

static bool parse_xsetid_opts(struct cmd_ctx *ctx, const struct tstream_id *id, long long *added,
                              struct tstream_id *maxdel)
{
    for (int i = 3; i < ctx->argc; i += 2) {
        bool more = ctx->argc - 1 - i > 0;

        if (sh_slice_eq_nocase(ctx->argv[i], "entriesadded") && more) {
            if (!parse_ll(ctx, ctx->argv[i + 1], added)) {
                return false;
            }
            if (*added < 0) {
                reply_error(&ctx->r, "ERR entries_added must be positive");
                return false;
            }
        } else if (sh_slice_eq_nocase(ctx->argv[i], "maxdeletedid") && more) {
            if (!cmd_stream_parse_id(ctx->argv[i + 1], maxdel, 0, true, NULL)) {
                reply_error(&ctx->r, CMD_STREAM_ERR_ID);
                return false;
            }
            if (tstream_id_cmp(id, maxdel) < 0) {
                reply_error(&ctx->r, "ERR The ID specified in XSETID is smaller than the provided "
                                     "max_deleted_entry_id");
                return false;
            }
        } else {
            reply_err_syntax(&ctx->r);
            return false;
        }
    }
    return true;
}

static void cmd_xsetid(struct cmd_ctx *ctx)
{
    struct tstream_id id, maxdel = { 0, 0 }, top;
    long long added = -1;
    struct kentry *e;
    struct tstream *s;

    ctx->touched_own = true; /* as Redis: no WATCHer sees it (cmd_stream_group.c) */

    if (!cmd_stream_parse_id(ctx->argv[2], &id, 0, true, NULL)) {
        reply_error(&ctx->r, CMD_STREAM_ERR_ID);
        return;
    }
    if (!parse_xsetid_opts(ctx, &id, &added, &maxdel) || !cmd_stream_lookup(ctx, 1, false, &e)) {
        return;
    }
    if (!e) {
        reply_error(&ctx->r, "ERR no such key");
        return;
    }
    s = tstream_of(&e->val);
    if (s->length > 0) {
        tstream_edge_id(s, false, &top);
        if (tstream_id_cmp(&id, &top) < 0) {
            reply_error(
                    &ctx->r,
                    "ERR The ID specified in XSETID is smaller than the target stream top item");
            return;
        }
        if (added != -1 && s->length > (uint64_t)added) {
            reply_error(&ctx->r, "ERR The entries_added specified in XSETID is smaller than the "
                                 "target stream length");
            return;
        }
    }
    s->last_id = id;
    if (added != -1) {
        s->entries_added = (uint64_t)added;
    }
    if (maxdel.ms || maxdel.seq) {
        s->max_deleted_id = maxdel;
    }
    reply_ok(&ctx->r);
    cmd_stream_notify(ctx, 1, "xsetid");
}

/* ---- XRANGE XREVRANGE ---- */

/* Redis's streamParseIntervalIDOrReply: "(id" is exclusive (strict). */
static bool parse_interval(struct sh_slice s, struct tstream_id *id, bool *excl, uint64_t missing)
{
    *excl = s.len > 1 && s.ptr[0] == '(';
    if (*excl) {
        return cmd_stream_parse_id((struct sh_slice){ s.ptr + 1, s.len - 1 }, id, missing, true,
                                   NULL);
    }
    return cmd_stream_parse_id(s, id, missing, false, NULL);
}

static void xrange_generic(struct cmd_ctx *ctx, bool rev)
{
    struct sh_slice sarg = ctx->argv[rev ? 3 : 2], earg = ctx->argv[rev ? 2 : 3];
    struct tstream_id start, end;
    long long count = -1;
    struct kentry *e;
    bool ex;
    size_t at;

    if (!parse_interval(sarg, &start, &ex, 0)) {
        reply_error(&ctx->r, CMD_STREAM_ERR_ID);
        return;
    }
    if (ex && !tstream_id_incr(&start)) {
        reply_error(&ctx->r, "ERR invalid start ID for the interval");
        return;
    }
    if (!parse_interval(earg, &end, &ex, UINT64_MAX)) {
        reply_error(&ctx->r, CMD_STREAM_ERR_ID);
        return;
    }
    if (ex && !tstream_id_decr(&end)) {
        reply_error(&ctx->r, "ERR invalid end ID for the interval");
        return;
    }
    for (int j = 4; j < ctx->argc; j++) {
        if (sh_slice_eq_nocase(ctx->argv[j], "count") && j + 1 < ctx->argc) {
            if (!parse_ll(ctx, ctx->argv[++j], &count)) {
                return;
            }
            if (count < 0) {
                count = 0;
            }
        } else {
            reply_err_syntax(&ctx->r);
            return;
        }
    }
    if (!cmd_stream_lookup(ctx, 1, true, &e)) {
        return;
    }
    if (!e) {
        reply_array(&ctx->r, 0);
        return;
    }
    if (count == 0) {
        reply_null_array(&ctx->r);
        return;
    }
    at = reply_array_begin(&ctx->r);
    reply_array_end(&ctx->r, at,
                    cmd_stream_reply_entries(&ctx->r, tstream_of(&e->val), &start, &end,
                                             count < 0 ? 0 : count, rev));
}

static void cmd_xrange(struct cmd_ctx *ctx)
{
    xrange_generic(ctx, false);
}

static void cmd_xrevrange(struct cmd_ctx *ctx)
{
    xrange_generic(ctx, true);
}

/* ---- XINFO ---- */

static void reply_lines(struct reply *r, const char *const *lines, size_t n)
{
    reply_array(r, (long long)n);
    for (size_t i = 0; i < n; i++) {
        reply_status(r, lines[i]);
    }
}

static void cmd_xinfo_help(struct cmd_ctx *ctx)
{
    static const char *const lines[] = {
        "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
        "HELP",
        "    Prints this help.",
    };

    reply_lines(&ctx->r, lines, SH_ARRAY_LEN(lines));
}

static void reply_subcommand_syntax(struct cmd_ctx *ctx)
{
    reply_errorf(&ctx->r,
                 "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try %.*s "
                 "HELP.",
                 (int)ctx->argv[1].len, ctx->argv[1].ptr, (int)ctx->argv[0].len, ctx->argv[0].ptr);
}

/* The stream at argv[2] for XINFO: false after replying "no such key" or
 * WRONGTYPE. */
static bool xinfo_lookup(struct cmd_ctx *ctx, struct tstream **s)
{
    struct kentry *e;

    if (!cmd_stream_lookup(ctx, 2, true, &e)) {
        return false;
    }
    if (!e) {
        reply_error(&ctx->r, "ERR no such key");
        return false;
    }
    *s = tstream_of(&e->val);
    return true;
}

static void reply_key(struct reply *r, const char *k)
{
    reply_bulk_cstr(r, k);
}

static void xinfo_header(struct reply *r, const struct tstream *s, bool full)
{
    reply_map(r, full ? 9 : 10);
    reply_key(r, "length");
    reply_int(r, (long long)s->length);
    reply_key(r, "radix-tree-keys");
    reply_int(r, (long long)tstream_nodes(s));
    reply_key(r, "radix-tree-nodes");
    reply_int(r, (long long)tstream_nodes(s) + 1);
    reply_key(r, "last-generated-id");
    cmd_stream_reply_id(r, &s->last_id);
    reply_key(r, "max-deleted-entry-id");
    cmd_stream_reply_id(r, &s->max_deleted_id);
    reply_key(r, "entries-added");
    reply_int(r, (long long)s->entries_added);
    reply_key(r, "recorded-first-entry-id");
    cmd_stream_reply_id(r, &s->first_id);
}

static void reply_entries_read(struct reply *r, const struct tstream_group *g)
{
    if (g->entries_read != TSTREAM_ENTRIES_UNKNOWN) {
        reply_int(r, g->entries_read);
    } else {
        reply_null(r);
    }
}

/* A PEL as XINFO STREAM FULL lists it (at most count, 0: all). */
static void reply_full_pel(struct reply *r, const struct tstream_map *pel, long long count,
                           bool owner)
{
    struct tstream_map_pos pos;
    bool more = tstream_map_seek(pel, NULL, true, &pos);
    size_t at = reply_array_begin(r);
    long long n = 0;

    while (more && (!count || n < count)) {
        const struct tstream_nack *k = tstream_map_val(pel, pos);

        reply_array(r, owner ? 4 : 3);
        cmd_stream_reply_id(r, tstream_map_key(pel, pos));
        if (owner) {
            reply_bulk(r, k->consumer->name, k->consumer->nlen);
        }
        reply_int(r, k->delivery_time);
        reply_int(r, (long long)k->delivery_count);
        n++;
        more = tstream_map_next(pel, &pos);
    }
    reply_array_end(r, at, n);
}

static void xinfo_full_group(struct reply *r, const struct tstream *s,
                             const struct tstream_group *g, long long count)
{
    reply_map(r, 7);
    reply_key(r, "name");
    reply_bulk(r, g->name, g->nlen);
    reply_key(r, "last-delivered-id");
    cmd_stream_reply_id(r, &g->last_id);
    reply_key(r, "entries-read");
    reply_entries_read(r, g);
    reply_key(r, "lag");
    cmd_stream_reply_lag(r, s, g);
    reply_key(r, "pel-count");
    reply_int(r, (long long)g->pel.count);
    reply_key(r, "pending");
    reply_full_pel(r, &g->pel, count, true);
    reply_key(r, "consumers");
    reply_array(r, (long long)g->nconsumers);
    for (size_t i = 0; i < g->nconsumers; i++) {
        const struct tstream_consumer *c = g->consumers[i];

        reply_map(r, 4);
        reply_key(r, "name");
        reply_bulk(r, c->name, c->nlen);
        reply_key(r, "seen-time");
        reply_int(r, c->seen_time);
        reply_key(r, "pel-count");
        reply_int(r, (long long)c->pel.count);
        reply_key(r, "pending");
        reply_full_pel(r, &c->pel, count, false);
    }
}

static void xinfo_stream_reply(struct reply *r, const struct tstream *s, bool full, long long count)
{
    size_t at;

    xinfo_header(r, s, full);
    if (!full) {
        reply_key(r, "groups");
        reply_int(r, (long long)s->ngroups);
        reply_key(r, "first-entry");
        if (!cmd_stream_reply_entries(r, s, NULL, NULL, 1, false)) {
            reply_null(r);
        }
        reply_key(r, "last-entry");
        if (!cmd_stream_reply_entries(r, s, NULL, NULL, 1, true)) {
            reply_null(r);
        }
        return;
    }
    reply_key(r, "entries");
    at = reply_array_begin(r);
    reply_array_end(r, at, cmd_stream_reply_entries(r, s, NULL, NULL, count, false));
    reply_key(r, "groups");
    reply_array(r, (long long)s->ngroups);
    for (size_t i = 0; i < s->ngroups; i++) {
        xinfo_full_group(r, s, s->groups[i], count);
    }
}

static void cmd_xinfo_stream(struct cmd_ctx *ctx)
{
    long long count = 10;
    struct tstream *s;
    int optc = ctx->argc - 3;

    if (!xinfo_lookup(ctx, &s)) {
        return;
    }
    if (optc) {
        if ((optc != 1 && optc != 3) || !sh_slice_eq_nocase(ctx->argv[3], "full") ||
            (optc == 3 && !sh_slice_eq_nocase(ctx->argv[4], "count"))) {
            reply_subcommand_syntax(ctx);
            return;
        }
        if (optc == 3) {
            if (!parse_ll(ctx, ctx->argv[5], &count)) {
                return;
            }
            if (count < 0) {
                count = 10;
            }
        }
    }
    xinfo_stream_reply(&ctx->r, s, optc != 0, count);
}

static void cmd_xinfo_groups(struct cmd_ctx *ctx)
{
    struct tstream *s;

    if (!xinfo_lookup(ctx, &s)) {
        return;
    }
    reply_array(&ctx->r, (long long)s->ngroups);
    for (size_t i = 0; i < s->ngroups; i++) {
        const struct tstream_group *g = s->groups[i];

        reply_map(&ctx->r, 6);
        reply_key(&ctx->r, "name");
        reply_bulk(&ctx->r, g->name, g->nlen);
        reply_key(&ctx->r, "consumers");
        reply_int(&ctx->r, (long long)g->nconsumers);
        reply_key(&ctx->r, "pending");
        reply_int(&ctx->r, (long long)g->pel.count);
        reply_key(&ctx->r, "last-delivered-id");
        cmd_stream_reply_id(&ctx->r, &g->last_id);
        reply_key(&ctx->r, "entries-read");
        reply_entries_read(&ctx->r, g);
        reply_key(&ctx->r, "lag");
        cmd_stream_reply_lag(&ctx->r, s, g);
    }
}

static void cmd_xinfo_consumers(struct cmd_ctx *ctx)
{
    int64_t now = ctx->shard->now_ms;
    struct tstream_group *g;
    struct tstream *s;

    if (!xinfo_lookup(ctx, &s)) {
        return;
    }
    g = tstream_group_find(s, ctx->argv[3].ptr, ctx->argv[3].len);
    if (!g) {
        reply_errorf(&ctx->r, "NOGROUP No such consumer group '%.*s' for key name '%.*s'",
                     (int)ctx->argv[3].len, ctx->argv[3].ptr, (int)ctx->argv[2].len,
                     ctx->argv[2].ptr);
        return;
    }
    reply_array(&ctx->r, (long long)g->nconsumers);
    for (size_t i = 0; i < g->nconsumers; i++) {
        const struct tstream_consumer *c = g->consumers[i];
        int64_t idle = now - c->seen_time;

        reply_map(&ctx->r, 3);
        reply_key(&ctx->r, "name");
        reply_bulk(&ctx->r, c->name, c->nlen);
        reply_key(&ctx->r, "pending");
        reply_int(&ctx->r, (long long)c->pel.count);
        reply_key(&ctx->r, "idle");
        reply_int(&ctx->r, idle < 0 ? 0 : idle);
    }
}

void cmd_stream_bind(void)
{
    static const struct {
        const char *name;
        cmd_fn *proc;
    } cmds[] = {
        { "xadd", cmd_xadd },
        { "xtrim", cmd_xtrim },
        { "xlen", cmd_xlen },
        { "xdel", cmd_xdel },
        { "xsetid", cmd_xsetid },
        { "xrange", cmd_xrange },
        { "xrevrange", cmd_xrevrange },
        { "xinfo|stream", cmd_xinfo_stream },
        { "xinfo|groups", cmd_xinfo_groups },
        { "xinfo|consumers", cmd_xinfo_consumers },
    };

    for (size_t i = 0; i < SH_ARRAY_LEN(cmds); i++) {
        cmd_must_bind(cmds[i].name, cmds[i].proc, CMD_ROUTE_KEY, NULL);
    }
    cmd_must_bind("xinfo|help", cmd_xinfo_help, CMD_ROUTE_CONN, NULL);
    cmd_stream_group_bind();
    cmd_stream_read_bind();
}
