/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * acl_log.h: the ACL LOG of Redis 7.0 (acl.c's addACLLogEntry): denied
 * commands, keys and channels, and failed AUTH, newest first, with
 * repeated events grouped into one entry.
 *
 * Each core keeps the log of the denials that happened on it (a client's
 * commands are checked on its own core); ACL LOG merges the logs of every
 * core (cmd_acl.c) and ACL LOG RESET clears each.
 *
 * Threading: every function works on the calling core's own log; a core's
 * log is freed when its thread exits.
 */
#pragma once

#include "shardis/acl.h"
#include "shardis/sh.h"

struct conn;
struct rbuf;

/* Events this close (ms) to an entry of the same reason, context, object
 * and user bump its count instead of making a new entry. */
#define ACL_LOG_GROUPING_MS 60000

enum acl_log_reason {
    ACL_LOG_REASON_COMMAND = 0,
    ACL_LOG_REASON_KEY,
    ACL_LOG_REASON_CHANNEL,
    ACL_LOG_REASON_AUTH,
};

enum acl_log_context {
    ACL_LOG_CTX_TOPLEVEL = 0,
    ACL_LOG_CTX_MULTI,
    ACL_LOG_CTX_LUA,
};

/* One entry; all fields public, read-only, NUL-terminated strings owned by
 * the log. */
struct acl_log_entry {
    struct acl_log_entry *next; /* older */
    struct acl_log_entry *prev; /* newer */
    long long count;
    int64_t ctime_ns; /* unix ns of the last event (orders the cores' logs) */
    enum acl_log_reason reason;
    enum acl_log_context context;
    char *object;
    size_t object_len;
    char *username;
    size_t username_len;
    char *cinfo; /* the client's CLIENT LIST line */
    size_t cinfo_len;
};

/* What the log needs from layers above core, set once before the shards
 * run (cmd_acl.c sets them): the CLIENT LIST line of a connection, and
 * whether it is queueing a MULTI. Either may be NULL (an empty line,
 * never in MULTI). */
struct acl_log_hooks {
    void (*describe)(struct rbuf *b, const struct conn *c, int64_t now_ms);
    bool (*in_multi)(const struct conn *c);
};
extern struct acl_log_hooks acl_log_hooks;

/* Logs an event of client c: object and username are copied. The entry
 * moves to the head, grouped with a matching one among the 10 newest; the
 * log then keeps at most acllog-max-len entries. O(10 + line). */
void acl_log_add(struct conn *c, enum acl_log_reason reason, enum acl_log_context context,
                 struct sh_slice object, struct sh_slice username);

/* "toplevel", or "multi" while c queues a MULTI. */
enum acl_log_context acl_log_context_of(const struct conn *c);

/* Logs an acl_check_at refusal of cmd for c's user (bad: the argv index of
 * the refused key or channel). Outside scripts it also sets c->last_cmd to
 * cmd, as Redis's lastcmd is set before the check. Routing calls it with
 * acl_log_context_of(c); scripts (txn/eval.c) with the calling client as c,
 * the script's command and arguments, and ACL_LOG_CTX_LUA; an EXEC that
 * checks again with ACL_LOG_CTX_MULTI. */
void acl_log_denied(struct conn *c, enum acl_verdict v, const struct cmd_spec *cmd,
                    const struct sh_slice *argv, int bad, enum acl_log_context context);

/* Logs a failed AUTH or HELLO AUTH: object is the command name as the
 * client wrote it (argv[0]), username the user it named. */
void acl_log_auth_failed(struct conn *c, struct sh_slice cmdname, struct sh_slice username);

/* The clock of ctime_ns: CLOCK_REALTIME in ns (one clock for every core). */
int64_t acl_log_now_ns(void);
/* The newest entry of this core's log (NULL when empty); follow ->next. */
const struct acl_log_entry *acl_log_first(void);
/* Empties this core's log. */
void acl_log_reset(void);
