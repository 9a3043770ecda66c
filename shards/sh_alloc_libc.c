/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sh_alloc_libc.c: process-wide allocator figures with libc's malloc (the
 * sanitizer builds, where jemalloc would hide heap bugs from ASan).
 */
#include "shardis/sh.h"

#include <errno.h>
#include <malloc.h>
#include <string.h>

size_t sh_alloc_process_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();

    return mi.uordblks + mi.hblkhd;
}

const char *sh_alloc_name(void)
{
    return "libc";
}

int sh_alloc_get_stats(struct sh_alloc_stats *st)
{
    memset(st, 0, sizeof(*st));
    return -ENOTSUP;
}

int sh_alloc_print_stats(void (*out)(void *arg, const char *text), void *arg)
{
    (void)out;
    (void)arg;
    return -ENOTSUP;
}

int sh_alloc_purge(void)
{
    return -ENOTSUP;
}

void sh_free_pages(void *ptr)
{
    /* glibc's free unmaps a block this large (it came from mmap) */
    sh_free(ptr);
}
