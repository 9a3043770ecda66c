/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tracking_client.c: the client's side of client-side caching (see
 * tracking.h): a connection's tracking state (struct trk_client, on its
 * core), CLIENT TRACKING as a coordinator (parse as Redis does, look at a
 * REDIRECT target on its core, register with every core, reply), CLIENT
 * CACHING's one-command effect told to the keys' owners, and what CLIENT
 * GETREDIR / TRACKINGINFO / LIST show.
 *
 *   CLIENT TRACKING on [REDIRECT id] ...   stage 0: __trkexists at id's core
 *                                          stage 1: __trkreg (default mode)
 *                                                   or __trkpfx (BCAST) to
 *                                                   every core, then +OK
 *
 * The coordinator is a barrier: the client's next command runs after the
 * registrations, as in Redis after the reply.
 */
#include "shardis/cmd.h"
#include "shardis/cmdtab.h"
#include "shardis/conn.h"
#include "shardis/kdict.h"
#include "shardis/route.h"
#include "shardis/shard.h"
#include "shardis/tracking.h"
#include "shardis/util.h"
#include "tracking_internal.h"

#include <stdio.h>
#include <string.h>

/* ---- registration from the client's core ---- */

/* Runs an internal command on every core: here at once, elsewhere as a
 * part of co (waited for), or posted when co is NULL. */
static void post_all(struct shard *sh, struct coord *co, const struct cmd_spec *spec, int argc,
                     const struct sh_slice *argv)
{
    for (int s = 0; s < sh->srv->nshards; s++) {
        if (s == sh->id) {
            struct rbuf b;
            struct cmd_ctx ctx = {
                .cmd = spec, .argc = argc, .argv = argv, .r = { .buf = &b, .proto = 2 }, .shard = sh
            };

            rbuf_init(&b);
            spec->proc(&ctx);
            rbuf_fini(&b);
        } else if (co) {
            coord_send(co, s, spec, 0, argc, argv);
        } else if (!sh->stopping) {
            route_post(sh, s, spec, 0, argc, argv);
        }
    }
}

static void register_reader(struct shard *sh, struct coord *co, uint64_t id, uint32_t flags)
{
    char a[24], b[24];
    struct sh_slice argv[3] = { { "__trkreg", 8 },
                                tracking_u64_arg(a, sizeof(a), id),
                                tracking_u64_arg(b, sizeof(b), flags) };

    post_all(sh, co, &tracking_spec_reg, 3, argv);
}

static void register_prefixes(struct shard *sh, struct coord *co, const struct trk_client *tc,
                              bool add)
{
    struct sh_slice *argv = sh_malloc(sizeof(*argv) * (size_t)(4 + tc->nprefix));
    char a[24];

    argv[0] = (struct sh_slice){ "__trkpfx", 8 };
    argv[1] = tracking_u64_arg(a, sizeof(a), tc->c->id);
    argv[2] = (struct sh_slice){ (tc->flags & TRK_NOLOOP) ? "1" : "0", 1 };
    argv[3] = (struct sh_slice){ add ? "1" : "0", 1 };
    memcpy(argv + 4, tc->prefix, sizeof(*argv) * (size_t)tc->nprefix);
    post_all(sh, co, &tracking_spec_pfx, 4 + tc->nprefix, argv);
    sh_free(argv);
}

void tracking_client_free(struct trk_client *tc)
{
    for (int i = 0; i < tc->nprefix; i++) {
        sh_free((void *)tc->prefix[i].ptr);
    }
    sh_free(tc->prefix);
    sh_free(tc);
}

/* Redis's disableTracking: unregisters (through co, or posted) and forgets
 * the client. */
void tracking_disable(struct tracking *t, struct trk_client *tc, struct coord *co)
{
    struct shard *sh = t->sh;
    struct kentry *e = tracking_id_find(t->clients, tc->c->id);

    if (tc->flags & TRK_BCAST) {
        register_prefixes(sh, co, tc, false);
    } else {
        register_reader(sh, co, tc->c->id, 0);
    }
    if (tc->flags & (TRK_OPTIN | TRK_OPTOUT)) {
        t->nopt--;
    }
    e->val.u.p = NULL;
    kdict_delete(t->clients, e);
    tracking_client_free(tc);
    tracking_refresh(t);
}

