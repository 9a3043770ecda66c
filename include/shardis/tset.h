/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tset.h: a value type of issue #3, not implemented yet: no command creates
 * such a value. The four functions are the contract kval.c relies on.
 *
 * Threading: a value belongs to the shard that owns its key.
 */
#pragma once

#include "shardis/kval.h"
#include "shardis/sh.h"

/* Frees the value's memory (kval_clear calls it). */
void tset_free(struct kval *v);
/* Bytes the value holds (kval_memory). */
size_t tset_memory(const struct kval *v);
/* The value's elements in kval_dump form (see kval.h); *len its size. The
 * caller frees the bytes with sh_free. */
char *tset_dump(const struct kval *v, size_t *len);
/* Makes v (KVAL_NONE) a value from tset_dump's bytes. Returns 0, or
 * -EINVAL when the bytes are corrupt (v stays KVAL_NONE). */
SH_MUST_CHECK int tset_restore(struct kval *v, const char *p, size_t len,
                               const struct kval_limits *lim);
