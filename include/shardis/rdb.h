/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rdb.h: Redis's RDB encoding (version 10, Redis 7.0) of values: the
 * primitives every part of an RDB file is made of (lengths, strings in their
 * integer and LZF forms, binary doubles, millisecond times) and the codec of
 * one value (its type byte and payload) for every type here, both ways.
 *
 * Writing gives Redis 7.0's forms: a string as an RDB string (integer-encoded
 * when it is one, LZF-compressed when asked and it pays), a list as
 * QUICKLIST_2 (its listpack nodes as they are), a set as INTSET, LISTPACK-free
 * SET, a sorted set as ZSET_LISTPACK or ZSET_2, a hash as HASH_LISTPACK or
 * HASH, a stream as STREAM_LISTPACKS_2 (its listpack nodes as they are, its
 * groups, PELs and consumers). Reading takes every form Redis 7.0 reads (ziplists, zipmaps, old
 * linked lists, quicklist v1, listpack sets of 7.2 too), validates every
 * blob before it is used (a corrupt payload is an error, never a crash), and
 * converts to the encoding the limits call for.
 *
 * The snapshot writer and loader (persist/), DUMP and RESTORE use it. No I/O.
 * Threading: none; the values belong to the caller's shard.
 */
#pragma once

#include "shardis/kval.h"
#include "shardis/sh.h"

#define RDB_VERSION 10 /* Redis 7.0's; files up to it are read */

enum rdb_type {
    RDB_TYPE_STRING = 0,
    RDB_TYPE_LIST = 1,
    RDB_TYPE_SET = 2,
    RDB_TYPE_ZSET = 3,
    RDB_TYPE_HASH = 4,
    RDB_TYPE_ZSET_2 = 5,
    RDB_TYPE_MODULE = 6,
    RDB_TYPE_MODULE_2 = 7,
    RDB_TYPE_HASH_ZIPMAP = 9,
    RDB_TYPE_LIST_ZIPLIST = 10,
    RDB_TYPE_SET_INTSET = 11,
    RDB_TYPE_ZSET_ZIPLIST = 12,
    RDB_TYPE_HASH_ZIPLIST = 13,
    RDB_TYPE_LIST_QUICKLIST = 14,
    RDB_TYPE_STREAM_LISTPACKS = 15,
    RDB_TYPE_HASH_LISTPACK = 16,
    RDB_TYPE_ZSET_LISTPACK = 17,
    RDB_TYPE_LIST_QUICKLIST_2 = 18,
    RDB_TYPE_STREAM_LISTPACKS_2 = 19,
    RDB_TYPE_SET_LISTPACK = 20, /* Redis 7.2 (RDB 11); read only */
};

enum rdb_opcode {
    RDB_OPCODE_FUNCTION2 = 245,
    RDB_OPCODE_FUNCTION = 246,
    RDB_OPCODE_MODULE_AUX = 247,
    RDB_OPCODE_IDLE = 248,
    RDB_OPCODE_FREQ = 249,
    RDB_OPCODE_AUX = 250,
    RDB_OPCODE_RESIZEDB = 251,
    RDB_OPCODE_EXPIRETIME_MS = 252,
    RDB_OPCODE_EXPIRETIME = 253,
    RDB_OPCODE_SELECTDB = 254,
    RDB_OPCODE_EOF = 255,
};

/* ---- writing ---- */

/* A growing output buffer (sh_malloc'd). compress: strings longer than 20
 * bytes are LZF-compressed when that saves bytes (rdbcompression). */
struct rdb_out {
    char *data;
    size_t len, cap;
    bool compress;
};

void rdb_out_init(struct rdb_out *o, bool compress);
/* Frees the bytes; the buffer is empty and usable again. */
void rdb_out_free(struct rdb_out *o);
/* Empties it, keeping the allocation. */
void rdb_out_reset(struct rdb_out *o);
void rdb_put_raw(struct rdb_out *o, const void *p, size_t n);
void rdb_put_byte(struct rdb_out *o, uint8_t b);
/* An RDB length (6-bit, 14-bit, 32-bit or 64-bit form). */
void rdb_put_len(struct rdb_out *o, uint64_t len);
/* An RDB string: integer form when p[0..n) is the canonical decimal of a
 * value that fits 32 bits, LZF when o->compress and it pays, else plain. */