static void add_prefix(struct trk_client *tc, struct sh_slice p)
{
    int at = 0;
    char *copy;

    while (at < tc->nprefix && tracking_cmp_key(&tc->prefix[at], &p) < 0) {
        at++;
    }
    if (at < tc->nprefix && tracking_cmp_key(&tc->prefix[at], &p) == 0) {
        return;
    }
    tc->prefix = sh_realloc(tc->prefix, sizeof(*tc->prefix) * (size_t)(tc->nprefix + 1));
    memmove(tc->prefix + at + 1, tc->prefix + at, sizeof(*tc->prefix) * (size_t)(tc->nprefix - at));
    copy = sh_malloc(p.len ? p.len : 1);
    memcpy(copy, p.ptr, p.len);
    tc->prefix[at] = (struct sh_slice){ copy, p.len };
    tc->nprefix++;
}

/* ---- CLIENT TRACKING (a coordinator on the client's core) ---- */

struct trk_op {
    bool on;
    bool checked; /* stage 0 asked the redirect's core */
    bool done_setup;
    const char *err;
    uint64_t redir; /* 0: none */
    uint32_t opts;
    int nprefix;
    struct sh_slice *prefix; /* into co->argv */
    char msg[512];
};

/* Redis's option loop; stops at the first error. A REDIRECT that needs a
 * look at another client is kept for stage 0 (errors after it wait). */
static void parse_tracking(struct coord *co, struct trk_op *op)
{
    op->on = sh_slice_eq_nocase(co->argv[2], "on");
    op->prefix = sh_malloc(sizeof(*op->prefix) * (size_t)co->argc);
    for (int j = 3; j < co->argc; j++) {
        bool more = j + 1 < co->argc;
        struct sh_slice a = co->argv[j];
        long long v;

        if (sh_slice_eq_nocase(a, "redirect") && more) {
            j++;
            if (op->redir) {
                op->err = "ERR A client can only redirect to a single other client";
                return;
            }
            if (!util_str2ll(co->argv[j].ptr, co->argv[j].len, &v)) {
                op->err = "ERR value is not an integer or out of range";
                return;
            }
            if (v <= 0) {
                op->err = "ERR The client ID you want redirect to does not exist";
                return;
            }
            op->redir = (uint64_t)v;
        } else if (sh_slice_eq_nocase(a, "bcast")) {
            op->opts |= TRK_BCAST;
        } else if (sh_slice_eq_nocase(a, "optin")) {
            op->opts |= TRK_OPTIN;
        } else if (sh_slice_eq_nocase(a, "optout")) {
            op->opts |= TRK_OPTOUT;
        } else if (sh_slice_eq_nocase(a, "noloop")) {
            op->opts |= TRK_NOLOOP;
        } else if (sh_slice_eq_nocase(a, "prefix") && more) {
            op->prefix[op->nprefix++] = co->argv[++j];
        } else {
            op->err = "ERR syntax error";
            return;
        }
    }
    if (!op->on && !sh_slice_eq_nocase(co->argv[2], "off")) {
        op->err = "ERR syntax error";
    }
}

static bool overlaps(struct sh_slice a, struct sh_slice b)
{
    return memcmp(a.ptr, b.ptr, a.len < b.len ? a.len : b.len) == 0;
}

