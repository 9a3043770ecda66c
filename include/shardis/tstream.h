/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tstream.h: the stream type (KVAL_STREAM, encoding KVAL_ENC_STREAM): Redis
 * 7.0's stream. Entries (an ID and field/value pairs) live in listpack nodes
 * laid out byte for byte as Redis lays them out (tstream.c draws it), so
 * that the RDB writer can save a node as it is; the nodes are indexed by
 * their master entry ID in an ordered map (struct tstream_map), which
 * stands in for Redis's radix tree. Consumer groups keep their pending
 * entries (PEL) in the same kind of map.
 *
 * Struct fields marked public are read by the command layer; the rest is
 * private. Slices handed out by the iterator are borrowed until the stream
 * changes (or the iterator moves).
 *
 * Threading: a value belongs to the shard that owns its key.
 */
#pragma once

#include "shardis/kval.h"
#include "shardis/lpack.h"
#include "shardis/sh.h"

/* An entry ID: milliseconds and a sequence number. */
struct tstream_id {
    uint64_t ms;
    uint64_t seq;
};

/* Room for an ID's text "ms-seq" with its NUL. */
#define TSTREAM_ID_BUF          42
/* entries_read of a group when it is not known (Redis's -1) */
#define TSTREAM_ENTRIES_UNKNOWN (-1LL)
/* Redis's cap of a node's bytes when stream-node-max-bytes is 0 */
#define TSTREAM_LP_MAX_SIZE     (1U << 30)

/* -1, 0 or 1 as a <, =, > b. */
int tstream_id_cmp(const struct tstream_id *a, const struct tstream_id *b);
/* The next / previous ID; false (id unchanged) at the top / at 0-0. */
bool tstream_id_incr(struct tstream_id *id);
bool tstream_id_decr(struct tstream_id *id);
/* Writes "ms-seq" (NUL-terminated) and returns its length. */
size_t tstream_id_fmt(char buf[static TSTREAM_ID_BUF], const struct tstream_id *id);

/*
 * An ordered map from IDs to pointers: a sorted array of chunks of up to 64
 * sorted slots. Lookups and seeks are O(log n); an insert or delete moves at
 * most one chunk's slots, plus the chunk array when a chunk splits or
 * empties (n / 64 pointers). Positions are invalid after any change.
 */
struct tstream_chunk;
struct tstream_map {
    struct tstream_chunk **chunks;
    size_t nchunks, cap;
    size_t count; /* public, read-only */
};
struct tstream_map_pos {
    size_t c;
    uint32_t i;
};
typedef void tstream_free_fn(void *val);

void tstream_map_init(struct tstream_map *m);
/* Frees the map, calling fn (when not NULL) with each value. */
void tstream_map_fini(struct tstream_map *m, tstream_free_fn *fn);
void *tstream_map_get(const struct tstream_map *m, const struct tstream_id *id);
/* Sets id's value; returns the value it replaced, or NULL. */
void *tstream_map_put(struct tstream_map *m, const struct tstream_id *id, void *val);
/* Removes id; returns its value, or NULL when absent. */
void *tstream_map_del(struct tstream_map *m, const struct tstream_id *id);
/* The first slot >= id (ge) or the last <= id (!ge); id NULL: the first
 * (ge) or the last slot. False when there is none. */
bool tstream_map_seek(const struct tstream_map *m, const struct tstream_id *id, bool ge,
                      struct tstream_map_pos *pos);
/* Moves to the next / previous slot; false at the end. */
bool tstream_map_next(const struct tstream_map *m, struct tstream_map_pos *pos);
bool tstream_map_prev(const struct tstream_map *m, struct tstream_map_pos *pos);
/* The slot at pos. */
const struct tstream_id *tstream_map_key(const struct tstream_map *m, struct tstream_map_pos pos);
void *tstream_map_val(const struct tstream_map *m, struct tstream_map_pos pos);
/* Bytes the map's own allocations hold. O(chunks). */
size_t tstream_map_memory(const struct tstream_map *m);

/* ---- consumer groups ---- */

/* A pending entry: shared by the group's PEL (which owns it) and its
 * consumer's PEL. All fields public. */
struct tstream_nack {
    int64_t delivery_time; /* unix ms of the last delivery */
    uint64_t delivery_count;
    struct tstream_consumer *consumer;
};

struct tstream_consumer {
    int64_t seen_time;      /* public: unix ms of its last interaction */
    struct tstream_map pel; /* public, read-only: id -> struct tstream_nack (borrowed) */
    uint32_t nlen;          /* public, read-only */
    char name[];            /* public, read-only: nlen bytes */
};

