/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tzset.c: placeholder until the type lands (issue #3): no command creates
 * such a value yet, so these are never reached.
 */
#include "shardis/tzset.h"

#include <errno.h>

void tzset_free(struct kval *v)
{
    sh_panic("tzset_free: no such values exist yet (type %d)", v->type);
}

size_t tzset_memory(const struct kval *v)
{
    (void)v;
    return 0;
}

char *tzset_dump(const struct kval *v, size_t *len)
{
    *len = 0;
    sh_panic("tzset_dump: no such values exist yet (type %d)", v->type);
}

int tzset_restore(struct kval *v, const char *p, size_t len, const struct kval_limits *lim)
{
    (void)v;
    (void)p;
    (void)len;
    (void)lim;
    return -EINVAL;
}
