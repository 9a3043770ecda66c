/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rdb_stream.c: the stream part of the RDB value codec (rdb.h): Redis 7.0's
 * STREAM_LISTPACKS_2 written, it and STREAM_LISTPACKS (6.x) read.
 *
 *   nodes      count, then (master ID as a 16-byte big-endian string,
 *              listpack string) each
 *   metadata   length, last_id, [v2: first_id, max_deleted_entry_id,
 *              entries_added] (IDs as two lengths)
 *   groups     count, then name, last_id, [v2: entries_read], the global
 *              PEL (count, then raw 16-byte ID, delivery ms 8 bytes LE,
 *              delivery count), consumers (count, then name, seen ms, PEL:
 *              count and raw IDs)
 *
 * Reading checks everything before it is used (tstream_node_validate for
 * each node, order, length, owners of pending entries): a corrupt payload
 * is an error, never a crash, and costs O(its bytes) of memory.
 *
 * Threading: none; values belong to the caller's shard.
 */
#include "rdb_stream.h"

#include "shardis/lpack.h"
#include "shardis/tstream.h"

#include <string.h>

static uint64_t rd_be(const unsigned char *p, unsigned n)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

/* An ID as a stream's keys are: ms then seq, 8 bytes big-endian each. */
static void raw_id(unsigned char b[static 16], const struct tstream_id *id)
{
    for (unsigned i = 0; i < 8; i++) {
        b[i] = (unsigned char)(id->ms >> (56 - 8 * i));
        b[8 + i] = (unsigned char)(id->seq >> (56 - 8 * i));
    }
}

static void put_raw_id(struct rdb_out *o, const struct tstream_id *id)
{
    unsigned char b[16];

    raw_id(b, id);
    rdb_put_raw(o, b, sizeof(b));
}

static void put_id(struct rdb_out *o, const struct tstream_id *id)
{
    rdb_put_len(o, id->ms);
    rdb_put_len(o, id->seq);
}

/* A PEL: its size, then each ID and (nacks) its delivery time and count. */
static void put_pel(struct rdb_out *o, const struct tstream_map *pel, bool nacks)
{
    struct tstream_map_pos pos;
    bool more = tstream_map_seek(pel, NULL, true, &pos);

    rdb_put_len(o, pel->count);
    while (more) {
        const struct tstream_nack *n = tstream_map_val(pel, pos);

        put_raw_id(o, tstream_map_key(pel, pos));
        if (nacks) {
            rdb_put_ms(o, n->delivery_time);
            rdb_put_len(o, n->delivery_count);
        }
        more = tstream_map_next(pel, &pos);
    }
}

/* STREAM_LISTPACKS_2 as Redis 7.0's rdbSaveObject: the nodes (master ID as
 * a 16-byte string, the listpack as it is), length, last_id, first_id,
 * max_deleted_entry_id, entries_added, then each group (name, last_id,
 * entries_read, global PEL, consumers with seen-time and their PEL IDs). */
void rdb_put_stream(struct rdb_out *o, const struct tstream *s)
{
    struct tstream_node_iter it = { .started = false };
    struct tstream_id master;
    const unsigned char *lp;

    rdb_put_len(o, tstream_nodes(s));
    while (tstream_node_next(s, &it, &master, &lp)) {
        unsigned char kb[16];

        raw_id(kb, &master);
        rdb_put_string(o, kb, sizeof(kb));
        rdb_put_string(o, lp, lpack_bytes(lp));
    }
    rdb_put_len(o, s->length);
    put_id(o, &s->last_id);
    put_id(o, &s->first_id);
    put_id(o, &s->max_deleted_id);
    rdb_put_len(o, s->entries_added);
    rdb_put_len(o, s->ngroups);
    for (size_t i = 0; i < s->ngroups; i++) {
        const struct tstream_group *g = s->groups[i];

        rdb_put_string(o, g->name, g->nlen);
        put_id(o, &g->last_id);
        rdb_put_len(o, (uint64_t)g->entries_read);
        put_pel(o, &g->pel, true);
        rdb_put_len(o, g->nconsumers);
        for (size_t j = 0; j < g->nconsumers; j++) {
            const struct tstream_consumer *c = g->consumers[j];

            rdb_put_string(o, c->name, c->nlen);
            rdb_put_ms(o, c->seen_time);
            put_pel(o, &c->pel, false);
        }
    }
}

/* ---- reading: streams ---- */

static bool get_raw_id(struct rdb_in *in, struct tstream_id *id)
{
    const unsigned char *p;

    if (!rdb_get_raw(in, 16, &p)) {
        return false;
    }
    id->ms = rd_be(p, 8);
    id->seq = rd_be(p + 8, 8);
    return true;
}

static bool get_id(struct rdb_in *in, struct tstream_id *id)
{
    return rdb_get_len(in, &id->ms, NULL) && rdb_get_len(in, &id->seq, NULL);
}

