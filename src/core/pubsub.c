/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pubsub.c: SUBSCRIBE/PSUBSCRIBE/SSUBSCRIBE and friends, PUBLISH/SPUBLISH,
 * PUBSUB introspection and keyspace notifications (design in pubsub.h).
 *
 * Tables of one shard (struct pubsub), each a kdict whose entries carry a
 * pointer in val.u.p:
 *
 *   local[kind]  channel -> struct pslist   connections of this shard
 *   local_pat    pattern -> struct pslist
 *   reg[0]       channel -> struct psreg    (every shard) subscribers per shard
 *   reg[1]       channel -> struct psreg    (owner) the same for shard channels
 *   pat_reg      pattern -> struct psreg    (every shard) the same for patterns
 *
 * kind 0 is classic pub/sub, kind 1 sharded pub/sub (SSUBSCRIBE/SPUBLISH),
 * whose messages never reach patterns or classic subscribers.
 *
 * Registration changes travel as internal commands: __psreg (to every shard
 * for classic channels, to the owner for shard channels) and __pspat (to
 * every shard). SUBSCRIBE-like commands wait for those to be counted before
 * they reply, so a PUBLISH sent after the reply, from any core, reaches the
 * new subscriber, as in Redis.
 *
 * PUBLISH runs on the publisher's core and sends its deliveries from there
 * straight to the subscribers' cores: mailboxes are FIFO per pair of cores,
 * so every subscriber gets one publisher's messages in their order, whatever
 * the channels (Redis's order). SPUBLISH runs on the channel's owner (Redis
 * orders shard messages per shard channel only).
 */
#include "shardis/pubsub.h"

#include "shardis/cmd.h"
#include "shardis/cmdtab.h"
#include "shardis/config.h"
#include "shardis/conn.h"
#include "shardis/glob.h"
#include "shardis/kdict.h"
#include "shardis/route.h"
#include "shardis/shard.h"
#include "shardis/util.h"

#include <stdio.h>
#include <string.h>

enum { KIND_CHANNEL = 0, KIND_SHARD = 1, KINDS = 2 };

struct pslist {
    struct conn **c;
    uint32_t n, cap;
};

struct psreg {
    long long total;
    int nshards;
    uint32_t count[];
};

struct pubsub {
    struct kdict *local[KINDS];
    struct kdict *local_pat;
    struct kdict *reg[KINDS];
    struct kdict *pat_reg;
    long long owned; /* reg[0] entries whose channel this shard owns (INFO) */
};

/* A connection's own subscriptions (sets: the entries carry no value). */
struct psconn {
    struct kdict *chans[KINDS];
    struct kdict *pats;
};

struct pubsub *pubsub_create(void)
{
    struct pubsub *ps = sh_calloc(1, sizeof(*ps));

    for (int k = 0; k < KINDS; k++) {
        ps->local[k] = kdict_create();
        ps->reg[k] = kdict_create();
    }
    ps->local_pat = kdict_create();
    ps->pat_reg = kdict_create();
    return ps;
}

static void free_list(void *arg, struct kentry *e)
{
    struct pslist *l = e->val.u.p;

    (void)arg;
    sh_free(l->c);
    sh_free(l);
    e->val.u.p = NULL;
}

static void free_reg(void *arg, struct kentry *e)
{
    (void)arg;
    sh_free(e->val.u.p);
    e->val.u.p = NULL;
}

/* Frees every payload, then the table. */
static void dict_free_all(struct kdict *d, kdict_scan_fn *free_fn)
{
    uint64_t cur = 0;

    do {
        cur = kdict_scan(d, cur, free_fn, NULL);
    } while (cur);
    kdict_destroy(d);
}

void pubsub_destroy(struct pubsub *ps)
{
    if (!ps) {
        return;
    }
    for (int k = 0; k < KINDS; k++) {
        dict_free_all(ps->local[k], free_list);
        dict_free_all(ps->reg[k], free_reg);
    }
    dict_free_all(ps->local_pat, free_list);
    dict_free_all(ps->pat_reg, free_reg);
    sh_free(ps);
}

static struct kentry *dict_get(struct kdict *d, struct sh_slice name)
{
    return kdict_find(d, name.ptr, name.len, kdict_hash(name.ptr, name.len));
}

static struct kentry *dict_add(struct kdict *d, struct sh_slice name)
{
    return kdict_add(d, name.ptr, name.len, kdict_hash(name.ptr, name.len));
}

/* ---- a connection's sets ---- */

static struct psconn *psconn_of(struct conn *c)
{
    if (!c->ps) {
        c->ps = sh_calloc(1, sizeof(*c->ps));
        for (int k = 0; k < KINDS; k++) {
            c->ps->chans[k] = kdict_create();
        }
        c->ps->pats = kdict_create();
    }
    return c->ps;
}

long pubsub_conn_count(const struct conn *c)
{
    if (!c->ps) {
        return 0;
    }
    return (long)(kdict_size(c->ps->chans[0]) + kdict_size(c->ps->chans[1]) +
                  kdict_size(c->ps->pats));
}

/* Redis's count in (un)subscribe replies: channels + patterns, or shard
 * channels for the sharded kind. */
static long reply_count(const struct conn *c, int kind)
{
    if (!c->ps) {
        return 0;
    }
    if (kind == KIND_SHARD) {
        return (long)kdict_size(c->ps->chans[KIND_SHARD]);
    }
    return (long)(kdict_size(c->ps->chans[KIND_CHANNEL]) + kdict_size(c->ps->pats));
}

/* ---- local lists ---- */

static void list_add(struct kdict *d, struct sh_slice name, struct conn *c)
{
    struct kentry *e = dict_get(d, name);
    struct pslist *l;

    if (!e) {
        e = dict_add(d, name);
        e->val.u.p = sh_calloc(1, sizeof(struct pslist));
    }
    l = e->val.u.p;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->c = sh_realloc(l->c, l->cap * sizeof(*l->c));
    }
    l->c[l->n++] = c;
}

