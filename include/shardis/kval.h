/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kval.h: values stored under keys. Strings have two encodings, as in Redis:
 * a long long when the bytes are the canonical decimal form of one (no
 * allocation; INCR works in place), raw bytes otherwise.
 *
 * The other types live in their own modules (tlist, tset, tzset, thash),
 * each with a compact encoding for small values and a scalable one past the
 * thresholds of struct kval_limits; kval only dispatches what every value
 * must do (free, memory, encoding name) and offers the byte format they all
 * use to travel between shards (kval_dump_*).
 *
 * Threading: a value belongs to the shard that owns its key.
 */
#pragma once

#include "shardis/sh.h"

enum kval_type {
    KVAL_NONE = 0,
    KVAL_STRING = 1,
    KVAL_LIST = 2,
    KVAL_SET = 3,
    KVAL_ZSET = 4,
    KVAL_HASH = 5,
    KVAL_STREAM = 6,
};

enum kval_enc {
    KVAL_ENC_RAW = 0,       /* string: bytes in a struct kstr */
    KVAL_ENC_INT = 1,       /* string: a long long whose decimal form is the value */
    KVAL_ENC_LISTPACK = 2,  /* list, set, zset, hash: one lpack (lpack.h) */
    KVAL_ENC_QUICKLIST = 3, /* list: a qlist of lpacks (qlist.h) */
    KVAL_ENC_INTSET = 4,    /* set of integers: an intset (intset.h) */
    KVAL_ENC_HASHTABLE = 5, /* set, hash: an fdict (fdict.h) */
    KVAL_ENC_SKIPLIST = 6,  /* zset: an fdict plus a zsl (zsl.h) */
    KVAL_ENC_STREAM = 7,    /* stream: a struct tstream (tstream.h) */
    KVAL_ENC_EMB = 8,       /* string: up to KVAL_EMB_MAX bytes in the value itself (u.b) */
    KVAL_ENC_BARE = 9,      /* string: up to KVAL_BARE_MAX bytes alone in an allocation (u.p) */
};

/* The longest string kept in the value itself, with no allocation. */
#define KVAL_EMB_MAX  8
/* The longest string kept without a header (KVAL_ENC_BARE: its length in
 * elen): a 16-byte value is one 16-byte allocation, not a 24-byte struct
 * kstr in jemalloc's 32-byte class. kval_make_raw turns it into a kstr
 * before it is written in place. */
#define KVAL_BARE_MAX 255

/* Redis's encoding thresholds (the *-max-listpack-* directives); a shard
 * passes its current values to every type operation that may convert. */
struct kval_limits {
    long long hash_max_listpack_entries; /* 512 (Redis 7.0's built-in; its redis.conf says 128) */
    long long hash_max_listpack_value;   /* 64 */
    long long list_max_listpack_size;    /* -2: 8 KB per node */
    long long list_compress_depth;       /* 0: quicklist nodes not compressed */
    long long set_max_intset_entries;    /* 512 */
    long long set_max_listpack_entries;  /* 128 */
    long long set_max_listpack_value;    /* 64 */
    long long zset_max_listpack_entries; /* 128 */
    long long zset_max_listpack_value;   /* 64 */
};

/* A string's bytes, allocated by the shard that owns the key. Lengths fit
 * 32 bits (KVAL_STR_MAX): an 8-byte header, so a 16-byte value is one
 * 24-byte allocation (jemalloc's 32-byte class), not 32 (48). */
struct kstr {
    uint32_t len;
    uint32_t cap;
    char data[];
};

/* The longest string value (Redis's is 512 MB; proto-max-bulk-len may allow
 * more, which is refused as out of memory). */
#define KVAL_STR_MAX (UINT32_MAX - 64)

