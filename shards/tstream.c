/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tstream.c: the stream type, Redis 7.0's encoding (t_stream.c).
 *
 * A stream is a sequence of nodes, each a listpack holding entries whose IDs
 * are at least the node's master ID (the ID of the first entry put in it).
 * The index from master ID to node is an ordered map (sorted chunks of
 * slots) in place of Redis's radix tree; the nodes themselves are Redis's:
 *
 *   master entry:
 *   +-------+---------+------------+---------+--/--+---------+---+
 *   | count | deleted | num-fields | field_1 | ... | field_N | 0 |
 *   +-------+---------+------------+---------+--/--+---------+---+
 *   then each entry:
 *   +-----+--------+--------+------------+-------+-------+-/-+---------+--------+
 *   |flags|ms-diff |seq-diff| num-fields |field_1|value_1|...| value_N |lp-count|
 *   +-----+--------+--------+------------+-------+-------+-/-+---------+--------+
 *   or, with flag SAMEFIELDS (the master's fields, in order):
 *   +-----+--------+--------+-------+-/-+-------+--------+
 *   |flags|ms-diff |seq-diff|value_1|...|value_N|lp-count|
 *   +-----+--------+--------+-------+-/-+-------+--------+
 *
 * count and deleted count the live and the deleted-flagged entries; the
 * IDs are differences from the master ID; lp-count is the number of items
 * of the entry before it (so a backward walk jumps to the flags), and the
 * master's 0 terminator plays that part for the master entry. Deleting an
 * entry sets flag DELETED (1); a node whose count drops to 0 is freed.
 *
 * Consumer groups are sorted arrays (by name, as a radix tree orders them)
 * of groups, each with a PEL map owning struct tstream_nack and a sorted
 * array of consumers whose PEL maps borrow the same nacks.
 *
 * Threading: none; a value belongs to the shard that owns its key.
 */
#include "shardis/tstream.h"

#include "shardis/util.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#define FLAG_DELETED    1
#define FLAG_SAMEFIELDS 2
#define CHUNK_MAX       64
#define CHUNK_MIN       4

/* ---- IDs ---- */

int tstream_id_cmp(const struct tstream_id *a, const struct tstream_id *b)
{
    if (a->ms != b->ms) {
        return a->ms > b->ms ? 1 : -1;
    }
    if (a->seq != b->seq) {
        return a->seq > b->seq ? 1 : -1;
    }
    return 0;
}

bool tstream_id_incr(struct tstream_id *id)
{
    if (id->seq == UINT64_MAX) {
        if (id->ms == UINT64_MAX) {
            return false;
        }
        id->ms++;
        id->seq = 0;
        return true;
    }
    id->seq++;
    return true;
}

bool tstream_id_decr(struct tstream_id *id)
{
    if (id->seq == 0) {
        if (id->ms == 0) {
            return false;
        }
        id->ms--;
        id->seq = UINT64_MAX;
        return true;
    }
    id->seq--;
    return true;
}

static size_t fmt_u64(char *p, uint64_t v)
{
    char tmp[24];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++) {
        p[i] = tmp[n - 1 - i];
    }
    return n;
}

size_t tstream_id_fmt(char buf[static TSTREAM_ID_BUF], const struct tstream_id *id)
{
    size_t n = fmt_u64(buf, id->ms);

    buf[n++] = '-';
    n += fmt_u64(buf + n, id->seq);
    buf[n] = '\0';
    return n;
}

/* ---- the ordered map ---- */

struct tstream_slot {
    struct tstream_id id;
    void *val;
};

struct tstream_chunk {
    uint32_t n, cap;
    struct tstream_slot e[];
};

static struct tstream_chunk *chunk_new(uint32_t cap)
{
    struct tstream_chunk *c = sh_malloc(sizeof(*c) + cap * sizeof(c->e[0]));

    c->n = 0;
    c->cap = cap;
    return c;
}

void tstream_map_init(struct tstream_map *m)
{
    memset(m, 0, sizeof(*m));
}

void tstream_map_fini(struct tstream_map *m, tstream_free_fn *fn)
{
    for (size_t c = 0; c < m->nchunks; c++) {
        for (uint32_t i = 0; fn && i < m->chunks[c]->n; i++) {
            fn(m->chunks[c]->e[i].val);
        }
        sh_free(m->chunks[c]);
    }
    sh_free(m->chunks);
    memset(m, 0, sizeof(*m));
}

