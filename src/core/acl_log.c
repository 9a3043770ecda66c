/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * acl_log.c: the per-core ACL log (design in acl_log.h).
 *
 * A doubly linked list, newest first, at most acllog-max-len entries.
 * Like Redis, a new event is compared with the 10 newest entries only; a
 * match is updated (count, time, client line) and moved to the head.
 * Times are CLOCK_REALTIME ns, read at each event: the cached loop time
 * (now_ms) cannot order two events of different cores in the same ms.
 *
 * Each core's list hangs off a pthread key, created on first use, whose
 * destructor frees it when the shard's thread exits: the log is per core
 * without a field in struct shard, and is freed by the thread that made it.
 */
#include "shardis/acl_log.h"

#include "shardis/cmdtab.h"
#include "shardis/conn.h"
#include "shardis/reply.h"
#include "shardis/shard.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct acl_log_hooks acl_log_hooks;

struct acl_log {
    struct acl_log_entry *head;
    struct acl_log_entry *tail;
    size_t len;
};

static pthread_key_t log_key;
static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static void entry_free(struct acl_log_entry *e)
{
    sh_free(e->object);
    sh_free(e->username);
    sh_free(e->cinfo);
    sh_free(e);
}

static void log_clear(struct acl_log *l)
{
    struct acl_log_entry *e = l->head;

    while (e) {
        struct acl_log_entry *next = e->next;
        entry_free(e);
        e = next;
    }
    l->head = l->tail = NULL;
    l->len = 0;
}

static void log_destroy(void *p)
{
    if (p) {
        log_clear(p);
        sh_free(p);
    }
}

static void key_create(void)
{
    SH_ASSERT(pthread_key_create(&log_key, log_destroy) == 0);
}

static struct acl_log *my_log(bool create)
{
    struct acl_log *l;

    pthread_once(&log_once, key_create);
    l = pthread_getspecific(log_key);
    if (!l && create) {
        l = sh_malloc(sizeof(*l));
        memset(l, 0, sizeof(*l));
        SH_ASSERT(pthread_setspecific(log_key, l) == 0);
    }
    return l;
}

static char *dup_slice(struct sh_slice s, size_t *len)
{
    char *p = sh_malloc(s.len + 1);

    memcpy(p, s.ptr, s.len);
    p[s.len] = '\0';
    *len = s.len;
    return p;
}

static void unlink_entry(struct acl_log *l, struct acl_log_entry *e)
{
    if (e->prev) {
        e->prev->next = e->next;
    } else {
        l->head = e->next;
    }
    if (e->next) {
        e->next->prev = e->prev;
    } else {
        l->tail = e->prev;
    }
    e->next = e->prev = NULL;
    l->len--;
}

static void push_head(struct acl_log *l, struct acl_log_entry *e)
{
    e->prev = NULL;
    e->next = l->head;
    if (l->head) {
        l->head->prev = e;
    } else {
        l->tail = e;
    }
    l->head = e;
    l->len++;
}

/* ACLLogMatchEntry */
static bool entry_matches(const struct acl_log_entry *e, enum acl_log_reason reason,
                          enum acl_log_context context, int64_t now, struct sh_slice object,
                          struct sh_slice username)
{
    int64_t delta = (e->ctime_ns - now) / 1000000;

    return e->reason == reason && e->context == context &&
           (delta < 0 ? -delta : delta) <= ACL_LOG_GROUPING_MS && e->object_len == object.len &&
           !memcmp(e->object, object.ptr, object.len) && e->username_len == username.len &&
           !memcmp(e->username, username.ptr, username.len);
}

static char *client_line(const struct conn *c, int64_t now, size_t *len)
{
    struct rbuf b;
    char *p;

    rbuf_init(&b);
    if (acl_log_hooks.describe) {
        acl_log_hooks.describe(&b, c, now);
    }
    p = dup_slice((struct sh_slice){ .ptr = b.data ? b.data : "", .len = b.len }, len);
    rbuf_fini(&b);
    return p;
}

void acl_log_add(struct conn *c, enum acl_log_reason reason, enum acl_log_context context,
                 struct sh_slice object, struct sh_slice username)
{
    struct acl_log *l = my_log(true);
    int64_t now = acl_log_now_ns();
    struct acl_log_entry *e = l->head;
    size_t cinfo_len;
    char *cinfo = client_line(c, c->sh->now_ms, &cinfo_len);

    for (int toscan = 10; toscan-- && e; e = e->next) {
        if (entry_matches(e, reason, context, now, object, username)) {
            unlink_entry(l, e);
            push_head(l, e);
            sh_free(e->cinfo);
            e->cinfo = cinfo;
            e->cinfo_len = cinfo_len;
            e->ctime_ns = now;
            e->count++;
            return;
        }
    }
    e = sh_malloc(sizeof(*e));
    memset(e, 0, sizeof(*e));
    e->count = 1;
    e->ctime_ns = now;
    e->reason = reason;
    e->context = context;
    e->object = dup_slice(object, &e->object_len);
    e->username = dup_slice(username, &e->username_len);
    e->cinfo = cinfo;
    e->cinfo_len = cinfo_len;
    push_head(l, e);
    while (l->len > (size_t)c->sh->cfg.acllog_max_len) {
        struct acl_log_entry *old = l->tail;
        unlink_entry(l, old);
        entry_free(old);
    }
}

enum acl_log_context acl_log_context_of(const struct conn *c)
{
    return acl_log_hooks.in_multi && acl_log_hooks.in_multi(c) ? ACL_LOG_CTX_MULTI
                                                               : ACL_LOG_CTX_TOPLEVEL;
}

static struct sh_slice cstr(const char *s)
{
    return (struct sh_slice){ .ptr = s, .len = strlen(s) };
}

void acl_log_denied(struct conn *c, enum acl_verdict v, const struct cmd_spec *cmd,
                    const struct sh_slice *argv, int bad, enum acl_log_context context)
{
    enum acl_log_reason reason = ACL_LOG_REASON_COMMAND;
    struct sh_slice object = cstr(cmd->fullname);

    if (v == ACL_DENIED_KEY || v == ACL_DENIED_CHANNEL) {
        reason = v == ACL_DENIED_KEY ? ACL_LOG_REASON_KEY : ACL_LOG_REASON_CHANNEL;
        object = argv[bad];
    }
    if (context != ACL_LOG_CTX_LUA) {
        snprintf(c->last_cmd, sizeof(c->last_cmd), "%s", cmd->fullname);
    }
    acl_log_add(c, reason, context, object, cstr(acl_user_name(c->user)));
}

void acl_log_auth_failed(struct conn *c, struct sh_slice cmdname, struct sh_slice username)
{
    acl_log_add(c, ACL_LOG_REASON_AUTH, acl_log_context_of(c), cmdname, username);
}

int64_t acl_log_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

const struct acl_log_entry *acl_log_first(void)
{
    struct acl_log *l = my_log(false);

    return l ? l->head : NULL;
}

void acl_log_reset(void)
{
    struct acl_log *l = my_log(false);

    if (l) {
        log_clear(l);
    }
}