/* Redis's checkPrefixCollisionsOrReply. */
static const char *prefix_collision(struct trk_op *op, const struct trk_client *tc)
{
    for (int i = 0; i < op->nprefix; i++) {
        struct sh_slice p = op->prefix[i];

        for (int k = 0; tc && k < tc->nprefix; k++) {
            if (overlaps(tc->prefix[k], p)) {
                snprintf(op->msg, sizeof(op->msg),
                         "ERR Prefix '%.*s' overlaps with an existing prefix '%.*s'. Prefixes "
                         "for a single client must not overlap.",
                         (int)strnlen(p.ptr, p.len), p.ptr,
                         (int)strnlen(tc->prefix[k].ptr, tc->prefix[k].len), tc->prefix[k].ptr);
                return op->msg;
            }
        }
        for (int j = i + 1; j < op->nprefix; j++) {
            if (overlaps(p, op->prefix[j])) {
                snprintf(op->msg, sizeof(op->msg),
                         "ERR Prefix '%.*s' overlaps with another provided prefix '%.*s'. "
                         "Prefixes for a single client must not overlap.",
                         (int)strnlen(p.ptr, p.len), p.ptr,
                         (int)strnlen(op->prefix[j].ptr, op->prefix[j].len), op->prefix[j].ptr);
                return op->msg;
            }
        }
    }
    return NULL;
}

/* The checks of CLIENT TRACKING ON against the client's state. */
static const char *check_on(struct trk_op *op, const struct trk_client *tc)
{
    uint32_t cur = tc ? tc->flags : 0;

    if (!(op->opts & TRK_BCAST) && op->nprefix) {
        return "ERR PREFIX option requires BCAST mode to be enabled";
    }
    if ((cur & TRK_ON) && ((cur & TRK_BCAST) != (op->opts & TRK_BCAST))) {
        return "ERR You can't switch BCAST mode on/off before disabling tracking for this "
               "client, and then re-enabling it with a different mode.";
    }
    if ((op->opts & TRK_BCAST) && (op->opts & (TRK_OPTIN | TRK_OPTOUT))) {
        return "ERR OPTIN and OPTOUT are not compatible with BCAST";
    }
    if ((op->opts & TRK_OPTIN) && (op->opts & TRK_OPTOUT)) {
        return "ERR You can't specify both OPTIN mode and OPTOUT mode";
    }
    if (((op->opts & TRK_OPTIN) && (cur & TRK_OPTOUT)) ||
        ((op->opts & TRK_OPTOUT) && (cur & TRK_OPTIN))) {
        return "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this "
               "client, and then re-enabling it with a different mode.";
    }
    if (op->opts & TRK_BCAST) {
        return prefix_collision(op, tc);
    }
    return NULL;
}

/* Redis's enableTracking, then the registrations as parts of co. */
static void enable(struct tracking *t, struct coord *co, struct trk_op *op, struct trk_client *tc)
{
    struct conn *c = co->conn;
    bool had_opt;

    if (!tc) {
        struct kentry *e = tracking_id_add(t->clients, c->id);

        tc = sh_calloc(1, sizeof(*tc));
        tc->c = c;
        e->val.u.p = tc;
    }
    had_opt = (tc->flags & (TRK_OPTIN | TRK_OPTOUT)) != 0;
    tc->flags &= ~(TRK_BROKEN | TRK_OPTIONS);
    tc->flags |= TRK_ON | op->opts;
    tc->redir = op->redir;
    if (op->opts & TRK_BCAST) {
        if (op->nprefix == 0) {
            add_prefix(tc, (struct sh_slice){ "", 0 });
        }
        for (int i = 0; i < op->nprefix; i++) {
            add_prefix(tc, op->prefix[i]);
        }
        register_prefixes(t->sh, co, tc, true);
    } else {
        register_reader(t->sh, co, c->id, tc->flags & ~(TRK_CACHING | TRK_IN_MULTI));
    }
    if (had_opt != ((tc->flags & (TRK_OPTIN | TRK_OPTOUT)) != 0)) {
        t->nopt += had_opt ? (uint32_t)-1 : 1u;
    }
    tracking_refresh(t);
}

static void tracking_start(struct coord *co)
{
    struct trk_op *op = sh_calloc(1, sizeof(*op));

    co->ext = op;
    parse_tracking(co, op);
    if (op->redir && op->redir != co->conn->id) {
        char a[24];
        struct sh_slice argv[2] = { { "__trkexists", 11 },
                                    tracking_u64_arg(a, sizeof(a), op->redir) };

        op->checked = true;
        coord_send(co, tracking_shard_of_id(co->conn->sh, op->redir), &tracking_spec_exists, 0, 2,
                   argv);
    }
}