/* One node: its 16-byte master ID, then the listpack, checked and taken.
 * *last is the previous node's last live entry (NULL for the first node):
 * this node's master and entries must come after it. */
static bool get_stream_node(struct rdb_in *in, struct tstream *s, const struct tstream_id *prev,
                            uint64_t *live, struct tstream_id *last)
{
    struct tstream_id master, first;
    struct rdb_str k, b;
    unsigned char *lp;
    bool ok;

    if (!rdb_get_string(in, &k)) {
        return false;
    }
    ok = k.len == 16;
    if (ok) {
        master.ms = rd_be((const unsigned char *)k.p, 8);
        master.seq = rd_be((const unsigned char *)k.p + 8, 8);
    }
    rdb_str_free(&k);
    if (!ok) {
        return rdb_fail(in, "stream node key is not an ID");
    }
    if (prev && tstream_id_cmp(&master, prev) <= 0) {
        return rdb_fail(in, "stream nodes out of order");
    }
    if (!rdb_get_string(in, &b)) {
        return false;
    }
    if (tstream_node_validate((const unsigned char *)b.p, b.len, &master, live, &first, last) !=
        0) {
        rdb_str_free(&b);
        return rdb_fail(in, "bad stream node");
    }
    lp = b.owned ? (unsigned char *)b.owned : (unsigned char *)sh_memdup(b.p, b.len);
    b.owned = NULL;
    rdb_str_free(&b);
    SH_ASSERT(tstream_node_insert(s, &master, lp));
    return true;
}

/* The nodes, then length, last_id and (v2) first_id, max_deleted_entry_id
 * and entries_added; for STREAM_LISTPACKS (v1) those three are computed as
 * Redis's loader does. The length must be the nodes' live entries and
 * last_id at least the last of them. */
static bool get_stream_body(struct rdb_in *in, struct tstream *s, bool v2)
{
    struct tstream_id last = { 0, 0 };
    uint64_t n, live = 0, cnt;

    if (!rdb_get_len(in, &n, NULL)) {
        return false;
    }
    for (uint64_t i = 0; i < n; i++) {
        if (!get_stream_node(in, s, i ? &last : NULL, &cnt, &last)) {
            return false;
        }
        live += cnt;
    }
    if (!rdb_get_len(in, &s->length, NULL) || !get_id(in, &s->last_id)) {
        return false;
    }
    if (v2) {
        if (!get_id(in, &s->first_id) || !get_id(in, &s->max_deleted_id) ||
            !rdb_get_len(in, &s->entries_added, NULL)) {
            return false;
        }
    } else {
        s->max_deleted_id = (struct tstream_id){ 0, 0 };
        s->entries_added = s->length;
        tstream_edge_id(s, true, &s->first_id);
    }
    if (s->length != live) {
        return rdb_fail(in, "stream length does not match its entries");
    }
    if (tstream_id_cmp(&s->last_id, &last) < 0) {
        return rdb_fail(in, "stream last ID below its entries");
    }
    if (s->entries_added < s->length || tstream_id_cmp(&s->max_deleted_id, &s->last_id) > 0) {
        return rdb_fail(in, "inconsistent stream metadata");
    }
    return true;
}

/* A group's PEL entry while its owner is not known yet. */
struct pel_ent {
    struct tstream_id id;
    int64_t time;
    uint64_t count;
    struct tstream_consumer *c;
};