static void list_remove(struct kdict *d, const char *name, size_t len, struct conn *c)
{
    struct kentry *e = kdict_find(d, name, len, kdict_hash(name, len));
    struct pslist *l;

    if (!e) {
        return;
    }
    l = e->val.u.p;
    for (uint32_t i = 0; i < l->n; i++) {
        if (l->c[i] == c) {
            l->c[i] = l->c[--l->n];
            break;
        }
    }
    if (l->n == 0) {
        sh_free(l->c);
        sh_free(l);
        e->val.u.p = NULL;
        kdict_delete(d, e);
    }
}

/* ---- registries (every shard; the owner only for shard channels) ---- */

/* Adds delta to name's count for shard `from`: +1 when the entry was
 * created, -1 when it went away, 0 otherwise. */
static int reg_adjust(struct kdict *d, struct sh_slice name, int from, int nshards, int delta)
{
    struct kentry *e = dict_get(d, name);
    struct psreg *r;
    int created = 0;

    if (!e) {
        if (delta <= 0) {
            return 0;
        }
        created = 1;
        e = dict_add(d, name);
        r = sh_calloc(1, sizeof(*r) + sizeof(uint32_t) * (size_t)nshards);
        r->nshards = nshards;
        e->val.u.p = r;
    }
    r = e->val.u.p;
    if (delta < 0 && r->count[from] < (uint32_t)-delta) {
        delta = -(int)r->count[from];
    }
    r->count[from] = (uint32_t)((int)r->count[from] + delta);
    r->total += delta;
    if (r->total <= 0) {
        sh_free(r);
        e->val.u.p = NULL;
        kdict_delete(d, e);
        return created - 1;
    }
    return created;
}

static bool owns(const struct shard *sh, struct sh_slice name)
{
    uint64_t h;

    return shard_owner(sh->srv->nshards, name.ptr, name.len, &h) == sh->id;
}

/* __psreg <kind> <delta> <from> <channel>...: on every shard (kind 0), at
 * the channel's owner (kind 1). */
static void cmd_psreg(struct cmd_ctx *ctx)
{
    struct pubsub *ps = ctx->shard->ps;
    long long kind, delta, from;

    if (!util_str2ll(ctx->argv[1].ptr, ctx->argv[1].len, &kind) ||
        !util_str2ll(ctx->argv[2].ptr, ctx->argv[2].len, &delta) ||
        !util_str2ll(ctx->argv[3].ptr, ctx->argv[3].len, &from)) {
        sh_panic("corrupt __psreg");
    }
    for (int i = 4; i < ctx->argc; i++) {
        int change = reg_adjust(ps->reg[kind], ctx->argv[i], (int)from, ctx->shard->srv->nshards,
                                (int)delta);

        if (change && kind == KIND_CHANNEL && owns(ctx->shard, ctx->argv[i])) {
            ps->owned += change;
        }
    }
    reply_ok(&ctx->r);
}