static bool tracking_finish(struct coord *co, struct reply *r, const char *err)
{
    struct trk_op *op = co->ext;

    if (err) {
        reply_error(r, err);
    } else {
        reply_ok(r);
    }
    sh_free(op->prefix);
    sh_free(op);
    co->ext = NULL;
    return true;
}

static bool tracking_done(struct coord *co, struct reply *r)
{
    struct trk_op *op = co->ext;
    struct tracking *t;
    struct trk_client *tc;
    const char *err;

    if (op->done_setup) {
        return tracking_finish(co, r, NULL); /* every core counted it */
    }
    if (op->checked) {
        struct sh_slice p = coord_part(co, tracking_shard_of_id(co->conn->sh, op->redir));

        if (p.len < 2 || p.ptr[1] != '1') {
            return tracking_finish(co, r, "ERR The client ID you want redirect to does not exist");
        }
    }
    if (op->err) {
        return tracking_finish(co, r, op->err);
    }
    t = tracking_get(co->conn->sh);
    tc = tracking_client_of(t, co->conn->id);
    if (op->on) {
        err = check_on(op, tc);
        if (err) {
            return tracking_finish(co, r, err);
        }
        enable(t, co, op, tc);
    } else if (tc) {
        tracking_disable(t, tc, co);
    }
    op->done_setup = true;
    if (co->pending) {
        return false;
    }
    return tracking_finish(co, r, NULL);
}

const struct gather tracking_gather = {
    .start = tracking_start,
    .done = tracking_done,
    .always = true,
    .barrier = true,
};

/* ---- hooks ---- */

/* Tells the owners of a read's keys that CLIENT CACHING applies to it. */
static void send_arms(struct conn *c, const struct cmd_spec *cmd, int argc,
                      const struct sh_slice *argv)
{
    struct shard *sh = c->sh;
    int n = sh->srv->nshards;
    struct cmd_keys k;
    bool *sent = sh_calloc((size_t)n, sizeof(bool));
    char a[24];
    struct sh_slice arm[2] = { { "__trkarm", 8 }, tracking_u64_arg(a, sizeof(a), c->id) };

    cmd_keys_get(&k, cmd, argc, argv);
    for (int i = 0; i < k.n; i++) {
        uint64_t h;
        int o = shard_owner(n, argv[k.pos[i]].ptr, argv[k.pos[i]].len, &h);

        if (sent[o]) {
            continue;
        }
        sent[o] = true;
        if (o == sh->id) {
            tracking_reader_arm(tracking_get(sh), c->id);
        } else {
            route_post(sh, o, &tracking_spec_arm, 0, 2, arm);
        }
    }
    cmd_keys_free(&k);
    sh_free(sent);
}

void tracking_before(struct conn *c, const struct cmd_spec *cmd, int argc,
                     const struct sh_slice *argv)
{
    struct trk_client *tc = tracking_conn_client(c);
    bool client_cmd = cmd->parent && !strcmp(cmd->parent->name, "client");

    if (!tc || !(tc->flags & (TRK_OPTIN | TRK_OPTOUT))) {
        return;
    }
    if ((tc->flags & TRK_CACHING) && (cmd->flags & CMD_READONLY) && !(cmd->flags & CMD_PUBSUB) &&
        !tracking_is_script_ro(cmd)) {
        send_arms(c, cmd, argc, argv);
    }
    /* Redis's resetClient: CACHING lasts one command, except CLIENT's and
     * those of a MULTI */
    if (!strcmp(cmd->fullname, "multi")) {
        tc->flags |= TRK_IN_MULTI;
    } else if (!strcmp(cmd->fullname, "exec") || !strcmp(cmd->fullname, "discard") ||
               !strcmp(cmd->fullname, "reset")) {
        tc->flags &= ~TRK_IN_MULTI;
    }
    if (!client_cmd && !(tc->flags & TRK_IN_MULTI)) {
        tc->flags &= ~TRK_CACHING;
    }
}

