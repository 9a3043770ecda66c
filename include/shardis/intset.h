/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * intset.h: Redis's intset, the compact encoding of a set whose members are
 * all integers: one allocation holding a sorted array of int16, int32 or
 * int64 values, widened for every member when a value needs it (never
 * narrowed again). Membership is a binary search.
 *
 * The bytes [is, is + intset_bytes(is)) are Redis's layout (intset.c draws
 * it), so they can be written to an RDB payload as they are and read back
 * with intset_load.
 *
 * The functions that change a set take it and return the new one: the old
 * pointer is dead afterwards. Growth uses sh_realloc, which aborts when
 * memory is exhausted; sizes are bounded by set-max-intset-entries.
 *
 * Threading: none; a set belongs to the shard that owns its key.
 */
#pragma once

#include "shardis/sh.h"

struct intset;

/* A new empty set of int16 width. Freed with intset_destroy. */
struct intset *intset_create(void);
/* Frees the set; intset_destroy(NULL) is a no-op. */
void intset_destroy(struct intset *is);

/* Adds v. Returns the new set; *added (when added is not NULL) says whether
 * v was new. O(n) (the tail moves), O(log n) when v is already there. */
SH_MUST_CHECK struct intset *intset_add(struct intset *is, int64_t v, bool *added);
/* Removes v. Returns the new set; *removed (when removed is not NULL) says
 * whether v was there. O(n). */
SH_MUST_CHECK struct intset *intset_remove(struct intset *is, int64_t v, bool *removed);
/* Whether v is a member. O(log n). */
bool intset_has(const struct intset *is, int64_t v);

/* Number of members. */
size_t intset_len(const struct intset *is);
/* Total bytes of the set, its allocation's size (for MEMORY USAGE). */
size_t intset_bytes(const struct intset *is);
/* Bytes per member: 2, 4 or 8. */
unsigned intset_width(const struct intset *is);
/* The member at pos (0 is the smallest); pos < intset_len (asserted). */
int64_t intset_get(const struct intset *is, size_t pos);
/* The smallest / largest member; the set must not be empty (asserted). */
int64_t intset_min(const struct intset *is);
int64_t intset_max(const struct intset *is);
/* The member at position rnd % len, rnd being a random number from the
 * caller (no RNG state here); the set must not be empty (asserted). */
int64_t intset_random(const struct intset *is, uint64_t rnd);

/* Checks that buf[0..size) is a sound set: a known width, a length that
 * matches size, members strictly ascending. An empty set is valid; callers
 * that must not create empty keys check intset_len. Returns 0 or -EINVAL.
 * O(n). */
SH_MUST_CHECK int intset_validate(const void *buf, size_t size);
/* Validates buf[0..size) and copies it into a new set (*out, freed with
 * intset_destroy); buf stays the caller's. Returns 0 or -EINVAL (*out is
 * then untouched). */
SH_MUST_CHECK int intset_load(const void *buf, size_t size, struct intset **out);
