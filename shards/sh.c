/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sh.c: the cross-cutting helpers of sh.h: allocation with per-thread
 * accounting, panics, slices and clocks.
 *
 * Accounting: every sh_* allocation adds the allocator's usable size to a
 * counter of the calling thread and every free subtracts it. Each shard
 * thread is one core, so the counter is that core's memory; a block that
 * travels to another core is freed where it was allocated (CONVENTIONS.md),
 * so per-core figures stay meaningful. The counter is thread-local: no
 * atomics, no sharing.
 */
#include "shardis/sh.h"

#include <ctype.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static __thread int64_t thread_bytes;

void sh_panic_at(const char *file, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "shardis panic at %s:%d: %s\n", file, line, msg);
    fflush(stderr);
    abort();
}

void *sh_try_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (p) {
        thread_bytes += (int64_t)malloc_usable_size(p);
    }
    return p;
}

void *sh_malloc(size_t size)
{
    void *p = sh_try_malloc(size);

    if (!p) {
        sh_panic("out of memory allocating %zu bytes", size);
    }
    return p;
}

void *sh_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (!p) {
        sh_panic("out of memory allocating %zu x %zu bytes", n, size);
    }
    thread_bytes += (int64_t)malloc_usable_size(p);
    return p;
}

void *sh_aligned_calloc(size_t align, size_t n, size_t size)
{
    size_t bytes = n * size;
    void *p;

    if (size && bytes / size != n) {
        sh_panic("aligned allocation of %zu x %zu bytes overflows", n, size);
    }
    bytes = (bytes + align - 1) / align * align; /* aligned_alloc wants a multiple */
    p = aligned_alloc(align, bytes ? bytes : align);
    if (!p) {
        sh_panic("out of memory allocating %zu aligned bytes", bytes);
    }
    memset(p, 0, bytes ? bytes : align);
    thread_bytes += (int64_t)malloc_usable_size(p);
    return p;
}

void *sh_try_realloc(void *ptr, size_t size)
{
    size_t old = ptr ? malloc_usable_size(ptr) : 0;
    void *p = realloc(ptr, size ? size : 1);

    if (p) {
        thread_bytes += (int64_t)malloc_usable_size(p) - (int64_t)old;
    }
    return p;
}

void *sh_realloc(void *ptr, size_t size)
{
    void *p = sh_try_realloc(ptr, size);

    if (!p) {
        sh_panic("out of memory reallocating %zu bytes", size);
    }
    return p;
}

void sh_free(void *ptr)
{
    if (ptr) {
        thread_bytes -= (int64_t)malloc_usable_size(ptr);
        free(ptr);
    }
}

size_t sh_alloc_size(const void *ptr)
{
    return ptr ? malloc_usable_size((void *)ptr) : 0;
}

int64_t sh_alloc_thread_bytes(void)
{
    return thread_bytes;
}

char *sh_strdup(const char *s)
{
    return sh_memdup(s, strlen(s) + 1);
}

char *sh_memdup(const void *p, size_t n)
{
    char *d = sh_malloc(n);

    memcpy(d, p, n);
    return d;
}

struct sh_slice *sh_slices_dup(int n, const struct sh_slice *v)
{
    size_t bytes = 0;
    struct sh_slice *out;
    char *p;

    for (int i = 0; i < n; i++) {
        bytes += v[i].len;
    }
    out = sh_malloc(sizeof(*out) * (size_t)(n > 0 ? n : 1) + bytes);
    p = (char *)(out + (n > 0 ? n : 1));
    for (int i = 0; i < n; i++) {
        if (v[i].len) {
            memcpy(p, v[i].ptr, v[i].len);
        }
        out[i] = (struct sh_slice){ p, v[i].len };
        p += v[i].len;
    }
    return out;
}

bool sh_slice_eq_nocase(struct sh_slice s, const char *word)
{
    size_t n = strlen(word);

    return s.len == n && strncasecmp(s.ptr, word, n) == 0;
}

int64_t sh_time_ms(void)
{
    return sh_time_us() / 1000;
}

int64_t sh_time_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t sh_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