/* __pspat <delta> <from> <pattern>...: on every shard. */
static void cmd_pspat(struct cmd_ctx *ctx)
{
    long long delta, from;

    if (!util_str2ll(ctx->argv[1].ptr, ctx->argv[1].len, &delta) ||
        !util_str2ll(ctx->argv[2].ptr, ctx->argv[2].len, &from)) {
        sh_panic("corrupt __pspat");
    }
    for (int i = 3; i < ctx->argc; i++) {
        reg_adjust(ctx->shard->ps->pat_reg, ctx->argv[i], (int)from, ctx->shard->srv->nshards,
                   (int)delta);
    }
    reply_ok(&ctx->r);
}

static struct cmd_spec spec_psreg = {
    .name = "__psreg", .fullname = "__psreg", .arity = -5, .proc = cmd_psreg
};
static struct cmd_spec spec_pspat = {
    .name = "__pspat", .fullname = "__pspat", .arity = -4, .proc = cmd_pspat
};

/* ---- delivery ---- */

static void write_message(struct conn *c, const char *type, const struct sh_slice *pat,
                          struct sh_slice ch, struct sh_slice msg)
{
    struct reply r;

    if (!conn_push_begin(c, &r)) {
        return;
    }
    reply_push(&r, pat ? 4 : 3);
    reply_bulk_cstr(&r, type);
    if (pat) {
        reply_bulk(&r, pat->ptr, pat->len);
    }
    reply_bulk(&r, ch.ptr, ch.len);
    reply_bulk(&r, msg.ptr, msg.len);
    conn_push_end(c);
}

struct pat_delivery {
    struct sh_slice ch, msg;
};

static void deliver_to_pattern(void *arg, struct kentry *e)
{
    struct pat_delivery *d = arg;
    struct pslist *l = e->val.u.p;
    struct sh_slice pat = { kentry_key(e), kentry_klen(e) };

    if (!glob_match(kentry_key(e), kentry_klen(e), d->ch.ptr, d->ch.len, false)) {
        return;
    }
    for (uint32_t i = 0; i < l->n; i++) {
        write_message(l->c[i], "pmessage", &pat, d->ch, d->msg);
    }
}

/* Writes a published message to this shard's subscribers. */
static void deliver(struct shard *sh, int kind, struct sh_slice ch, struct sh_slice msg)
{
    struct pubsub *ps = sh->ps;
    struct kentry *e = dict_get(ps->local[kind], ch);

    if (e) {
        struct pslist *l = e->val.u.p;

        for (uint32_t i = 0; i < l->n; i++) {
            write_message(l->c[i], kind == KIND_SHARD ? "smessage" : "message", NULL, ch, msg);
        }
    }
    if (kind == KIND_CHANNEL && kdict_size(ps->local_pat)) {
        struct pat_delivery d = { ch, msg };
        uint64_t cur = 0;

        do {
            cur = kdict_scan(ps->local_pat, cur, deliver_to_pattern, &d);
        } while (cur);
    }
}

/* __psdeliver <kind> <channel> <message>: on a shard with receivers. */
static void cmd_psdeliver(struct cmd_ctx *ctx)
{
    deliver(ctx->shard, ctx->argv[1].ptr[0] == '1' ? KIND_SHARD : KIND_CHANNEL, ctx->argv[2],
            ctx->argv[3]);
    reply_ok(&ctx->r);
}

static struct cmd_spec spec_psdeliver = {
    .name = "__psdeliver", .fullname = "__psdeliver", .arity = 4, .proc = cmd_psdeliver
};

static long long publish(struct shard *sh, int kind, struct sh_slice ch, struct sh_slice msg);

/* __psrelay <channel> <message>: a client's publish (or a notification of
 * its command) made on another core, fanned out from the client's core so
 * that it reaches every subscriber after what this core sent before it. */
static void cmd_psrelay(struct cmd_ctx *ctx)
{
    publish(ctx->shard, KIND_CHANNEL, ctx->argv[1], ctx->argv[2]);
    reply_ok(&ctx->r);
}

static struct cmd_spec spec_psrelay = {
    .name = "__psrelay", .fullname = "__psrelay", .arity = 3, .proc = cmd_psrelay
};

struct pat_count {
    struct sh_slice ch;
    long long total;
    bool *targets;
};