static struct pel_ent *pel_find(struct pel_ent *pel, size_t n, const struct tstream_id *id)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = tstream_id_cmp(&pel[mid].id, id);

        if (cmp == 0) {
            return &pel[mid];
        }
        if (cmp < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

/* The global PEL: IDs strictly ascending (the order Redis writes them in,
 * which also rules out repeats). The array grows with what is read, not
 * with the count claimed. */
static bool get_group_pel(struct rdb_in *in, struct pel_ent **pel, size_t *npel)
{
    size_t cap = 0;
    uint64_t n;

    if (!rdb_get_len(in, &n, NULL)) {
        return false;
    }
    for (uint64_t i = 0; i < n; i++) {
        struct pel_ent e = { .c = NULL };

        if (!get_raw_id(in, &e.id) || !rdb_get_ms(in, &e.time) ||
            !rdb_get_len(in, &e.count, NULL)) {
            return false;
        }
        if (*npel && tstream_id_cmp(&e.id, &(*pel)[*npel - 1].id) <= 0) {
            return rdb_fail(in, "stream PEL out of order");
        }
        if (*npel == cap) {
            cap = cap ? cap * 2 : 16;
            *pel = sh_realloc(*pel, cap * sizeof(**pel));
        }
        (*pel)[(*npel)++] = e;
    }
    return true;
}

/* The consumers: each name (unique), seen-time and the IDs it owns, each
 * of which must be in the group's PEL and owned by no other consumer. */
static bool get_consumers(struct rdb_in *in, struct tstream_group *g, struct pel_ent *pel,
                          size_t npel)
{
    uint64_t n, m;

    if (!rdb_get_len(in, &n, NULL)) {
        return false;
    }
    for (uint64_t i = 0; i < n; i++) {
        struct tstream_consumer *c;
        struct rdb_str name;
        int64_t seen;

        if (!rdb_get_string(in, &name)) {
            return false;
        }
        c = rdb_get_ms(in, &seen) ? tstream_consumer_create(g, name.p, name.len, seen) : NULL;
        rdb_str_free(&name);
        if (!c) {
            return rdb_fail(in, "bad or duplicate stream consumer");
        }
        if (!rdb_get_len(in, &m, NULL)) {
            return false;
        }
        for (uint64_t j = 0; j < m; j++) {
            struct tstream_id id;
            struct pel_ent *e;

            if (!get_raw_id(in, &id)) {
                return false;
            }
            e = pel_find(pel, npel, &id);
            if (!e || e->c) {
                return rdb_fail(in, "consumer PEL entry not in the group PEL or owned twice");
            }
            e->c = c;
        }
    }
    return true;
}

/* One group: name, last_id, (v2) entries_read, global PEL, consumers. */
static bool get_stream_group(struct rdb_in *in, struct tstream *s, bool v2)
{
    struct tstream_group *g = NULL;
    struct pel_ent *pel = NULL;
    struct tstream_id last;
    struct rdb_str name;
    size_t npel = 0;
    uint64_t er = 0;
    bool ok;

    if (!rdb_get_string(in, &name)) {
        return false;
    }
    ok = get_id(in, &last) && (!v2 || rdb_get_len(in, &er, NULL));
    if (ok) {
        if (!v2) {
            er = (uint64_t)tstream_estimate_distance(s, &last);
        }
        g = tstream_group_create(s, name.p, name.len, &last, (long long)er);
        ok = g || rdb_fail(in, "duplicate stream group");
    }
    rdb_str_free(&name);
    ok = ok && get_group_pel(in, &pel, &npel) && get_consumers(in, g, pel, npel);
    for (size_t i = 0; ok && i < npel; i++) {
        ok = pel[i].c || rdb_fail(in, "stream PEL entry without a consumer");
    }
    for (size_t i = 0; ok && i < npel; i++) {
        (void)tstream_pel_add(g, pel[i].c, &pel[i].id, pel[i].time, pel[i].count);
    }
    sh_free(pel);
    return ok;
}

/* STREAM_LISTPACKS (Redis 6.x / 7.0 release candidates) and _2 (7.0). An
 * empty stream is a valid value (Redis keeps them: XADD NOMKSTREAM aside,
 * XDEL and XTRIM leave the key). */
bool rdb_get_stream(struct rdb_in *in, int type, struct kval *out)
{
    bool v2 = type == RDB_TYPE_STREAM_LISTPACKS_2;
    struct tstream *s;
    uint64_t n;

    tstream_init(out);
    s = tstream_of(out);
    if (!get_stream_body(in, s, v2) || !rdb_get_len(in, &n, NULL)) {
        goto out_clear;
    }
    for (uint64_t i = 0; i < n; i++) {
        if (!get_stream_group(in, s, v2)) {
            goto out_clear;
        }
    }
    return true;
out_clear:
    kval_clear(out);
    return false;
}

static bool skip_stream_pel(struct rdb_in *in, bool nacks)
{
    const unsigned char *p;
    uint64_t n, x;

    if (!rdb_get_len(in, &n, NULL)) {
        return false;
    }
    for (uint64_t i = 0; i < n; i++) {
        if (!rdb_get_raw(in, nacks ? 24 : 16, &p) || (nacks && !rdb_get_len(in, &x, NULL))) {
            return false;
        }
    }
    return true;
}

bool rdb_skip_stream(struct rdb_in *in, bool v2)
{
    const unsigned char *p;
    uint64_t n, x;

    if (!rdb_get_len(in, &n, NULL)) {
        return false;
    }
    for (uint64_t i = 0; i < n; i++) {
        if (!rdb_skip_string(in) || !rdb_skip_string(in)) {
            return false;
        }
    }
    for (int k = 0; k < (v2 ? 8 : 3); k++) {
        if (!rdb_get_len(in, &x, NULL)) {
            return false;
        }
    }
    if (!rdb_get_len(in, &n, NULL)) {
        return false;
    }
    for (uint64_t i = 0; i < n; i++) {
        uint64_t nc;

        if (!rdb_skip_string(in) || !rdb_get_len(in, &x, NULL) || !rdb_get_len(in, &x, NULL) ||
            (v2 && !rdb_get_len(in, &x, NULL)) || !skip_stream_pel(in, true) ||
            !rdb_get_len(in, &nc, NULL)) {
            return false;
        }
        for (uint64_t j = 0; j < nc; j++) {
            if (!rdb_skip_string(in) || !rdb_get_raw(in, 8, &p) || !skip_stream_pel(in, false)) {
                return false;
            }
        }
    }
    return true;
}