/* The last chunk whose first ID <= id, or 0 when id precedes them all. */
static size_t find_chunk(const struct tstream_map *m, const struct tstream_id *id)
{
    size_t lo = 0, hi = m->nchunks;

    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;

        if (tstream_id_cmp(&m->chunks[mid]->e[0].id, id) <= 0) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* The first slot of c >= id (c->n when none). */
static uint32_t lower_bound(const struct tstream_chunk *c, const struct tstream_id *id)
{
    uint32_t lo = 0, hi = c->n;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;

        if (tstream_id_cmp(&c->e[mid].id, id) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

void *tstream_map_get(const struct tstream_map *m, const struct tstream_id *id)
{
    const struct tstream_chunk *c;
    uint32_t i;

    if (!m->nchunks) {
        return NULL;
    }
    c = m->chunks[find_chunk(m, id)];
    i = lower_bound(c, id);
    return i < c->n && tstream_id_cmp(&c->e[i].id, id) == 0 ? c->e[i].val : NULL;
}

/* Makes room for chunk index at (shifting the later ones). */
static void chunks_insert(struct tstream_map *m, size_t at, struct tstream_chunk *c)
{
    if (m->nchunks == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 1;
        m->chunks = sh_realloc(m->chunks, m->cap * sizeof(*m->chunks));
    }
    memmove(m->chunks + at + 1, m->chunks + at, (m->nchunks - at) * sizeof(*m->chunks));
    m->chunks[at] = c;
    m->nchunks++;
}

static void chunks_remove(struct tstream_map *m, size_t at)
{
    sh_free(m->chunks[at]);
    memmove(m->chunks + at, m->chunks + at + 1, (m->nchunks - at - 1) * sizeof(*m->chunks));
    m->nchunks--;
    if (!m->nchunks) {
        sh_free(m->chunks);
        m->chunks = NULL;
        m->cap = 0;
    }
}

/* Splits full chunk ci (at insertion index i); returns the chunk and the
 * index the new slot goes to through *ci and *i. An append at the very end
 * starts an empty chunk, so that append-only maps keep full chunks. */
static void chunk_split(struct tstream_map *m, size_t *ci, uint32_t *i)
{
    struct tstream_chunk *c = m->chunks[*ci], *d;
    uint32_t half = c->n / 2;

    if (*ci == m->nchunks - 1 && *i == c->n) {
        chunks_insert(m, *ci + 1, chunk_new(CHUNK_MIN));
        (*ci)++;
        *i = 0;
        return;
    }
    d = chunk_new(CHUNK_MAX);
    memcpy(d->e, c->e + half, (c->n - half) * sizeof(c->e[0]));
    d->n = c->n - half;
    c->n = half;
    chunks_insert(m, *ci + 1, d);
    if (*i > half) {
        (*ci)++;
        *i -= half;
    }
}

void *tstream_map_put(struct tstream_map *m, const struct tstream_id *id, void *val)
{
    struct tstream_chunk *c;
    size_t ci;
    uint32_t i;

    if (!m->nchunks) {
        chunks_insert(m, 0, chunk_new(CHUNK_MIN));
    }
    ci = find_chunk(m, id);
    c = m->chunks[ci];
    i = lower_bound(c, id);
    if (i < c->n && tstream_id_cmp(&c->e[i].id, id) == 0) {
        void *old = c->e[i].val;

        c->e[i].val = val;
        return old;
    }
    if (c->n == CHUNK_MAX) {
        chunk_split(m, &ci, &i);
        c = m->chunks[ci];
    }
    if (c->n == c->cap) {
        c->cap = c->cap * 2 > CHUNK_MAX ? CHUNK_MAX : c->cap * 2;
        c = sh_realloc(c, sizeof(*c) + c->cap * sizeof(c->e[0]));
        m->chunks[ci] = c;
    }
    memmove(c->e + i + 1, c->e + i, (c->n - i) * sizeof(c->e[0]));
    c->e[i].id = *id;
    c->e[i].val = val;
    c->n++;
    m->count++;
    return NULL;
}

void *tstream_map_del(struct tstream_map *m, const struct tstream_id *id)
{
    struct tstream_chunk *c;
    size_t ci;
    uint32_t i;
    void *val;

    if (!m->nchunks) {
        return NULL;
    }
    ci = find_chunk(m, id);
    c = m->chunks[ci];
    i = lower_bound(c, id);
    if (i == c->n || tstream_id_cmp(&c->e[i].id, id) != 0) {
        return NULL;
    }
    val = c->e[i].val;
    memmove(c->e + i, c->e + i + 1, (c->n - i - 1) * sizeof(c->e[0]));
    c->n--;
    m->count--;
    if (!c->n) {
        chunks_remove(m, ci);
    } else if (c->cap > CHUNK_MIN && c->n < c->cap / 4) {
        c->cap /= 2;
        m->chunks[ci] = sh_realloc(c, sizeof(*c) + c->cap * sizeof(c->e[0]));
    }
    return val;
}

bool tstream_map_seek(const struct tstream_map *m, const struct tstream_id *id, bool ge,
                      struct tstream_map_pos *pos)
{
    const struct tstream_chunk *c;
    uint32_t i;

    if (!m->nchunks) {
        return false;
    }
    if (!id) {
        pos->c = ge ? 0 : m->nchunks - 1;
        pos->i = ge ? 0 : m->chunks[pos->c]->n - 1;
        return true;
    }
    pos->c = find_chunk(m, id);
    c = m->chunks[pos->c];
    i = lower_bound(c, id);
    if (ge) {
        if (i == c->n) {
            if (pos->c + 1 == m->nchunks) {
                return false;
            }
            pos->c++;
            i = 0;
        }
        pos->i = i;
        return true;
    }
    if (i < c->n && tstream_id_cmp(&c->e[i].id, id) == 0) {
        pos->i = i;
        return true;
    }
    if (i == 0) {
        return false; /* only in chunk 0: id precedes every slot */
    }
    pos->i = i - 1;
    return true;
}

bool tstream_map_next(const struct tstream_map *m, struct tstream_map_pos *pos)
{
    if (pos->i + 1 < m->chunks[pos->c]->n) {
        pos->i++;
        return true;
    }
    if (pos->c + 1 >= m->nchunks) {
        return false;
    }
    pos->c++;
    pos->i = 0;
    return true;
}

bool tstream_map_prev(const struct tstream_map *m, struct tstream_map_pos *pos)
{
    if (pos->i > 0) {
        pos->i--;
        return true;
    }
    if (pos->c == 0) {
        return false;
    }
    pos->c--;
    pos->i = m->chunks[pos->c]->n - 1;
    return true;
}

const struct tstream_id *tstream_map_key(const struct tstream_map *m, struct tstream_map_pos pos)
{
    return &m->chunks[pos.c]->e[pos.i].id;
}

void *tstream_map_val(const struct tstream_map *m, struct tstream_map_pos pos)
{
    return m->chunks[pos.c]->e[pos.i].val;
}

size_t tstream_map_memory(const struct tstream_map *m)
{
    size_t n = m->chunks ? sh_alloc_size(m->chunks) : 0;

    for (size_t c = 0; c < m->nchunks; c++) {
        n += sh_alloc_size(m->chunks[c]);
    }
    return n;
}

/* ---- listpack helpers ---- */

static long long lp_int(const unsigned char *p)
{
    long long v = 0;
    bool ok = lpack_get_int(p, &v);

    SH_ASSERT(ok);
    return v;
}

static unsigned char *lp_append_int(unsigned char *lp, long long v)
{
    return lpack_append_int(lp, v);
}

static unsigned char *lp_replace_int(unsigned char *lp, const unsigned char **p, long long v)
{
    char buf[24];
    size_t n = util_ll2str(buf, v);

    return lpack_replace(lp, p, buf, n);
}

static const unsigned char *lp_skip(const unsigned char *lp, const unsigned char *p, long long n)
{
    while (n-- > 0) {
        p = lpack_next(lp, p);
    }
    return p;
}

/* From an entry's lp-count p, its flags (lp-count counts the items
 * before it); NULL when p is the master's 0 terminator. */
static const unsigned char *lp_skip_back(const unsigned char *lp, const unsigned char *p)
{
    long long n = lp_int(p);

    if (n == 0) {
        return NULL;
    }
    while (n-- > 0) {
        p = lpack_prev(lp, p);
    }
    return p;
}

/* The master entry of a node: *mfields fields starting at *mfirst; returns
 * the first entry's flags (or NULL when the node has none left). */
static const unsigned char *node_master(const unsigned char *lp, const unsigned char **mfirst,
                                        long long *mfields)
{
    const unsigned char *p = lpack_first(lp);

    p = lpack_next(lp, p); /* deleted */
    p = lpack_next(lp, p); /* num-fields */
    *mfields = lp_int(p);
    p = lpack_next(lp, p);
    *mfirst = p;
    p = lp_skip(lp, p, *mfields); /* the 0 terminator */
    return lpack_next(lp, p);
}

/* One entry's header, read at its flags p. */
struct ent {
    long long flags, nfields;
    struct tstream_id id;
    const unsigned char *flagsp, *data, *next; /* first field or value; the next entry */
};

static void read_ent(const unsigned char *lp, const unsigned char *p,
                     const struct tstream_id *master, long long mfields, struct ent *e)
{
    e->flagsp = p;
    e->flags = lp_int(p);
    p = lpack_next(lp, p);
    e->id.ms = master->ms + (uint64_t)lp_int(p);
    p = lpack_next(lp, p);
    e->id.seq = master->seq + (uint64_t)lp_int(p);
    p = lpack_next(lp, p);
    if (e->flags & FLAG_SAMEFIELDS) {
        e->nfields = mfields;
        e->data = p;
        p = lp_skip(lp, p, mfields);
    } else {
        e->nfields = lp_int(p);
        p = lpack_next(lp, p);
        e->data = p;
        p = lp_skip(lp, p, e->nfields * 2);
    }
    e->next = lpack_next(lp, p); /* past lp-count */
}

/* ---- the stream ---- */

void tstream_init(struct kval *v)
{
    struct tstream *s = sh_malloc(sizeof(*s));

    memset(s, 0, sizeof(*s));
    tstream_map_init(&s->nodes);
    v->type = KVAL_STREAM;
    v->enc = KVAL_ENC_STREAM;
    v->u.p = s;
}

static void free_lp(void *lp)
{
    lpack_destroy(lp);
}

static void group_free(struct tstream_group *g)
{
    for (size_t i = 0; i < g->nconsumers; i++) {
        tstream_map_fini(&g->consumers[i]->pel, NULL);
        sh_free(g->consumers[i]);
    }
    sh_free(g->consumers);
    tstream_map_fini(&g->pel, sh_free);
    sh_free(g);
}

void tstream_free(struct kval *v)
{
    struct tstream *s = tstream_of(v);

    if (!s) {
        return;
    }
    tstream_map_fini(&s->nodes, free_lp);
    for (size_t i = 0; i < s->ngroups; i++) {
        group_free(s->groups[i]);
    }
    sh_free(s->groups);
    sh_free(s);
    v->u.p = NULL;
}

size_t tstream_memory(const struct kval *v)
{
    const struct tstream *s = tstream_of(v);
    struct tstream_map_pos pos;
    size_t n = sh_alloc_size(s) + tstream_map_memory(&s->nodes);
    bool more = tstream_map_seek(&s->nodes, NULL, true, &pos);

    while (more) {
        n += lpack_bytes(tstream_map_val(&s->nodes, pos));
        more = tstream_map_next(&s->nodes, &pos);
    }
    if (s->groups) {
        n += sh_alloc_size(s->groups);
    }
    for (size_t i = 0; i < s->ngroups; i++) {
        const struct tstream_group *g = s->groups[i];

        n += sh_alloc_size(g) + tstream_map_memory(&g->pel);
        n += g->pel.count * sizeof(struct tstream_nack);
        if (g->consumers) {
            n += sh_alloc_size(g->consumers);
        }
        for (size_t j = 0; j < g->nconsumers; j++) {
            n += sh_alloc_size(g->consumers[j]) + tstream_map_memory(&g->consumers[j]->pel);
        }
    }
    return n;
}

size_t tstream_nodes(const struct tstream *s)
{
    return s->nodes.count;
}

/* Whether the tail node lp can take an entry of elelen field+value bytes
 * (Redis 7.0's rules: total bytes, then entries counting deleted ones). */
static bool node_has_room(const unsigned char *lp, size_t elelen, const struct tstream_limits *lim)
{
    size_t max_bytes = (size_t)lim->node_max_bytes;
    const unsigned char *p;

    if (max_bytes == 0 || max_bytes > TSTREAM_LP_MAX_SIZE) {
        max_bytes = TSTREAM_LP_MAX_SIZE;
    }
    if (lpack_bytes(lp) + elelen >= max_bytes) {
        return false;
    }
    if (lim->node_max_entries) {
        p = lpack_first(lp);
        if (lp_int(p) + lp_int(lpack_next(lp, p)) >= lim->node_max_entries) {
            return false;
        }
    }
    return true;
}

/* A new node for id with the fields of fv as its master entry. */
static unsigned char *node_new(const struct sh_slice *fv, size_t nfields)
{
    unsigned char *lp = lpack_create();

    lp = lp_append_int(lp, 1);
    lp = lp_append_int(lp, 0);
    lp = lp_append_int(lp, (long long)nfields);
    for (size_t i = 0; i < nfields; i++) {
        lp = lpack_append(lp, fv[2 * i].ptr, fv[2 * i].len);
    }
    return lp_append_int(lp, 0);
}

/* Counts one more entry in node lp; returns it and whether fv's fields are
 * the master's. */
static unsigned char *node_count_entry(unsigned char *lp, const struct sh_slice *fv, size_t nfields,
                                       bool *same)
{
    const unsigned char *p = lpack_first(lp), *mf;
    long long mfields;

    lp = lp_replace_int(lp, &p, lp_int(p) + 1);
    (void)node_master(lp, &mf, &mfields);
    *same = (size_t)mfields == nfields;
    for (size_t i = 0; *same && i < nfields; i++) {
        *same = lpack_eq(mf, fv[2 * i].ptr, fv[2 * i].len);
        mf = lpack_next(lp, mf);
    }
    return lp;
}

void tstream_append(struct tstream *s, const struct tstream_id *id, const struct sh_slice *fv,
                    size_t nfields, const struct tstream_limits *lim)
{
    struct tstream_map_pos pos;
    unsigned char *lp = NULL;
    struct tstream_id master = *id;
    size_t elelen = 0;
    bool same = true;
    long long count;

    for (size_t i = 0; i < 2 * nfields; i++) {
        elelen += fv[i].len;
    }
    if (tstream_map_seek(&s->nodes, NULL, false, &pos)) {
        lp = tstream_map_val(&s->nodes, pos);
        master = *tstream_map_key(&s->nodes, pos);
        if (!node_has_room(lp, elelen, lim)) {
            lp = NULL;
            master = *id;
        }
    }
    if (!lp) {
        lp = node_new(fv, nfields);
    } else {
        lp = node_count_entry(lp, fv, nfields, &same);
    }
    lp = lp_append_int(lp, same ? FLAG_SAMEFIELDS : 0);
    lp = lp_append_int(lp, (long long)(id->ms - master.ms));
    lp = lp_append_int(lp, (long long)(id->seq - master.seq));
    if (!same) {
        lp = lp_append_int(lp, (long long)nfields);
    }
    for (size_t i = 0; i < nfields; i++) {
        if (!same) {
            lp = lpack_append(lp, fv[2 * i].ptr, fv[2 * i].len);
        }
        lp = lpack_append(lp, fv[2 * i + 1].ptr, fv[2 * i + 1].len);
    }
    count = (long long)nfields + 3;
    if (!same) {
        count += (long long)nfields + 1;
    }
    lp = lp_append_int(lp, count);
    (void)tstream_map_put(&s->nodes, &master, lp);
    s->length++;
    s->entries_added++;
    s->last_id = *id;
    if (s->length == 1) {
        s->first_id = *id;
    }
}

/* Marks the entry at e deleted in node lp (at master key) and updates the
 * node's counters, freeing it when no live entry is left. */
static void node_mark_deleted(struct tstream *s, const struct tstream_id *master, unsigned char *lp,
                              const struct ent *e)
{
    const unsigned char *p = e->flagsp;
    long long count;

    lp = lp_replace_int(lp, &p, e->flags | FLAG_DELETED);
    p = lpack_first(lp);
    count = lp_int(p);
    if (count == 1) {
        lpack_destroy(lp);
        (void)tstream_map_del(&s->nodes, master);
    } else {
        lp = lp_replace_int(lp, &p, count - 1);
        p = lpack_next(lp, p);
        lp = lp_replace_int(lp, &p, lp_int(p) + 1);
        (void)tstream_map_put(&s->nodes, master, lp);
    }
    s->length--;
}

/* Finds live entry id: its node (master, lp) and header. */
static bool find_entry(const struct tstream *s, const struct tstream_id *id,
                       struct tstream_id *master, unsigned char **lpp, struct ent *e)
{
    struct tstream_map_pos pos;
    const unsigned char *p, *mf;
    unsigned char *lp;
    long long mfields;

    if (!tstream_map_seek(&s->nodes, id, false, &pos)) {
        return false;
    }
    *master = *tstream_map_key(&s->nodes, pos);
    lp = tstream_map_val(&s->nodes, pos);
    p = node_master(lp, &mf, &mfields);
    while (p) {
        read_ent(lp, p, master, mfields, e);
        int cmp = tstream_id_cmp(&e->id, id);

        if (cmp > 0) {
            return false;
        }
        if (cmp == 0 && !(e->flags & FLAG_DELETED)) {
            *lpp = lp;
            return true;
        }
        p = e->next;
    }
    return false;
}

bool tstream_has(const struct tstream *s, const struct tstream_id *id)
{
    struct tstream_id master;
    unsigned char *lp;
    struct ent e;

    return find_entry(s, id, &master, &lp, &e);
}

bool tstream_delete(struct tstream *s, const struct tstream_id *id)
{
    struct tstream_id master;
    unsigned char *lp;
    struct ent e;

    if (!find_entry(s, id, &master, &lp, &e)) {
        return false;
    }
    node_mark_deleted(s, &master, lp, &e);
    return true;
}

/* Marks entries of the first node lp deleted from the front while stop()
 * says go on; returns how many. */
static long long trim_in_node(struct tstream *s, const struct tstream_id *master, unsigned char *lp,
                              enum tstream_trim_kind kind, long long maxlen,
                              const struct tstream_id *minid)
{
    const unsigned char *p, *mf;
    long long mfields, removed = 0, live, dead;
    struct ent e;

    p = node_master(lp, &mf, &mfields);
    while (p) {
        size_t off;

        read_ent(lp, p, master, mfields, &e);
        if (kind == TSTREAM_TRIM_MAXLEN ? s->length <= (uint64_t)maxlen
                                        : tstream_id_cmp(&e.id, minid) >= 0) {
            break;
        }
        off = (size_t)(e.next ? e.next - lp : 0);
        if (!(e.flags & FLAG_DELETED)) {
            p = e.flagsp;
            lp = lp_replace_int(lp, &p, e.flags | FLAG_DELETED);
            removed++;
            s->length--;
        }
        p = off ? lp + off : NULL;
    }
    p = lpack_first(lp);
    live = lp_int(p);
    lp = lp_replace_int(lp, &p, live - removed);
    p = lpack_next(lp, p);
    dead = lp_int(p);
    lp = lp_replace_int(lp, &p, dead + removed);
    (void)tstream_map_put(&s->nodes, master, lp);
    return removed;
}

/* The last entry's ID of node lp (deleted or not). */
static void node_last_id(const unsigned char *lp, const struct tstream_id *master,
                         struct tstream_id *out)
{
    const unsigned char *p = lpack_last(lp), *mf;
    long long mfields;
    struct ent e;

    (void)node_master(lp, &mf, &mfields);
    p = lp_skip_back(lp, p);
    read_ent(lp, p, master, mfields, &e);
    *out = e.id;
}

long long tstream_trim(struct tstream *s, enum tstream_trim_kind kind, long long maxlen,
                       const struct tstream_id *minid, bool approx, long long limit)
{
    struct tstream_map_pos pos;
    long long removed = 0;

    while (tstream_map_seek(&s->nodes, NULL, true, &pos)) {
        struct tstream_id master = *tstream_map_key(&s->nodes, pos), last;
        unsigned char *lp = tstream_map_val(&s->nodes, pos);
        long long entries = lp_int(lpack_first(lp));
        bool whole;

        if (kind == TSTREAM_TRIM_MAXLEN && s->length <= (uint64_t)maxlen) {
            break;
        }
        if (limit && removed + entries > limit) {
            break;
        }
        if (kind == TSTREAM_TRIM_MAXLEN) {
            whole = s->length - (uint64_t)entries >= (uint64_t)maxlen;
        } else {
            node_last_id(lp, &master, &last);
            whole = tstream_id_cmp(&last, minid) < 0;
        }
        if (whole) {
            lpack_destroy(lp);
            (void)tstream_map_del(&s->nodes, &master);
            s->length -= (uint64_t)entries;
            removed += entries;
            continue;
        }
        if (!approx) {
            removed += trim_in_node(s, &master, lp, kind, maxlen, minid);
        }
        break;
    }
    if (s->length == 0) {
        s->first_id = (struct tstream_id){ 0, 0 };
    } else {
        tstream_edge_id(s, true, &s->first_id);
    }
    return removed;
}

void tstream_edge_id(const struct tstream *s, bool first, struct tstream_id *out)
{
    struct tstream_iter it;
    long long nf;

    tstream_iter_start(&it, s, NULL, NULL, !first);
    if (!tstream_iter_next(&it, out, &nf)) {
        *out = first ? (struct tstream_id){ UINT64_MAX, UINT64_MAX } : (struct tstream_id){ 0, 0 };
    }
}

bool tstream_range_has_tombstones(const struct tstream *s, const struct tstream_id *start,
                                  const struct tstream_id *end)
{
    struct tstream_id lo = { 0, 0 }, hi = { UINT64_MAX, UINT64_MAX };

    if (!s->length || (s->max_deleted_id.ms == 0 && s->max_deleted_id.seq == 0)) {
        return false;
    }
    if (tstream_id_cmp(&s->first_id, &s->max_deleted_id) > 0) {
        return false;
    }
    if (start) {
        lo = *start;
    }
    if (end) {
        hi = *end;
    }
    return tstream_id_cmp(&lo, &s->max_deleted_id) <= 0 &&
           tstream_id_cmp(&s->max_deleted_id, &hi) <= 0;
}

long long tstream_estimate_distance(const struct tstream *s, const struct tstream_id *id)
{
    int cmp_last, cmp_first;
    bool no_frag;

    if (!s->entries_added) {
        return 0;
    }
    if (!s->length && tstream_id_cmp(id, &s->last_id) < 1) {
        return (long long)s->entries_added;
    }
    cmp_last = tstream_id_cmp(id, &s->last_id);
    if (cmp_last == 0) {
        return (long long)s->entries_added;
    }
    if (cmp_last > 0) {
        return TSTREAM_ENTRIES_UNKNOWN;
    }
    cmp_first = tstream_id_cmp(id, &s->first_id);
    no_frag = (s->max_deleted_id.ms == 0 && s->max_deleted_id.seq == 0) ||
              tstream_id_cmp(&s->max_deleted_id, &s->first_id) < 0;
    if (no_frag) {
        if (cmp_first < 0) {
            return (long long)(s->entries_added - s->length);
        }
        if (cmp_first == 0) {
            return (long long)(s->entries_added - s->length + 1);
        }
    }
    return TSTREAM_ENTRIES_UNKNOWN;
}

/* ---- iteration ---- */

void tstream_iter_start(struct tstream_iter *it, const struct tstream *s,
                        const struct tstream_id *start, const struct tstream_id *end, bool rev)
{
    memset(it, 0, sizeof(*it));
    it->s = s;
    it->start = start ? *start : (struct tstream_id){ 0, 0 };
    it->end = end ? *end : (struct tstream_id){ UINT64_MAX, UINT64_MAX };
    it->rev = rev;
}

/* Moves to the next node in the walk's direction; false when none. */
static bool iter_node(struct tstream_iter *it)
{
    const struct tstream_map *m = &it->s->nodes;
    bool ok;

    if (!it->started) {
        it->started = true;
        if (it->rev) {
            ok = tstream_map_seek(m, &it->end, false, &it->pos);
        } else {
            ok = tstream_map_seek(m, &it->start, false, &it->pos) ||
                 tstream_map_seek(m, NULL, true, &it->pos);
        }
    } else {
        ok = it->rev ? tstream_map_prev(m, &it->pos) : tstream_map_next(m, &it->pos);
    }
    if (!ok) {
        return false;
    }
    it->master = *tstream_map_key(m, it->pos);
    if (!it->rev && tstream_id_cmp(&it->master, &it->end) > 0) {
        return false;
    }
    it->lp = tstream_map_val(m, it->pos);
    it->p = node_master(it->lp, &it->mfirst, &it->mfields);
    if (it->rev) {
        it->p = lpack_last(it->lp);
    }
    return true;
}

/* The next entry of the current node (deleted ones included); false at the
 * node's end. */
static bool iter_ent(struct tstream_iter *it, struct ent *e)
{
    const unsigned char *flags;

    if (!it->p) {
        return false;
    }
    if (!it->rev) {
        read_ent(it->lp, it->p, &it->master, it->mfields, e);
        it->p = e->next;
        return true;
    }
    flags = lp_skip_back(it->lp, it->p);
    if (!flags) {
        return false;
    }
    read_ent(it->lp, flags, &it->master, it->mfields, e);
    it->p = lpack_prev(it->lp, flags);
    return true;
}

bool tstream_iter_next(struct tstream_iter *it, struct tstream_id *id, long long *nfields)
{
    struct ent e;

    while (!it->done) {
        if (!it->lp && !iter_node(it)) {
            it->done = true;
            break;
        }
        if (!iter_ent(it, &e)) {
            it->lp = NULL;
            continue;
        }
        /* a deleted entry may be out of order (XSETID below a tombstone),
         * so only live ones end the walk, as in Redis's iterator */
        if (e.flags & FLAG_DELETED) {
            continue;
        }
        if (it->rev ? tstream_id_cmp(&e.id, &it->start) < 0 : tstream_id_cmp(&e.id, &it->end) > 0) {
            it->done = true;
            break;
        }
        if (it->rev ? tstream_id_cmp(&e.id, &it->end) > 0 : tstream_id_cmp(&e.id, &it->start) < 0) {
            continue;
        }
        *id = e.id;
        *nfields = e.nfields;
        it->same = e.flags & FLAG_SAMEFIELDS;
        it->fp = e.data;
        it->mp = it->mfirst;
        return true;
    }
    return false;
}

void tstream_iter_field(struct tstream_iter *it, struct sh_slice *field, struct sh_slice *value)
{
    if (it->same) {
        *field = lpack_get_slice(it->mp, it->fbuf);
        it->mp = lpack_next(it->lp, it->mp);
    } else {
        *field = lpack_get_slice(it->fp, it->fbuf);
        it->fp = lpack_next(it->lp, it->fp);
    }
    *value = lpack_get_slice(it->fp, it->vbuf);
    it->fp = lpack_next(it->lp, it->fp);
}

/* ---- groups and consumers ---- */

static int name_cmp(const char *a, size_t alen, const void *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);

    if (c) {
        return c;
    }
    return alen < blen ? -1 : alen > blen;
}

/* The index of name in the sorted groups, or where it goes (*found). */
static size_t group_index(const struct tstream *s, const void *name, size_t len, bool *found)
{
    size_t lo = 0, hi = s->ngroups;

    *found = false;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = name_cmp(s->groups[mid]->name, s->groups[mid]->nlen, name, len);

        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static size_t consumer_index(const struct tstream_group *g, const void *name, size_t len,
                             bool *found)
{
    size_t lo = 0, hi = g->nconsumers;

    *found = false;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = name_cmp(g->consumers[mid]->name, g->consumers[mid]->nlen, name, len);

        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

struct tstream_group *tstream_group_find(const struct tstream *s, const void *name, size_t len)
{
    bool found;
    size_t i = group_index(s, name, len, &found);

    return found ? s->groups[i] : NULL;
}

struct tstream_group *tstream_group_create(struct tstream *s, const void *name, size_t len,
                                           const struct tstream_id *last_id, long long entries_read)
{
    bool found;
    size_t i = group_index(s, name, len, &found);
    struct tstream_group *g;

    if (found) {
        return NULL;
    }
    g = sh_malloc(sizeof(*g) + len);
    memset(g, 0, sizeof(*g));
    g->last_id = *last_id;
    g->entries_read = entries_read;
    tstream_map_init(&g->pel);
    g->nlen = (uint32_t)len;
    memcpy(g->name, name, len);
    if (s->ngroups == s->gcap) {
        s->gcap = s->gcap ? s->gcap * 2 : 2;
        s->groups = sh_realloc(s->groups, s->gcap * sizeof(*s->groups));
    }
    memmove(s->groups + i + 1, s->groups + i, (s->ngroups - i) * sizeof(*s->groups));
    s->groups[i] = g;
    s->ngroups++;
    return g;
}

void tstream_group_destroy(struct tstream *s, struct tstream_group *g)
{
    bool found;
    size_t i = group_index(s, g->name, g->nlen, &found);

    SH_ASSERT(found && s->groups[i] == g);
    memmove(s->groups + i, s->groups + i + 1, (s->ngroups - i - 1) * sizeof(*s->groups));
    s->ngroups--;
    group_free(g);
}

struct tstream_consumer *tstream_consumer_find(const struct tstream_group *g, const void *name,
                                               size_t len)
{
    bool found;
    size_t i = consumer_index(g, name, len, &found);

    return found ? g->consumers[i] : NULL;
}

struct tstream_consumer *tstream_consumer_create(struct tstream_group *g, const void *name,
                                                 size_t len, int64_t now)
{
    bool found;
    size_t i = consumer_index(g, name, len, &found);
    struct tstream_consumer *c;

    if (found) {
        return NULL;
    }
    c = sh_malloc(sizeof(*c) + len);
    c->seen_time = now;
    tstream_map_init(&c->pel);
    c->nlen = (uint32_t)len;
    memcpy(c->name, name, len);
    if (g->nconsumers == g->ccap) {
        g->ccap = g->ccap ? g->ccap * 2 : 2;
        g->consumers = sh_realloc(g->consumers, g->ccap * sizeof(*g->consumers));
    }
    memmove(g->consumers + i + 1, g->consumers + i, (g->nconsumers - i) * sizeof(*g->consumers));
    g->consumers[i] = c;
    g->nconsumers++;
    return c;
}

size_t tstream_consumer_delete(struct tstream_group *g, struct tstream_consumer *c)
{
    struct tstream_map_pos pos;
    size_t pending = c->pel.count;
    bool found;
    size_t i;

    while (tstream_map_seek(&c->pel, NULL, true, &pos)) {
        struct tstream_id id = *tstream_map_key(&c->pel, pos);

        (void)tstream_map_del(&c->pel, &id);
        sh_free(tstream_map_del(&g->pel, &id));
    }
    i = consumer_index(g, c->name, c->nlen, &found);
    SH_ASSERT(found && g->consumers[i] == c);
    memmove(g->consumers + i, g->consumers + i + 1,
            (g->nconsumers - i - 1) * sizeof(*g->consumers));
    g->nconsumers--;
    tstream_map_fini(&c->pel, NULL);
    sh_free(c);
    return pending;
}

struct tstream_nack *tstream_pel_add(struct tstream_group *g, struct tstream_consumer *c,
                                     const struct tstream_id *id, int64_t now, uint64_t count)
{
    struct tstream_nack *n = sh_malloc(sizeof(*n));

    n->delivery_time = now;
    n->delivery_count = count;
    n->consumer = c;
    SH_ASSERT(tstream_map_put(&g->pel, id, n) == NULL);
    SH_ASSERT(tstream_map_put(&c->pel, id, n) == NULL);
    return n;
}

void tstream_pel_move(struct tstream_consumer *to, const struct tstream_id *id,
                      struct tstream_nack *n)
{
    if (n->consumer == to) {
        return;
    }
    (void)tstream_map_del(&n->consumer->pel, id);
    (void)tstream_map_put(&to->pel, id, n);
    n->consumer = to;
}

bool tstream_pel_ack(struct tstream_group *g, const struct tstream_id *id)
{
    struct tstream_nack *n = tstream_map_del(&g->pel, id);

    if (!n) {
        return false;
    }
    (void)tstream_map_del(&n->consumer->pel, id);
    sh_free(n);
    return true;
}

/* ---- nodes as they are ---- */

bool tstream_node_next(const struct tstream *s, struct tstream_node_iter *it,
                       struct tstream_id *master, const unsigned char **lp)
{
    bool ok;

    if (!it->started) {
        it->started = true;
        ok = tstream_map_seek(&s->nodes, NULL, true, &it->pos);
    } else {
        ok = tstream_map_next(&s->nodes, &it->pos);
    }
    if (!ok) {
        return false;
    }
    *master = *tstream_map_key(&s->nodes, it->pos);
    *lp = tstream_map_val(&s->nodes, it->pos);
    return true;
}

/* A checked reader of a node's items: every step fails (p NULL) past the
 * end, and an integer that is not one fails. */
struct vcur {
    const unsigned char *lp, *p;
    bool bad;
};

static bool vc_int(struct vcur *c, long long *v)
{
    if (c->bad || !c->p || !lpack_get_int(c->p, v)) {
        c->bad = true;
        return false;
    }
    c->p = lpack_next(c->lp, c->p);
    return true;
}

static bool vc_skip(struct vcur *c, long long n)
{
    for (long long i = 0; i < n; i++) {
        if (c->bad || !c->p) {
            c->bad = true;
            return false;
        }
        c->p = lpack_next(c->lp, c->p);
    }
    return !c->bad;
}

/* One entry at c: checks it and returns its ID and flags. */
static bool vc_entry(struct vcur *c, const struct tstream_id *master, long long mfields,
                     struct tstream_id *id, long long *flags)
{
    long long msd, seqd, nf = mfields, items = 3, lpcount;

    if (!vc_int(c, flags) || *flags < 0 || *flags > (FLAG_DELETED | FLAG_SAMEFIELDS) ||
        !vc_int(c, &msd) || !vc_int(c, &seqd)) {
        return false;
    }
    id->ms = master->ms + (uint64_t)msd;
    id->seq = master->seq + (uint64_t)seqd;
    if (!(*flags & FLAG_SAMEFIELDS)) {
        if (!vc_int(c, &nf) || nf < 0 || nf > LLONG_MAX / 2 - 2 || !vc_skip(c, nf * 2)) {
            return false;
        }
        items += nf * 2 + 1;
    } else if (!vc_skip(c, nf)) {
        return false;
    } else {
        items += nf;
    }
    return vc_int(c, &lpcount) && lpcount == items;
}

int tstream_node_validate(const unsigned char *lp, size_t size, const struct tstream_id *master,
                          uint64_t *live, struct tstream_id *first, struct tstream_id *last)
{
    struct vcur c = { lp, NULL, false };
    long long count, deleted, mfields, zero, flags, ndel = 0;
    struct tstream_id id;
    size_t items;

    if (lpack_validate(lp, size) != 0) {
        return -EINVAL;
    }
    items = lpack_count(lp);
    c.p = lpack_first(lp);
    if (!vc_int(&c, &count) || !vc_int(&c, &deleted) || !vc_int(&c, &mfields) || count < 1 ||
        deleted < 0 || mfields < 0 || (size_t)count > items || (size_t)deleted > items ||
        (size_t)mfields > items || !vc_skip(&c, mfields) || !vc_int(&c, &zero) || zero != 0) {
        return -EINVAL;
    }
    for (long long n = 0; n < count + deleted; n++) {
        if (!vc_entry(&c, master, mfields, &id, &flags) || tstream_id_cmp(&id, master) < 0) {
            return -EINVAL;
        }
        if (flags & FLAG_DELETED) {
            ndel++;
            continue;
        }
        if (n == ndel) {
            *first = id; /* the first live entry */
        } else if (tstream_id_cmp(&id, last) <= 0) {
            return -EINVAL;
        }
        *last = id;
    }
    if (c.p || ndel != deleted) {
        return -EINVAL;
    }
    *live = (uint64_t)count;
    return 0;
}

bool tstream_node_insert(struct tstream *s, const struct tstream_id *master, unsigned char *lp)
{
    if (tstream_map_get(&s->nodes, master)) {
        return false;
    }
    (void)tstream_map_put(&s->nodes, master, lp);
    return true;
}