static void count_pattern(void *arg, struct kentry *e)
{
    struct pat_count *pc = arg;
    struct psreg *r = e->val.u.p;

    if (!glob_match(kentry_key(e), kentry_klen(e), pc->ch.ptr, pc->ch.len, false)) {
        return;
    }
    pc->total += r->total;
    for (int s = 0; s < r->nshards; s++) {
        if (r->count[s]) {
            pc->targets[s] = true;
        }
    }
}

/* Counts the receivers from this shard's registry (on the publisher's core
 * for classic channels, on the owner for shard channels), sends one
 * delivery to each shard that has some (this one's at once), returns the
 * count PUBLISH replies. */
static long long publish(struct shard *sh, int kind, struct sh_slice ch, struct sh_slice msg)
{
    struct pubsub *ps = sh->ps;
    int n = sh->srv->nshards;
    bool targets[1024] = { false };
    struct pat_count pc = { .ch = ch, .total = 0, .targets = targets };
    struct kentry *e = dict_get(ps->reg[kind], ch);

    if (e) {
        struct psreg *r = e->val.u.p;

        pc.total += r->total;
        for (int s = 0; s < n; s++) {
            targets[s] = r->count[s] > 0;
        }
    }
    if (kind == KIND_CHANNEL && kdict_size(ps->pat_reg)) {
        uint64_t cur = 0;

        do {
            cur = kdict_scan(ps->pat_reg, cur, count_pattern, &pc);
        } while (cur);
    }
    if (kind == KIND_CHANNEL && sh->pub_origin) {
        for (int s = 0; s < n; s++) {
            if (targets[s]) {
                struct sh_slice argv[3] = { { "__psrelay", 9 }, ch, msg };

                route_post(sh, sh->pub_origin - 1, &spec_psrelay, 0, 3, argv);
                break;
            }
        }
        return pc.total;
    }
    for (int s = 0; s < n; s++) {
        if (targets[s] && s == sh->id) {
            deliver(sh, kind, ch, msg);
        } else if (targets[s]) {
            struct sh_slice argv[4] = {
                { "__psdeliver", 11 }, { kind == KIND_SHARD ? "1" : "0", 1 }, ch, msg
            };

            route_post(sh, s, &spec_psdeliver, 0, 4, argv);
        }
    }
    return pc.total;
}

static void cmd_publish(struct cmd_ctx *ctx)
{
    reply_int(&ctx->r, publish(ctx->shard, KIND_CHANNEL, ctx->argv[1], ctx->argv[2]));
}

static void cmd_spublish(struct cmd_ctx *ctx)
{
    reply_int(&ctx->r, publish(ctx->shard, KIND_SHARD, ctx->argv[1], ctx->argv[2]));
}

void pubsub_publish(struct shard *sh, const char *ch, size_t chlen, const char *msg, size_t msglen)
{
    publish(sh, KIND_CHANNEL, (struct sh_slice){ ch, chlen }, (struct sh_slice){ msg, msglen });
}

void pubsub_notify(struct shard *sh, int type, const char *event, const char *key, size_t klen,
                   int dbid)
{
    int flags = sh->cfg.notify_keyspace_events;
    char ch[512];
    size_t elen = strlen(event);
    int n;

    if (!(flags & type)) {
        return;
    }
    if (flags & NOTIFY_KEYSPACE) {
        struct rbuf b;

        rbuf_init(&b);
        n = snprintf(ch, sizeof(ch), "__keyspace@%d__:", dbid);
        rbuf_append(&b, ch, (size_t)n);
        rbuf_append(&b, key, klen);
        pubsub_publish(sh, b.data, b.len, event, elen);
        rbuf_fini(&b);
    }
    if (flags & NOTIFY_KEYEVENT) {
        n = snprintf(ch, sizeof(ch), "__keyevent@%d__:%s", dbid, event);
        pubsub_publish(sh, ch, (size_t)n, key, klen);
    }
}

/* ---- subscribe and unsubscribe ---- */

/* Sends the registration to every shard (classic channels) or, grouped by
 * owner, to the owners (shard channels). */