void rdb_put_string(struct rdb_out *o, const void *p, size_t n);
/* A long long as an RDB string (its decimal form, integer-encoded). */
void rdb_put_ll(struct rdb_out *o, long long v);
/* 8 bytes little-endian (EXPIRETIME_MS, ctime). */
void rdb_put_ms(struct rdb_out *o, int64_t ms);
/* A binary double, 8 bytes little-endian (ZSET_2 scores). */
void rdb_put_double(struct rdb_out *o, double d);
/* The type byte rdb_put_value_payload writes v in (enum rdb_type). */
int rdb_value_type(const struct kval *v);
/* v's payload in that type's form (without the type byte). */
void rdb_put_value_payload(struct rdb_out *o, const struct kval *v);

/* ---- reading ---- */

/* Bytes being read (borrowed). On failure err says what was expected and
 * at which offset ("... at offset N"), and every later call fails. */
struct rdb_in {
    const unsigned char *p;
    size_t len, pos;
    bool failed;
    char err[160];
};

void rdb_in_init(struct rdb_in *in, const void *p, size_t len);
/* Sets the error (printf-style; " at offset N" is appended) and returns
 * false. */
bool rdb_fail(struct rdb_in *in, const char *fmt, ...) SH_PRINTF(2, 3);
bool rdb_get_byte(struct rdb_in *in, uint8_t *b);
bool rdb_get_raw(struct rdb_in *in, size_t n, const unsigned char **p);
/* An RDB length; *encoded (may be NULL: then an encoded form is an error)
 * is set when it is one of the special string forms (int8/16/32, LZF). */
bool rdb_get_len(struct rdb_in *in, uint64_t *len, bool *encoded);
bool rdb_get_ms(struct rdb_in *in, int64_t *ms);
bool rdb_get_double(struct rdb_in *in, double *d);

/* A string read from RDB: borrowed from the input, or decoded into owned
 * (LZF) or ibuf (integer forms). rdb_str_free releases it. */
struct rdb_str {
    const char *p;
    size_t len;
    char *owned;
    char ibuf[24];
};
bool rdb_get_string(struct rdb_in *in, struct rdb_str *s);
void rdb_str_free(struct rdb_str *s);
/* Moves past a string without decoding it. */
bool rdb_skip_string(struct rdb_in *in);

/* Reads a payload of type `type` into out (which must be KVAL_NONE) in the
 * encoding lim calls for; hash tables and skiplists are seeded from *rnd.
 * False (in->err set, out left KVAL_NONE) on corrupt bytes, an unknown or
 * unsupported type (modules), or an empty collection (Redis refuses those
 * too; an empty stream is a value, as in Redis). A stream (STREAM_LISTPACKS
 * or _2) is checked deeply: every node (tstream_node_validate), nodes and
 * live entries in order, length and last_id against the entries, and each
 * group's PEL against its consumers' (every pending entry owned by exactly
 * one consumer). */
bool rdb_get_value(struct rdb_in *in, int type, struct kval *out, const struct kval_limits *lim,
                   uint64_t *rnd);
/* Moves past a payload of type `type` without building it (only lengths are
 * checked). */
bool rdb_skip_value(struct rdb_in *in, int type);

/* ---- DUMP and RESTORE ---- */

/* The DUMP payload of v: type byte, payload, RDB version (2 bytes LE), CRC-64
 * of all that (8 bytes LE). Strings are LZF-compressed when it pays (Redis's
 * rdbcompression yes). Owned by the caller (sh_free). O(n). */
char *rdb_dump(const struct kval *v, size_t *len);
/* RESTORE's side: checks the footer (else "DUMP payload version or checksum
 * are wrong": shorter than 10 bytes, a version above RDB_VERSION, or a CRC
 * that does not match; a CRC of 0 is not special here, as in Redis's
 * verifyDumpPayload) and decodes the value into out (else "Bad data
 * format"); err gets Redis's text without "ERR ". Bytes between the value
 * and the footer are ignored, as Redis does; the value is always checked
 * as deeply as Redis's sanitize-dump-payload yes would (duplicates, order
 * of intsets, every blob entry). Returns true on success. O(n), and O(n)
 * memory whatever counts and lengths the payload claims. */
bool rdb_restore(const void *p, size_t len, struct kval *out, const struct kval_limits *lim,
                 uint64_t *rnd, char *err, size_t errlen);
