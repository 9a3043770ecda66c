/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * log.h: one-line log messages: "pid:role day mon year hh:mm:ss.mmm <level> msg", Redis's
 * layout, with the core id as the role ("S3" for shard 3, "M" for main).
 *
 * Each thread has its own level (a shard's copy follows CONFIG SET on that
 * shard) and formats into its own stack buffer. Where the line goes depends
 * on the thread:
 *
 * - A thread without a log buffer (main, start-up) writes each line at once,
 *   one write appending to the log fd (pwritev2 with RWF_APPEND): atomic for
 *   lines this short, so threads never lock.
 * - A shard must never block on the log file (CONVENTIONS.md, rule 22), so it
 *   attaches a per-core buffer of two halves. Lines are appended to one half
 *   while the other may be being written by the shard's own ring:
 *
 *       log_write --append--> [ accumulating half ]  [ half being written ] --> fd
 *                                        \__ swapped when the other is written __/
 *
 *       log_buf_flush (once per loop iteration) --> submit hook (the shard:
 *           one write on its ring) ... its completion --> log_buf_written(res)
 *
 *   When a line does not fit the accumulating half, the flush is started at
 *   once; if the other half is still in flight, the line is dropped and
 *   counted, and a line saying how many were dropped starts the batch after
 *   the full one. A write's failure drops its batch: there is nowhere to
 *   report it.
 *
 * Every log_buf_* function acts on the calling thread's buffer and must be
 * called on that thread only; nothing here is shared between threads but the
 * fd, which is set before the shards start and keeps its number afterwards.
 */
#pragma once

#include "shardis/config.h"
#include "shardis/sh.h"

/* The longest line, newline included; longer messages are truncated. */
#define LOG_LINE_MAX 1024

/* Starts a write of [buf, buf + len) to fd for the calling thread's log
 * buffer: buf stays valid and unchanged until log_buf_written reports the
 * write's result on this thread. Returns 0 when the write was started, or
 * -errno when it could not be (the bytes then wait for the next flush). */
typedef int log_submit_fn(void *arg, int fd, const void *buf, size_t len);

/* Opens the log file ("" = stderr). Before the shards start. Returns 0 or
 * -errno. */
SH_MUST_CHECK int log_setup(const char *path);
void log_teardown(void);
/* Reopens the log file at the same path (logrotate's SIGHUP). The new file
 * takes the old descriptor's number (dup3), so writers never see a change:
 * a batch already in flight finishes in the old file, the next goes to the
 * new one. Main only. Returns 0 or -errno. */
SH_MUST_CHECK int log_reopen(void);
/* Sets the calling thread's level and role tag ("M", "S0", ...). */
void log_thread_init(int level, const char *role);
void log_set_level(int level);
bool log_enabled(int level);
/* Formats one line and appends it to the calling thread's buffer, or writes
 * it at once when the thread has none. */
SH_PRINTF(2, 3) void log_write(int level, const char *fmt, ...);

/* Gives the calling thread a log buffer of two halves of `half` bytes each
 * (at least 2 * LOG_LINE_MAX); its lines are buffered until flushed through
 * `submit`, called with `arg` (borrowed: it must outlive the buffer). The
 * thread must not have one already. */
void log_buf_attach(size_t half, log_submit_fn *submit, void *arg);
/* Starts the write of what is pending, if no write is in flight: the rest of
 * a short write, else the lines accumulated so far. Cheap when there is
 * nothing to do: the shard calls it once per loop iteration. */
void log_buf_flush(void);
/* Reports the result of the write the submit hook started: the number of
 * bytes written (a short write leaves the rest for the next flush) or
 * -errno (the batch is dropped). */
void log_buf_written(int res);
/* Whether a write started by the submit hook has not been reported yet. */
bool log_buf_is_writing(void);
/* Writes what is left synchronously and frees the buffer; later lines are
 * written at once. Call it when no write can still be in flight (the ring
 * that ran them is gone): a batch still marked in flight is not written
 * again, and its memory is leaked rather than freed under the kernel. No-op
 * without a buffer. */
void log_buf_detach(void);

/* Evaluates the arguments only when the level is enabled. */
#define sh_log(level, ...)                                                                         \
    do {                                                                                           \
        if (log_enabled(level)) {                                                                  \
            log_write(level, __VA_ARGS__);                                                         \
        }                                                                                          \
    } while (0)