static void register_names(struct coord *co, int kind, int delta, const struct sh_slice *names,
                           int n)
{
    struct shard *sh = co->conn->sh;
    int nshards = sh->srv->nshards;
    struct sh_slice *argv = sh_malloc(sizeof(*argv) * (size_t)(n + 4));
    int *owner = sh_malloc(sizeof(int) * (size_t)(n ? n : 1));
    char from[16];
    uint64_t h;

    snprintf(from, sizeof(from), "%d", sh->id);
    for (int i = 0; i < n; i++) {
        owner[i] = shard_owner(nshards, names[i].ptr, names[i].len, &h);
    }
    for (int s = 0; s < nshards; s++) {
        int k = 0;

        argv[k++] = (struct sh_slice){ "__psreg", 7 };
        argv[k++] = (struct sh_slice){ kind == KIND_SHARD ? "1" : "0", 1 };
        argv[k++] = (struct sh_slice){ delta > 0 ? "1" : "-1", delta > 0 ? 1u : 2u };
        argv[k++] = (struct sh_slice){ from, strlen(from) };
        for (int i = 0; i < n; i++) {
            if (kind == KIND_CHANNEL || owner[i] == s) {
                argv[k++] = names[i];
            }
        }
        if (k > 4) {
            coord_send(co, s, &spec_psreg, 0, k, argv);
        }
    }
    sh_free(owner);
    sh_free(argv);
}

/* Patterns are registered on every shard. */
static void register_patterns(struct coord *co, int delta, const struct sh_slice *pats, int n)
{
    struct shard *sh = co->conn->sh;
    struct sh_slice *argv;
    char from[16];

    if (n == 0) {
        return;
    }
    argv = sh_malloc(sizeof(*argv) * (size_t)(n + 3));
    snprintf(from, sizeof(from), "%d", sh->id);
    argv[0] = (struct sh_slice){ "__pspat", 7 };
    argv[1] = (struct sh_slice){ delta > 0 ? "1" : "-1", delta > 0 ? 1u : 2u };
    argv[2] = (struct sh_slice){ from, strlen(from) };
    memcpy(argv + 3, pats, sizeof(*argv) * (size_t)n);
    for (int s = 0; s < sh->srv->nshards; s++) {
        coord_send(co, s, &spec_pspat, 0, n + 3, argv);
    }
    sh_free(argv);
}

static int kind_of(const struct coord *co)
{
    return !strcmp(co->cmd->fullname, "ssubscribe") || !strcmp(co->cmd->fullname, "sunsubscribe")
                   ? KIND_SHARD
                   : KIND_CHANNEL;
}

static bool is_pattern_cmd(const struct coord *co)
{
    return co->cmd->fullname[0] == 'p';
}

static void sub_reply(struct coord *co, const char *what, const struct sh_slice *name, long n)
{
    /* a SUBSCRIBE queued in MULTI runs as EXEC's child: into EXEC's reply */
    struct reply r = { .buf = co->slot ? &co->slot->buf : co->out, .proto = co->proto };

    reply_push(&r, 3);
    reply_bulk_cstr(&r, what);
    if (name) {
        reply_bulk(&r, name->ptr, name->len);
    } else {
        reply_null(&r);
    }
    reply_int(&r, n);
}

/* What a (un)subscribe command works on: the connection's set, this
 * shard's lists, and where changes are registered. */
struct sub_target {
    bool pattern;
    int kind;
    struct kdict *set;   /* the connection's names */
    struct kdict *local; /* this shard's name -> connections */
};

static struct sub_target target_of(struct coord *co)
{
    struct conn *c = co->conn;
    struct psconn *psc = psconn_of(c);
    struct sub_target t = { .pattern = is_pattern_cmd(co) };

    t.kind = t.pattern ? KIND_CHANNEL : kind_of(co);
    t.set = t.pattern ? psc->pats : psc->chans[t.kind];
    t.local = t.pattern ? c->sh->ps->local_pat : c->sh->ps->local[t.kind];
    return t;
}

static void register_change(struct coord *co, const struct sub_target *t, int delta,
                            const struct sh_slice *names, int n)
{
    if (t->pattern) {
        register_patterns(co, delta, names, n);
    } else {
        register_names(co, t->kind, delta, names, n);
    }
}

/* SUBSCRIBE, SSUBSCRIBE, PSUBSCRIBE: local state and replies now,
 * registrations as this stage's parts; the reply is released when they are
 * counted. */
