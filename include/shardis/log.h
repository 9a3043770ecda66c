/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * log.h: one-line log messages: "pid:role day mon year hh:mm:ss.mmm <level> msg", Redis's
 * layout, with the core id as the role ("S3" for shard 3, "M" for main).
 *
 * Each thread has its own level (a shard's copy follows CONFIG SET on that
 * shard) and formats into its own stack buffer; a message is one write(2) to
 * the log fd, which is atomic for lines this short, so threads never lock.
 */
#pragma once

#include "shardis/config.h"
#include "shardis/sh.h"

/* Opens the log file ("" = stderr). Before the shards start. Returns 0 or
 * -errno. */
SH_MUST_CHECK int log_setup(const char *path);
void log_teardown(void);
/* Reopens the log file at the same path (logrotate's SIGHUP). The new file
 * takes the old descriptor's number (dup2), so writers never see a change.
 * Main only. Returns 0 or -errno. */
SH_MUST_CHECK int log_reopen(void);
/* Sets the calling thread's level and role tag ("M", "S0", ...). */
void log_thread_init(int level, const char *role);
void log_set_level(int level);
bool log_enabled(int level);
SH_PRINTF(2, 3) void log_write(int level, const char *fmt, ...);

/* Evaluates the arguments only when the level is enabled. */
#define sh_log(level, ...)                                                                         \
    do {                                                                                           \
        if (log_enabled(level)) {                                                                  \
            log_write(level, __VA_ARGS__);                                                         \
        }                                                                                          \
    } while (0)