void tracking_conn_reset(struct conn *c)
{
    struct trk_client *tc = tracking_conn_client(c);

    if (tc) {
        tracking_disable(tracking_peek(c->sh), tc, NULL);
    }
}

/* ---- CLIENT subcommands' state ---- */

const char *tracking_caching(struct conn *c, struct sh_slice arg)
{
    struct trk_client *tc = tracking_conn_client(c);

    if (!tc || !(tc->flags & TRK_ON)) {
        return "ERR CLIENT CACHING can be called only when the client is in tracking mode with "
               "OPTIN or OPTOUT mode enabled";
    }
    if (sh_slice_eq_nocase(arg, "yes")) {
        if (!(tc->flags & TRK_OPTIN)) {
            return "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.";
        }
    } else if (sh_slice_eq_nocase(arg, "no")) {
        if (!(tc->flags & TRK_OPTOUT)) {
            return "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.";
        }
    } else {
        return "ERR syntax error";
    }
    tc->flags |= TRK_CACHING;
    return NULL;
}

long long tracking_getredir(const struct conn *c)
{
    const struct trk_client *tc = tracking_conn_client(c);

    return tc && (tc->flags & TRK_ON) ? (long long)tc->redir : -1;
}

void tracking_info_reply(const struct conn *c, struct reply *r)
{
    const struct trk_client *tc = tracking_conn_client(c);
    uint32_t f = tc ? tc->flags : 0;
    const char *flags[8];
    int n = 0;

    flags[n++] = (f & TRK_ON) ? "on" : "off";
    if (f & TRK_BCAST) {
        flags[n++] = "bcast";
    }
    if (f & TRK_OPTIN) {
        flags[n++] = "optin";
        if (f & TRK_CACHING) {
            flags[n++] = "caching-yes";
        }
    }
    if (f & TRK_OPTOUT) {
        flags[n++] = "optout";
        if (f & TRK_CACHING) {
            flags[n++] = "caching-no";
        }
    }
    if (f & TRK_NOLOOP) {
        flags[n++] = "noloop";
    }
    if (f & TRK_BROKEN) {
        flags[n++] = "broken_redirect";
    }
    reply_map(r, 3);
    reply_bulk_cstr(r, "flags");
    reply_set(r, n);
    for (int i = 0; i < n; i++) {
        reply_bulk_cstr(r, flags[i]);
    }
    reply_bulk_cstr(r, "redirect");
    reply_int(r, (f & TRK_ON) ? (long long)tc->redir : -1);
    reply_bulk_cstr(r, "prefixes");
    reply_array(r, tc ? tc->nprefix : 0);
    for (int i = 0; tc && i < tc->nprefix; i++) {
        reply_bulk(r, tc->prefix[i].ptr, tc->prefix[i].len);
    }
}

void tracking_client_flags(const struct conn *c, char *flags, size_t *n, long long *redir)
{
    const struct trk_client *tc = tracking_conn_client(c);

    *redir = -1;
    if (!tc || !(tc->flags & TRK_ON)) {
        return;
    }
    *redir = (long long)tc->redir;
    flags[(*n)++] = 't';
    if (tc->flags & TRK_BROKEN) {
        flags[(*n)++] = 'R';
    }
    if (tc->flags & TRK_BCAST) {
        flags[(*n)++] = 'B';
    }
}

void tracking_stats(const struct shard *sh, long long *clients, long long *keys, long long *items,
                    long long *prefixes)
{
    const struct tracking *t = tracking_peek(sh);

    *clients = t ? (long long)kdict_size(t->clients) : 0;
    *keys = t ? (long long)kdict_size(t->table) : 0;
    *items = t ? (long long)t->items : 0;
    *prefixes = t ? (long long)kdict_size(t->prefixes) : 0;
}