static void subscribe_start(struct coord *co)
{
    struct conn *c = co->conn;
    struct sub_target t = target_of(co);
    struct sh_slice *fresh = sh_malloc(sizeof(*fresh) * (size_t)co->argc);
    const char *what = t.pattern ? "psubscribe" : t.kind == KIND_SHARD ? "ssubscribe" : "subscribe";
    int nfresh = 0;

    for (int i = 1; i < co->argc; i++) {
        if (!dict_get(t.set, co->argv[i])) {
            dict_add(t.set, co->argv[i]);
            list_add(t.local, co->argv[i], c);
            fresh[nfresh++] = co->argv[i];
        }
        sub_reply(co, what, &co->argv[i], reply_count(c, t.kind));
    }
    register_change(co, &t, +1, fresh, nfresh);
    sh_free(fresh);
}

struct name_list {
    struct sh_slice *v;
    int n, cap;
    struct rbuf bytes;
};

static void collect_name(void *arg, struct kentry *e)
{
    struct name_list *l = arg;

    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = sh_realloc(l->v, sizeof(*l->v) * (size_t)l->cap);
    }
    /* offsets for now: the byte buffer may still move */
    l->v[l->n].ptr = (const char *)(uintptr_t)l->bytes.len;
    l->v[l->n].len = kentry_klen(e);
    rbuf_append(&l->bytes, kentry_key(e), kentry_klen(e));
    l->n++;
}

/* Every name of a set, copied (the set changes while they are used). */
static void collect_all(struct kdict *set, struct name_list *l)
{
    uint64_t cur = 0;

    memset(l, 0, sizeof(*l));
    rbuf_init(&l->bytes);
    do {
        cur = kdict_scan(set, cur, collect_name, l);
    } while (cur);
    for (int i = 0; i < l->n; i++) {
        l->v[i].ptr = l->bytes.data + (uintptr_t)l->v[i].ptr;
    }
}

static void unsubscribe_names(struct coord *co, const struct sh_slice *names, int n)
{
    struct conn *c = co->conn;
    struct sub_target t = target_of(co);
    const char *what = t.pattern              ? "punsubscribe"
                       : t.kind == KIND_SHARD ? "sunsubscribe"
                                              : "unsubscribe";
    struct sh_slice *gone = sh_malloc(sizeof(*gone) * (size_t)(n ? n : 1));
    int ngone = 0;

    for (int i = 0; i < n; i++) {
        struct kentry *e = dict_get(t.set, names[i]);

        if (e) {
            kdict_delete(t.set, e);
            list_remove(t.local, names[i].ptr, names[i].len, c);
            gone[ngone++] = names[i];
        }
        sub_reply(co, what, &names[i], reply_count(c, t.kind));
    }
    if (n == 0) {
        sub_reply(co, what, NULL, reply_count(c, t.kind));
    }
    register_change(co, &t, -1, gone, ngone);
    sh_free(gone);
}

static void unsubscribe_start(struct coord *co)
{
    struct name_list all;

    if (co->argc > 1) {
        unsubscribe_names(co, co->argv + 1, co->argc - 1);
        return;
    }
    collect_all(target_of(co).set, &all);
    unsubscribe_names(co, all.v, all.n);
    sh_free(all.v);
    rbuf_fini(&all.bytes);
}

static bool sub_done(struct coord *co, struct reply *r)
{
    (void)co;
    (void)r;
    return true; /* the replies were written by start */
}

static const struct gather gather_subscribe = { .start = subscribe_start,
                                                .done = sub_done,
                                                .always = true };
static const struct gather gather_unsubscribe = { .start = unsubscribe_start,
                                                  .done = sub_done,
                                                  .always = true };

/* The handlers of the subscribe family only run through their gathers. */
static void cmd_sub_unused(struct cmd_ctx *ctx)
{
    reply_error(&ctx->r, "ERR internal: subscribe without coordinator");
}

/* A closed connection's registrations, withdrawn without waiting: nobody
 * is left to reply to. kind < 0: patterns (every shard). */
static void unregister_gone(struct shard *sh, int kind, const struct sh_slice *names, int n)
{
    int nshards = sh->srv->nshards;
    struct sh_slice *argv;
    char from[16];
    int fixed = kind < 0 ? 3 : 4;
    uint64_t h;

    if (n == 0) {
        return;
    }
    argv = sh_malloc(sizeof(*argv) * (size_t)(n + fixed));
    snprintf(from, sizeof(from), "%d", sh->id);
    for (int s = 0; s < nshards; s++) {
        int k = 0;

        if (kind < 0) {
            argv[k++] = (struct sh_slice){ "__pspat", 7 };
        } else {
            argv[k++] = (struct sh_slice){ "__psreg", 7 };
            argv[k++] = (struct sh_slice){ kind == KIND_SHARD ? "1" : "0", 1 };
        }
        argv[k++] = (struct sh_slice){ "-1", 2 };
        argv[k++] = (struct sh_slice){ from, strlen(from) };
        for (int i = 0; i < n; i++) {
            if (kind != KIND_SHARD || shard_owner(nshards, names[i].ptr, names[i].len, &h) == s) {
                argv[k++] = names[i];
            }
        }
        if (k > fixed) {
            route_post(sh, s, kind < 0 ? &spec_pspat : &spec_psreg, 0, k, argv);
        }
    }
    sh_free(argv);
}

