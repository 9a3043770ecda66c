/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * thash.c: placeholder until the type lands (issue #3): no command creates
 * such a value yet, so these are never reached.
 */
#include "shardis/thash.h"

#include <errno.h>

void thash_free(struct kval *v)
{
    sh_panic("thash_free: no such values exist yet (type %d)", v->type);
}

size_t thash_memory(const struct kval *v)
{
    (void)v;
    return 0;
}

char *thash_dump(const struct kval *v, size_t *len)
{
    *len = 0;
    sh_panic("thash_dump: no such values exist yet (type %d)", v->type);
}

int thash_restore(struct kval *v, const char *p, size_t len, const struct kval_limits *lim)
{
    (void)v;
    (void)p;
    (void)len;
    (void)lim;
    return -EINVAL;
}
