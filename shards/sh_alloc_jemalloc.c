/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sh_alloc_jemalloc.c: process-wide allocator figures when jemalloc is the
 * allocator (the release build links it in place of libc's malloc).
 */
#include "shardis/sh.h"

#include <jemalloc/jemalloc.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

size_t sh_alloc_process_bytes(void)
{
    uint64_t epoch = 1;
    size_t sz = sizeof(epoch);
    size_t allocated = 0;
    size_t len = sizeof(allocated);

    /* stats are cached by jemalloc; bumping the epoch refreshes them */
    mallctl("epoch", &epoch, &sz, &epoch, sz);
    if (mallctl("stats.allocated", &allocated, &len, NULL, 0) != 0) {
        return 0;
    }
    return allocated;
}

int sh_alloc_get_stats(struct sh_alloc_stats *st)
{
    uint64_t epoch = 1;
    size_t sz = sizeof(epoch);
    size_t len = sizeof(size_t);

    mallctl("epoch", &epoch, &sz, &epoch, sz);
    if (mallctl("stats.allocated", &st->allocated, &len, NULL, 0) != 0 ||
        mallctl("stats.active", &st->active, &len, NULL, 0) != 0 ||
        mallctl("stats.resident", &st->resident, &len, NULL, 0) != 0) {
        memset(st, 0, sizeof(*st));
        return -ENOTSUP;
    }
    return 0;
}

const char *sh_alloc_name(void)
{
    const char *v = NULL;
    size_t len = sizeof(v);
    static __thread char name[64];

    if (mallctl("version", &v, &len, NULL, 0) != 0 || !v) {
        return "jemalloc";
    }
    /* "5.3.0-0-g54eaed1d..." -> "jemalloc-5.3.0" */
    size_t i = 0;
    const char *p = "jemalloc-";
    while (*p && i < sizeof(name) - 1) {
        name[i++] = *p++;
    }
    while (*v && *v != '-' && i < sizeof(name) - 1) {
        name[i++] = *v++;
    }
    name[i] = '\0';
    return name;
}

int sh_alloc_print_stats(void (*out)(void *arg, const char *text), void *arg)
{
    malloc_stats_print(out, arg, NULL);
    return 0;
}

int sh_alloc_purge(void)
{
    char cmd[64];

    /* every arena: MALLCTL_ARENAS_ALL */
    snprintf(cmd, sizeof(cmd), "arena.%u.purge", (unsigned)MALLCTL_ARENAS_ALL);
    return mallctl(cmd, NULL, NULL, NULL, 0) == 0 ? 0 : -ENOTSUP;
}

void sh_free_pages(void *ptr)
{
    unsigned arena;
    size_t len = sizeof(arena);
    char cmd[64];

    if (!ptr) {
        return;
    }
    sh_free(ptr);
    if (mallctl("thread.arena", &arena, &len, NULL, 0) == 0) {
        snprintf(cmd, sizeof(cmd), "arena.%u.purge", arena);
        (void)mallctl(cmd, NULL, NULL, NULL, 0);
    }
}