/* Drops every name of one of c's sets: from this shard's lists, and (unless
 * shutting down) from the registries. kind < 0: the pattern set. */
static void drop_set(struct conn *c, struct kdict *set, struct kdict *local, int kind)
{
    struct name_list all;

    collect_all(set, &all);
    for (int i = 0; i < all.n; i++) {
        list_remove(local, all.v[i].ptr, all.v[i].len, c);
    }
    if (!c->sh->stopping) {
        unregister_gone(c->sh, kind, all.v, all.n);
    }
    sh_free(all.v);
    rbuf_fini(&all.bytes);
    kdict_destroy(set);
}

void pubsub_conn_gone(struct conn *c)
{
    struct pubsub *ps = c->sh->ps;
    struct psconn *psc = c->ps;

    if (!psc) {
        return;
    }
    for (int k = 0; k < KINDS; k++) {
        drop_set(c, psc->chans[k], ps->local[k], k);
    }
    drop_set(c, psc->pats, ps->local_pat, -1);
    sh_free(psc);
    c->ps = NULL;
}

/* ---- PUBSUB introspection ---- */

void pubsub_stats(const struct pubsub *ps, long long *channels, long long *patterns,
                  long long *shard_channels)
{
    *channels = ps->owned;
    *patterns = (long long)kdict_size(ps->pat_reg);
    *shard_channels = (long long)kdict_size(ps->reg[KIND_SHARD]);
}

struct channel_list {
    struct reply *r;
    const struct sh_slice *pattern;
    const struct shard *sh;
    long long n;
};

static void list_channel(void *arg, struct kentry *e)
{
    struct channel_list *cl = arg;

    if (!owns(cl->sh, (struct sh_slice){ kentry_key(e), kentry_klen(e) })) {
        return; /* every shard has it: its owner lists it */
    }
    if (!cl->pattern ||
        glob_match(cl->pattern->ptr, cl->pattern->len, kentry_key(e), kentry_klen(e), false)) {
        reply_bulk(cl->r, kentry_key(e), kentry_klen(e));
        cl->n++;
    }
}

/* PUBSUB CHANNELS|SHARDCHANNELS [pattern]: the channels this shard owns
 * (gathered over every shard). Every shard's registry has every classic
 * channel; each lists those it owns, so each is listed once. */
static void channels_of(struct cmd_ctx *ctx, int kind)
{
    struct channel_list cl = { .r = &ctx->r,
                               .pattern = ctx->argc > 2 ? &ctx->argv[2] : NULL,
                               .sh = ctx->shard };
    size_t at;
    uint64_t cur = 0;

    if (ctx->argc > 3) {
        reply_errorf(&ctx->r,
                     "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try "
                     "PUBSUB HELP.",
                     (int)ctx->argv[1].len, ctx->argv[1].ptr);
        return;
    }
    at = reply_array_begin(&ctx->r);
    do {
        cur = kdict_scan(ctx->shard->ps->reg[kind], cur, list_channel, &cl);
    } while (cur);
    reply_array_end(&ctx->r, at, cl.n);
}

static void cmd_pubsub_channels(struct cmd_ctx *ctx)
{
    channels_of(ctx, KIND_CHANNEL);
}

static void cmd_pubsub_shardchannels(struct cmd_ctx *ctx)
{
    channels_of(ctx, KIND_SHARD);
}

/* PUBSUB NUMSUB|SHARDNUMSUB part: the counts of the channels this shard
 * owns, one per channel (0 for the others, summed by numsub_done). */
static void numsub_of(struct cmd_ctx *ctx, int kind)
{
    reply_array(&ctx->r, ctx->argc - 2);
    for (int i = 2; i < ctx->argc; i++) {
        struct kentry *e = NULL;

        if (kind == KIND_SHARD || owns(ctx->shard, ctx->argv[i])) {
            e = dict_get(ctx->shard->ps->reg[kind], ctx->argv[i]);
        }
        reply_int(&ctx->r, e ? ((struct psreg *)e->val.u.p)->total : 0);
    }
}