struct tstream_group {
    struct tstream_id last_id;           /* public: last delivered ID */
    long long entries_read;              /* public: or TSTREAM_ENTRIES_UNKNOWN */
    struct tstream_map pel;              /* public, read-only: id -> struct tstream_nack (owned) */
    struct tstream_consumer **consumers; /* public, read-only: sorted by name */
    size_t nconsumers;                   /* public, read-only */
    size_t ccap;
    uint32_t nlen; /* public, read-only */
    char name[];   /* public, read-only: nlen bytes */
};

struct tstream {
    struct tstream_map nodes;         /* private: master ID -> listpack node */
    uint64_t length;                  /* public: live entries */
    struct tstream_id last_id;        /* public: the last ID added (or XSETID) */
    struct tstream_id first_id;       /* public: first live entry's ID */
    struct tstream_id max_deleted_id; /* public: the largest ID XDEL removed */
    uint64_t entries_added;           /* public: every entry ever added */
    struct tstream_group **groups;    /* public, read-only: sorted by name */
    size_t ngroups;                   /* public, read-only */
    size_t gcap;
};

/* The node limits in force (stream-node-max-bytes / -entries; 0: none). */
struct tstream_limits {
    long long node_max_bytes;
    long long node_max_entries;
};

/* ---- what kval.c relies on ---- */

/* Frees the value's memory (kval_clear calls it for KVAL_STREAM). O(n). */
void tstream_free(struct kval *v);
/* Bytes the value holds (nodes, index, groups, PELs). O(nodes + groups +
 * consumers + PEL chunks). */
size_t tstream_memory(const struct kval *v);

/* ---- the stream ---- */

/* Makes v (KVAL_NONE) an empty stream. */
void tstream_init(struct kval *v);
static inline struct tstream *tstream_of(const struct kval *v)
{
    return (struct tstream *)v->u.p;
}

/* Appends an entry with ID id (the caller checked id > s->last_id) and the
 * nfields pairs fv[0..2*nfields) (field, value, ...), in the tail node or a
 * new node when the tail is past the limits, as Redis's streamAppendItem.
 * Updates length, last_id, first_id (first entry), entries_added. */
void tstream_append(struct tstream *s, const struct tstream_id *id, const struct sh_slice *fv,
                    size_t nfields, const struct tstream_limits *lim);
/* Marks the live entry id deleted (a node left without live entries is
 * freed); length drops. Returns false when there is no such live entry.
 * first_id and max_deleted_id are the caller's (XDEL's). O(log n + node). */
bool tstream_delete(struct tstream *s, const struct tstream_id *id);

enum tstream_trim_kind { TSTREAM_TRIM_MAXLEN = 1, TSTREAM_TRIM_MINID = 2 };
/* Trims as Redis's streamTrim: whole nodes from the front, then (unless
 * approx) entries of the first remaining node marked deleted, until length
 * <= maxlen (MAXLEN) or the first entry >= minid (MINID); limit (0: none)
 * bounds the entries removed through whole nodes. Updates first_id.
 * Returns the entries removed. */
long long tstream_trim(struct tstream *s, enum tstream_trim_kind kind, long long maxlen,
                       const struct tstream_id *minid, bool approx, long long limit);
/* The first (first) or last live entry's ID; when there is none, the
 * largest ID (first) or 0-0, as Redis's streamGetEdgeID. */
void tstream_edge_id(const struct tstream *s, bool first, struct tstream_id *out);
/* Redis's streamRangeHasTombstones over [start, end] (NULL: open). */
bool tstream_range_has_tombstones(const struct tstream *s, const struct tstream_id *start,
                                  const struct tstream_id *end);
/* Redis's streamEstimateDistanceFromFirstEverEntry: the entries_read a
 * group at id would have, or TSTREAM_ENTRIES_UNKNOWN. */
long long tstream_estimate_distance(const struct tstream *s, const struct tstream_id *id);
/* Nodes of the index (XINFO's radix-tree-keys). */
size_t tstream_nodes(const struct tstream *s);

/* Walks live entries in [start, end] forward or backward. Storage provided
 * by the caller; fields private. Invalid once the stream changes. */
