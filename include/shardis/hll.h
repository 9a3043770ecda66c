/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * hll.h: HyperLogLog over plain string values, byte for byte Redis 7.0's
 * (hyperloglog.c): a value written by one reads the same in the other.
 *
 * A HyperLogLog is a KVAL_STRING (raw) whose bytes are a 16-byte header
 * ("HYLL", the encoding, three zero bytes, the cached cardinality as 64 bits
 * little-endian whose top bit set means "stale") and 16384 6-bit registers,
 * either dense (12288 bytes, LSB first) or sparse (ZERO / XZERO / VAL run
 * opcodes). Elements hash with MurmurHash64A (seed 0xadc83b19): the low 14
 * bits pick a register, the run of zeros above them (plus one) is its
 * candidate value. Counting uses Ertl's estimator from the register
 * histogram (hllTau/hllSigma), so counts match Redis 7.0 exactly.
 *
 * Every function that reads bytes checks them: a corrupt string gives
 * -EINVAL, never a read or write out of bounds. Like Redis, a sparse string
 * whose last opcode is an XZERO cut after its first byte reads the missing
 * byte as 0 (sds's terminator).
 *
 * Functions that change a value take the struct kval of the key (a raw
 * string, KVAL_ENC_RAW: kval_make_raw, that passed hll_is_valid) and may reallocate its bytes;
 * -ENOMEM leaves it as it was before that one operation.
 *
 * Threading: a value belongs to the shard that owns its key; only that
 * shard's thread calls these functions. Nothing here keeps state.
 */
#pragma once

#include "shardis/sh.h"

#include <stdint.h>

struct kval;

#define HLL_P                14
#define HLL_REGISTERS        (1 << HLL_P) /* 16384 */
#define HLL_HDR_SIZE         16
#define HLL_DENSE_SIZE       (HLL_HDR_SIZE + HLL_REGISTERS * 6 / 8) /* 12304 */
#define HLL_SPARSE_MAX_BYTES 3000 /* Redis's default hll-sparse-max-bytes */
#define HLL_HASH_SEED        0xadc83b19ULL

enum hll_encoding {
    HLL_DENSE = 0,
    HLL_SPARSE = 1,
};

/* Redis's MurmurHash64A (little-endian reads on any host). */
uint64_t hll_murmur64a(const void *key, size_t len, uint64_t seed);

/* Redis's isHLLObjectOrReply test on a string's bytes: at least a header,
 * the magic, a known encoding and, dense, exactly HLL_DENSE_SIZE bytes. */
bool hll_is_valid(const void *p, size_t len);
/* The encoding byte of a valid HLL. */
enum hll_encoding hll_encoding_of(const void *p);

/* Makes v (KVAL_NONE, or a value to replace) an empty sparse HLL. Returns 0
 * or -ENOMEM (v unchanged). */
SH_MUST_CHECK int hll_create(struct kval *v);

/* PFADD of one element to the valid HLL v: returns 1 when a register grew
 * (the cache is then stale), 0 when none did, -EINVAL when v's sparse
 * opcodes are corrupt, -ENOMEM. A sparse v turns dense when a register
 * passes 32 or its bytes would pass sparse_max. O(sparse length). */
SH_MUST_CHECK int hll_add(struct kval *v, const void *ele, size_t len, size_t sparse_max);

/* The cached cardinality of a valid HLL's bytes: true with *card when the
 * cache is fresh. */
bool hll_cache_get(const void *p, uint64_t *card);
/* Stores card as the fresh cached cardinality (p: a valid HLL's bytes). */
void hll_cache_set(void *p, uint64_t card);
/* Marks the cached cardinality stale. */
void hll_cache_invalidate(void *p);

/* Estimates the cardinality of a valid HLL's bytes (ignoring the cache):
 * 0 and *card, or -EINVAL when sparse opcodes are corrupt. O(registers). */
SH_MUST_CHECK int hll_count(const void *p, size_t len, uint64_t *card);
/* The estimate over plain registers (one byte each, as hll_merge builds). */
uint64_t hll_count_registers(const uint8_t regs[HLL_REGISTERS]);

/* regs[i] = max(regs[i], register i of the valid HLL p): 0, or -EINVAL when
 * its sparse opcodes are corrupt (regs then partly merged). */
SH_MUST_CHECK int hll_merge(uint8_t regs[HLL_REGISTERS], const void *p, size_t len);
/* PFMERGE's write into the valid HLL v: made dense first when to_dense,
 * then every non-zero register of regs set (as hll_add would, so a sparse
 * v may turn dense), and the cache marked stale. Returns 0, -EINVAL (v's
 * sparse opcodes corrupt, v unchanged) or -ENOMEM. */
SH_MUST_CHECK int hll_store(struct kval *v, const uint8_t regs[HLL_REGISTERS], bool to_dense,
                            size_t sparse_max);
/* Converts a valid sparse HLL to dense (the header, cache included, kept):
 * 1 converted, 0 already dense, -EINVAL corrupt (unchanged), -ENOMEM. */
SH_MUST_CHECK int hll_to_dense(struct kval *v);
/* The 16384 registers of a valid HLL, one byte each: 0 or -EINVAL. */
SH_MUST_CHECK int hll_registers(const void *p, size_t len, uint8_t regs[HLL_REGISTERS]);

/* PFDEBUG DECODE's text of a sparse HLL's opcodes ("Z:16384", "z:3 v:2,1"
 * ...): a NUL-terminated string the caller frees with sh_free, its length
 * in *out_len; NULL when out of memory (it takes 8 bytes per opcode byte). */
char *hll_decode(const void *p, size_t len, size_t *out_len);

/* PFSELFTEST: the register accessors over random values, then dense and
 * sparse HLLs fed 10^7 elements from seed, checked to agree and to stay
 * within the expected error. Returns 0, or -1 with Redis's "TESTFAILED ..."
 * message in err. Takes seconds. */
int hll_selftest(uint64_t seed, size_t sparse_max, char *err, size_t errlen);