static void cmd_pubsub_numsub(struct cmd_ctx *ctx)
{
    numsub_of(ctx, KIND_CHANNEL);
}

static void cmd_pubsub_shardnumsub(struct cmd_ctx *ctx)
{
    numsub_of(ctx, KIND_SHARD);
}

/* Sums the parts position by position: [channel, count, ...]. */
static bool numsub_done(struct coord *co, struct reply *r)
{
    int n = co->argc - 2;
    long long *sum = sh_calloc((size_t)(n ? n : 1), sizeof(long long));

    for (int s = 0; s < co->nshards; s++) {
        struct sh_slice p = coord_part(co, s);
        const char *at = p.ptr, *end = p.ptr + p.len;

        if (!p.len || p.ptr[0] != '*') {
            continue;
        }
        at = memchr(at, '\n', (size_t)(end - at));
        if (!at) {
            continue;
        }
        at++;
        for (int i = 0; i < n && at < end; i++) {
            const char *cr = memchr(at, '\r', (size_t)(end - at));
            long long v = 0;

            if (!cr || !util_str2ll(at + 1, (size_t)(cr - at - 1), &v)) {
                break;
            }
            sum[i] += v;
            at = cr + 2;
        }
    }
    reply_array(r, 2LL * n);
    for (int i = 0; i < n; i++) {
        reply_bulk(r, co->argv[i + 2].ptr, co->argv[i + 2].len);
        reply_int(r, sum[i]);
    }
    sh_free(sum);
    return true;
}

static const struct gather gather_numsub = { .start = coord_start_fanout,
                                             .done = numsub_done,
                                             .always = true };

/* Patterns are registered everywhere: this shard knows them all. */
static void cmd_pubsub_numpat(struct cmd_ctx *ctx)
{
    reply_int(&ctx->r, (long long)kdict_size(ctx->shard->ps->pat_reg));
}

static void cmd_pubsub_help(struct cmd_ctx *ctx)
{
    /* clang-format off: one literal per line */
    static const char *const lines[] = {
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help.",
    };
    /* clang-format on */

    reply_array(&ctx->r, (long long)SH_ARRAY_LEN(lines));
    for (size_t i = 0; i < SH_ARRAY_LEN(lines); i++) {
        reply_status(&ctx->r, lines[i]);
    }
}

void pubsub_bind(void)
{
    cmd_must_bind("subscribe", cmd_sub_unused, CMD_ROUTE_ALL, &gather_subscribe);
    cmd_must_bind("psubscribe", cmd_sub_unused, CMD_ROUTE_ALL, &gather_subscribe);
    cmd_must_bind("ssubscribe", cmd_sub_unused, CMD_ROUTE_ALL, &gather_subscribe);
    cmd_must_bind("unsubscribe", cmd_sub_unused, CMD_ROUTE_ALL, &gather_unsubscribe);
    cmd_must_bind("punsubscribe", cmd_sub_unused, CMD_ROUTE_ALL, &gather_unsubscribe);
    cmd_must_bind("sunsubscribe", cmd_sub_unused, CMD_ROUTE_ALL, &gather_unsubscribe);
    /* a keyless CMD_ROUTE_KEY command runs on the client's core (or the
     * core of its script or transaction): deliveries leave from there */
    cmd_must_bind("publish", cmd_publish, CMD_ROUTE_KEY, NULL);
    cmd_must_bind("spublish", cmd_spublish, CMD_ROUTE_CHANNEL, NULL);
    cmd_must_bind("pubsub|channels", cmd_pubsub_channels, CMD_ROUTE_ALL, &gather_concat_all);
    cmd_must_bind("pubsub|shardchannels", cmd_pubsub_shardchannels, CMD_ROUTE_ALL,
                  &gather_concat_all);
    cmd_must_bind("pubsub|numsub", cmd_pubsub_numsub, CMD_ROUTE_ALL, &gather_numsub);
    cmd_must_bind("pubsub|shardnumsub", cmd_pubsub_shardnumsub, CMD_ROUTE_ALL, &gather_numsub);
    cmd_must_bind("pubsub|numpat", cmd_pubsub_numpat, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("pubsub|help", cmd_pubsub_help, CMD_ROUTE_CONN, NULL);
}
