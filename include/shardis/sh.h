/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sh.h: cross-cutting helpers used by every module: allocation that aborts on
 * failure (sh_malloc) or reports it (sh_try_malloc), always-on assertions,
 * panics for start-up failure, and the byte-slice type that arguments travel
 * in. Nothing here keeps state; every function may be called from any core.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SH_MUST_CHECK    __attribute__((warn_unused_result))
#define SH_LIKELY(x)     __builtin_expect(!!(x), 1)
#define SH_UNLIKELY(x)   __builtin_expect(!!(x), 0)
#define SH_NORETURN      __attribute__((noreturn))
#define SH_ALWAYS_INLINE inline __attribute__((always_inline))
#define SH_PRINTF(a, b)  __attribute__((format(printf, a, b)))
#define SH_ARRAY_LEN(a)  (sizeof(a) / sizeof((a)[0]))
#define SH_CACHELINE     64

/* A borrowed run of bytes; it owns nothing. */
struct sh_slice {
    const char *ptr;
    size_t len;
};

/* Prints "file:line: message" and aborts. Only for start-up failure or
 * detected corruption, never for network input. */
SH_NORETURN SH_PRINTF(3, 4) void sh_panic_at(const char *file, int line, const char *fmt, ...);
#define sh_panic(...) sh_panic_at(__FILE__, __LINE__, __VA_ARGS__)

/* Always on: for invariants whose failure would corrupt data. */
#define SH_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (SH_UNLIKELY(!(cond))) {                                                                \
            sh_panic_at(__FILE__, __LINE__, "assertion failed: %s", #cond);                        \
        }                                                                                          \
    } while (0)

#ifdef SHARDIS_DEBUG
#define SH_DEBUG_ASSERT(cond) SH_ASSERT(cond)
#else
#define SH_DEBUG_ASSERT(cond) ((void)0)
#endif

/* Allocation that cannot fail: aborts when memory is exhausted. The caller
 * frees with sh_free on the same core (CONVENTIONS.md, rule 26). */
void *sh_malloc(size_t size);
void *sh_calloc(size_t n, size_t size);
/* Zeroed memory aligned to `align` (a power of two, e.g. SH_CACHELINE), for
 * types with _Alignas (mailboxes, shard structs). Freed with sh_free. */
void *sh_aligned_calloc(size_t align, size_t n, size_t size);
/* Returns the new block; the old pointer is dead afterwards. */
void *sh_realloc(void *ptr, size_t size);
/* For sizes a client chose: returns NULL on failure, which becomes an OOM
 * reply. */
SH_MUST_CHECK void *sh_try_malloc(size_t size);
SH_MUST_CHECK void *sh_try_realloc(void *ptr, size_t size);
/* sh_free(NULL) is a no-op. */
void sh_free(void *ptr);
/* Bytes the allocator really reserved for ptr (>= the size asked for). */
size_t sh_alloc_size(const void *ptr);
/* Bytes currently allocated by the calling thread through sh_* (may be
 * negative for one thread when blocks travel, but sums right over threads). */
int64_t sh_alloc_thread_bytes(void);
/* Bytes allocated by the whole process, as the allocator counts them. */
size_t sh_alloc_process_bytes(void);
/* Name of the allocator in use ("jemalloc-5.3.0" or "libc"). */
const char *sh_alloc_name(void);

/* The allocator's own figures for the whole process, in bytes (INFO's
 * allocator_*): in live blocks, in the pages that hold them, and resident
 * (its metadata included). */
struct sh_alloc_stats {
    size_t allocated;
    size_t active;
    size_t resident;
};
/* Fills *st. Returns 0, or -ENOTSUP with *st zeroed when the allocator does
 * not report them (libc malloc). Cost: jemalloc refreshes its statistics
 * over every arena (microseconds; not for a hot path). */
SH_MUST_CHECK int sh_alloc_get_stats(struct sh_alloc_stats *st);

/* MEMORY MALLOC-STATS: the allocator's report, out(arg, text) called for
 * each piece; -ENOTSUP when it has none (libc). MEMORY PURGE: dirty pages
 * back to the system; -ENOTSUP likewise. */
SH_MUST_CHECK int sh_alloc_print_stats(void (*out)(void *arg, const char *text), void *arg);
SH_MUST_CHECK int sh_alloc_purge(void);
/* Frees a large block (a resized table's old array) and hands the free
 * pages of the calling thread's arena back to the system at once, instead of
 * after the allocator's decay time (jemalloc's 10 s), so that RSS falls when
 * the table has moved. For blocks of a megabyte or more: the purge costs a
 * system call per free extent. sh_free_pages(NULL) is a no-op. */
void sh_free_pages(void *ptr);

char *sh_strdup(const char *s);
char *sh_memdup(const void *p, size_t n);

/* A copy of v[0..n) and of the bytes they point to, in one allocation
 * (freed with sh_free): the slices point into it. */
struct sh_slice *sh_slices_dup(int n, const struct sh_slice *v);

/* Case-insensitive equality of a slice with a NUL-terminated ASCII word. */
bool sh_slice_eq_nocase(struct sh_slice s, const char *word);

/* Milliseconds and microseconds of CLOCK_REALTIME, and a monotonic clock. */
int64_t sh_time_ms(void);
int64_t sh_time_us(void);
int64_t sh_mono_us(void);