struct kval {
    uint8_t type : 4; /* enum kval_type */
    uint8_t enc : 4;  /* enum kval_enc */
    uint8_t elen;     /* KVAL_ENC_EMB, KVAL_ENC_BARE: the length of the string */
    /* a raw string written in place (kval_make_raw: APPEND SETRANGE SETBIT
     * BITFIELD BITOP): OBJECT ENCODING says "raw" whatever its length, as
     * for Redis's unshared objects; cleared when a new value is set */
    uint8_t grown : 1;
    /* The key table's bits (kt_*), in what would be padding: they belong to
     * the struct kentry the value sits in (its TTL mark, snapshot mark and
     * key length), not to the value. A value that may sit in an entry is
     * assigned whole only with kval_assign (kentry_set_val), which keeps
     * them; in a value outside an entry they mean nothing. */
    uint8_t kt_ttl : 1;
    uint8_t kt_snap : 1;
    uint8_t kt_klen;
    /* unix seconds of the last access (OBJECT IDLETIME), stamped by kdb on
     * lookup and add */
    uint32_t lru;
    union {
        long long i;
        struct kstr *s;
        void *p;
        char b[KVAL_EMB_MAX];
    } u;
};

/* Assigns v to *dst whole, keeping dst's table bits (kt_*): how a value
 * is put in one that may sit in a struct kentry (kentry_set_val). */
static inline void kval_assign(struct kval *dst, struct kval v)
{
    v.kt_ttl = dst->kt_ttl;
    v.kt_snap = dst->kt_snap;
    v.kt_klen = dst->kt_klen;
    *dst = v;
}

/* Frees a value's memory and sets it to KVAL_NONE. */
void kval_clear(struct kval *v);
/* Replaces v by a string with the bytes p[0..n), integer-encoded when they
 * are a canonical long long, in the value itself when short (KVAL_ENC_EMB). Returns 0, or -ENOMEM
 * when the bytes could not be allocated (v is then unchanged). */
SH_MUST_CHECK int kval_set_string(struct kval *v, const void *p, size_t n);
/* Replaces v by the integer string of x. */
void kval_set_int(struct kval *v, long long x);
/* The bytes of a string value: points into the value, or into buf (at
 * least 24 bytes) for an integer. Borrowed until v changes. */
const char *kval_string(const struct kval *v, char *buf, size_t *len);
/* Length of a string value's bytes. */
size_t kval_strlen(const struct kval *v);
/* Makes v (a string, or an empty new value) a raw string of at least cap
 * bytes, keeping its bytes (an integer is converted), and marks it grown.
 * Returns the bytes (len stays) or NULL when out of memory (v unchanged). */
SH_MUST_CHECK struct kstr *kval_make_raw(struct kval *v, size_t cap);
/* Bytes the value holds in memory (for MEMORY USAGE and accounting). */
size_t kval_memory(const struct kval *v);
/* TYPE's name of a value ("string", "list", ...); "none" for KVAL_NONE. */
const char *kval_type_name(const struct kval *v);
/* OBJECT ENCODING's name ("int", "embstr"/"raw", "listpack", ...). */
const char *kval_encoding_name(const struct kval *v);

/*
 * The byte form of a value's elements when it travels between shards
 * (RENAME, COPY, MOVE across owners): a count, then each element as a
 * 32-bit length and its bytes, little-endian. Each type documents the
 * order (a hash: field, value, field, value ...; a sorted set: member,
 * score ...). The type modules build and read it with these helpers.
 */
struct kval_dump {
    char *data; /* sh_malloc'd; the caller of *_dump frees it */
    size_t len, cap;
    uint32_t count;
};
/* Starts an empty dump (room for the count). */
void kval_dump_init(struct kval_dump *d);
/* Appends one element. */
void kval_dump_put(struct kval_dump *d, const void *p, size_t n);
/* Writes the count in front; returns the bytes (owned by the caller). */
char *kval_dump_finish(struct kval_dump *d, size_t *len);

struct kval_dump_reader {
    const char *p;
    size_t left;
    uint32_t count; /* elements not read yet */
};
/* Starts reading dump bytes (borrowed); false when too short. */
bool kval_dump_reader_init(struct kval_dump_reader *r, const char *p, size_t len);
/* The next element (borrowed from the bytes); false at the end or when the
 * bytes are corrupt. */
bool kval_dump_next(struct kval_dump_reader *r, struct sh_slice *out);