struct tstream_iter {
    const struct tstream *s;
    struct tstream_id start, end;
    bool rev, started, done;
    struct tstream_map_pos pos;
    const unsigned char *lp;     /* current node, NULL between nodes */
    const unsigned char *p;      /* next entry's flags (forward) or lp-count (backward) */
    const unsigned char *mfirst; /* first master field */
    struct tstream_id master;
    long long mfields;
    /* the entry last returned */
    bool same;
    const unsigned char *fp, *mp;
    char fbuf[LPACK_INTBUF], vbuf[LPACK_INTBUF];
};
void tstream_iter_start(struct tstream_iter *it, const struct tstream *s,
                        const struct tstream_id *start, const struct tstream_id *end, bool rev);
/* The next entry: its ID and number of fields; false at the end. */
bool tstream_iter_next(struct tstream_iter *it, struct tstream_id *id, long long *nfields);
/* The entry's next field and value (call nfields times after iter_next). */
void tstream_iter_field(struct tstream_iter *it, struct sh_slice *field, struct sh_slice *value);
/* Whether a live entry id exists. O(log n + node). */
bool tstream_has(const struct tstream *s, const struct tstream_id *id);

/* ---- groups and consumers ---- */

struct tstream_group *tstream_group_find(const struct tstream *s, const void *name, size_t len);
/* A new group with last_id and entries_read; NULL when the name exists. */
struct tstream_group *tstream_group_create(struct tstream *s, const void *name, size_t len,
                                           const struct tstream_id *last_id,
                                           long long entries_read);
/* Removes and frees group g. */
void tstream_group_destroy(struct tstream *s, struct tstream_group *g);

struct tstream_consumer *tstream_consumer_find(const struct tstream_group *g, const void *name,
                                               size_t len);
/* A new consumer seen at now; NULL when the name exists. */
struct tstream_consumer *tstream_consumer_create(struct tstream_group *g, const void *name,
                                                 size_t len, int64_t now);
/* Removes consumer c and its pending entries (from the group's PEL too);
 * returns how many it had. */
size_t tstream_consumer_delete(struct tstream_group *g, struct tstream_consumer *c);

/* Adds id to g's PEL owned by c (delivered now, count 1), replacing an
 * existing one's owner and times the way XREADGROUP history does not:
 * callers check first. Returns the new nack. */
struct tstream_nack *tstream_pel_add(struct tstream_group *g, struct tstream_consumer *c,
                                     const struct tstream_id *id, int64_t now, uint64_t count);
/* Moves nack id (in g's PEL) to consumer to. */
void tstream_pel_move(struct tstream_consumer *to, const struct tstream_id *id,
                      struct tstream_nack *n);
/* Acknowledges id: removes it from the group's and its consumer's PEL.
 * Returns false when it was not pending. */
bool tstream_pel_ack(struct tstream_group *g, const struct tstream_id *id);

/* ---- nodes as they are (the RDB codec) ---- */

/* A walk over the nodes in master ID order. Storage provided by the
 * caller; start it with started false ({ .started = false }). */
struct tstream_node_iter {
    struct tstream_map_pos pos;
    bool started;
};
/* The next node: its master ID and listpack (borrowed until the stream
 * changes); false after the last one. */
bool tstream_node_next(const struct tstream *s, struct tstream_node_iter *it,
                       struct tstream_id *master, const unsigned char **lp);

/* Checks lp[0..size) (untrusted bytes) as a node whose master ID is master,
 * more deeply than Redis's streamValidateListpackIntegrity: a sound
 * listpack; integer count >= 1, deleted >= 0 and master field count >= 0,
 * the master's 0 terminator; then exactly count + deleted entries, each
 * with flags in 0..3, an ID not below master, a field count >= 0 and an
 * lp-count that matches its items; count of them not flagged deleted, and
 * those in strictly ascending ID order (a deleted entry may be out of
 * order: Redis's XSETID can move last_id below a tombstone). On success
 * sets *live to count and *first / *last to the first and last live
 * entries' IDs and returns 0; else -EINVAL. O(size). */
SH_MUST_CHECK int tstream_node_validate(const unsigned char *lp, size_t size,
                                        const struct tstream_id *master, uint64_t *live,
                                        struct tstream_id *first, struct tstream_id *last);
/* Adds node lp (takes ownership; checked by tstream_node_validate) under
 * master. The caller keeps the stream's invariants: nodes' IDs do not
 * overlap, and length, last_id, first_id ... are set afterwards. Returns
 * false (lp not taken) when master is already a node. */
bool tstream_node_insert(struct tstream *s, const struct tstream_id *master, unsigned char *lp);
