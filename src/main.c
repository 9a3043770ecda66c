/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * main.c: start-up and shutdown.
 *
 *   config -> log -> pidfile -> command table -> shards (threads) -> wait
 *   for signals -> ask shards to stop -> join -> remove pidfile -> exit 0
 *
 * Torn down in the reverse order of setup. Signals are blocked in every
 * thread (the mask is set before the shards start) and taken here with
 * sigtimedwait, so no handler runs inside a shard.
 */
#include "shardis/acl.h"
#include "shardis/cmd_bind.h"
#include "shardis/cmdtab.h"
#include "shardis/config.h"
#include "shardis/log.h"
#include "shardis/persist.h"
#include "shardis/repl.h"
#include "shardis/route.h"
#include "shardis/sdnotify.h"
#include "shardis/shard.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static void usage(void)
{
    fprintf(stderr, "Usage: shardis-server [/path/to/shardis.conf] [--directive value ...]\n"
                    "       shardis-server --test-config /path/to/shardis.conf\n"
                    "       shardis-server -v or --version\n"
                    "       shardis-server -h or --help\n\n"
                    "Examples:\n"
                    "       shardis-server (run with the built-in defaults)\n"
                    "       shardis-server /etc/shardis/shardis.conf\n"
                    "       shardis-server --port 7777 --shards 4\n"
                    "       shardis-server /etc/shardis/shardis.conf --loglevel verbose\n");
}

static int write_pidfile(const char *path)
{
    FILE *f;

    if (!path[0]) {
        return 0;
    }
    f = fopen(path, "w");
    if (!f) {
        return -errno;
    }
    fprintf(f, "%d\n", (int)getpid());
    fclose(f);
    return 0;
}

/* Like Redis's adjustOpenFilesLimit: room for maxclients plus the server's
 * own descriptors, or fewer clients when the limit cannot be raised. */
static void adjust_open_files(struct server *srv)
{
    rlim_t reserved = 32 + (rlim_t)srv->nshards * 4;
    rlim_t want = (rlim_t)srv->cfg.maxclients + reserved;
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want) {
        return;
    }
    rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < want) {
        long long clients = rl.rlim_cur > reserved ? (long long)(rl.rlim_cur - reserved) : 1;

        sh_log(LOG_WARNING,
               "You requested maxclients of %lld requiring at least %llu max file "
               "descriptors; maxclients is now %lld (open files limit %llu).",
               srv->cfg.maxclients, (unsigned long long)want, clients,
               (unsigned long long)rl.rlim_cur);
        srv->cfg.maxclients = clients;
    }
}

/* Waits until every shard listens (0) or one failed (-1). Loading a big
 * RDB file comes first, so there is no time limit while they live. */
static int wait_ready(struct server *srv)
{
    for (;;) {
        if (mbox_counter_get(&srv->ready) == srv->nshards) {
            return 0;
        }
        if (mbox_counter_get(&srv->exited) > 0) {
            return -1;
        }
        usleep(1000);
    }
}

/* WATCHDOG=1 only when every shard's timer ran since the last ping: a
 * stuck shard makes systemd restart the service. */
static void watchdog_tick(struct server *srv, long *seen, int64_t interval_us, int64_t *next)
{
    int64_t now = sh_mono_us();
    bool healthy = true;

    if (!interval_us || now < *next) {
        return;
    }
    for (int i = 0; i < srv->nshards; i++) {
        long beat = mbox_counter_get(&srv->heartbeat[i]);

        healthy = healthy && beat != seen[i];
        seen[i] = beat;
    }
    if (healthy) {
        sdnotify_send("WATCHDOG=1");
    } else if (!mbox_counter_get(&srv->stopping)) {
        sh_log(LOG_WARNING, "A shard's loop did not run: not feeding the watchdog");
    }
    *next = now + interval_us / 2;
}

static void wait_for_stop(struct server *srv)
{
    sigset_t set;
    struct timespec tick = { .tv_sec = 0, .tv_nsec = 50 * 1000 * 1000 };
    int64_t wd_interval = sdnotify_watchdog_usec(), wd_next = sh_mono_us() + wd_interval / 2;
    long *seen = sh_calloc((size_t)srv->nshards, sizeof(long));

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    while (mbox_counter_get(&srv->exited) < srv->nshards) {
        int sig = sigtimedwait(&set, NULL, &tick);

        watchdog_tick(srv, seen, wd_interval, &wd_next);
        if (sig == SIGHUP) {
            if (log_reopen() != 0) {
                sh_log(LOG_WARNING, "Could not reopen the log file %s", srv->cfg.logfile);
            } else {
                sh_log(LOG_NOTICE, "Log file reopened (SIGHUP)");
            }
            continue;
        }
        if (sig == SIGTERM || sig == SIGINT) {
            sh_log(LOG_WARNING, "Received %s scheduling shutdown...",
                   sig == SIGTERM ? "SIGTERM" : "SIGINT");
            sdnotify_send("STOPPING=1\nSTATUS=Shutting down");
            shard_request_shutdown(srv);
        }
    }
    sh_free(seen);
}

/* The users every shard starts with: the default user with requirepass,
 * or the aclfile's users. */
static struct acl *users_of(const struct config *c, char *err, size_t len)
{
    struct acl *a = acl_create(c->requirepass);
    struct acl *fresh;
    char why[768];

    if (!c->aclfile[0]) {
        return a;
    }
    fresh = acl_load_file(c->aclfile, why, sizeof(why));
    if (!fresh) {
        snprintf(err, len, "aclfile %s: %s", c->aclfile, why);
        acl_destroy(a);
        return NULL;
    }
    acl_replace(a, fresh, NULL, NULL);
    return a;
}

/* shardis-server --test-config FILE [--directive value ...]: checks the
 * configuration as start-up would and exits 0 or 1 with the reason, for a
 * service's ExecStartPre. */
static int test_config(int argc, char **argv)
{
    struct config c;
    char err[1024];
    int rc;

    if (argc < 3) {
        fprintf(stderr, "Usage: shardis-server --test-config FILE [--directive value ...]\n");
        return 1;
    }
    config_init(&c);
    rc = config_load_args(&c, argc - 1, argv + 1, err, sizeof(err));
    if (rc == 0) {
        struct acl *a;

        cmdtab_init();
        a = users_of(&c, err, sizeof(err));
        rc = a ? 0 : -1;
        acl_destroy(a);
        cmdtab_fini();
    }
    if (rc != 0) {
        fprintf(stderr, "Configuration of %s is not valid:\n%s\n", argv[2], err);
    } else {
        printf("Configuration of %s is OK\n", argv[2]);
    }
    config_fini(&c);
    return rc == 0 ? 0 : 1;
}

static int load_users(struct server *srv)
{
    char err[1024];

    srv->acl = users_of(&srv->cfg, err, sizeof(err));
    if (!srv->acl) {
        sh_log(LOG_WARNING, "Error loading the users: %s", err);
        return -1;
    }
    return 0;
}

static int parse_args(struct server *srv, int argc, char **argv)
{
    char err[1024];

    if (argc == 2 && (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--version"))) {
        printf("shardis-server v=%s (Redis %s compatible) io_uring shards\n", SHARDIS_VERSION,
               "7.0");
        exit(0);
    }
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage();
        exit(0);
    }
    if (argc >= 2 && !strcmp(argv[1], "--test-config")) {
        exit(test_config(argc, argv));
    }
    config_init(&srv->cfg);
    if (config_load_args(&srv->cfg, argc, argv, err, sizeof(err)) != 0) {
        fprintf(stderr, "\n*** FATAL CONFIG FILE ERROR (shardis %s) ***\n%s\n", SHARDIS_VERSION,
                err);
        return -1;
    }
    srv->nshards = srv->cfg.shards ? (int)srv->cfg.shards : shard_default_count();
    return 0;
}

int main(int argc, char **argv)
{
    static struct server srv;
    sigset_t block;
    int rc = 1;

    if (parse_args(&srv, argc, argv) != 0) {
        return 1;
    }
    if (log_setup(srv.cfg.logfile) != 0) {
        fprintf(stderr, "Can't open the log file %s: %s\n", srv.cfg.logfile, strerror(errno));
        goto out_config;
    }
    log_thread_init(srv.cfg.loglevel, "M");
    if (write_pidfile(srv.cfg.pidfile) != 0) {
        sh_log(LOG_WARNING, "Failed to write PID file %s", srv.cfg.pidfile);
    }
    if (sdnotify_setup()) {
        sh_log(LOG_NOTICE, "Supervised by systemd: will notify readiness");
    }
    adjust_open_files(&srv);
    cmdtab_init();
    cmd_bind_all();
    if (load_users(&srv) != 0) {
        goto out_cmdtab;
    }
    shard_new_id(srv.run_id);
    srv.start_ms = sh_time_ms();
    if (!realpath("/proc/self/exe", srv.executable)) {
        snprintf(srv.executable, sizeof(srv.executable), "%s", argv[0]);
    }
    /* every thread inherits this mask: signals are taken by main only */
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGPIPE);
    sigaddset(&block, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &block, NULL);
    sh_log(LOG_NOTICE, "shardis %s starting, pid=%d, %d shards, port %lld", SHARDIS_VERSION,
           (int)getpid(), srv.nshards, srv.cfg.port);
    persist_init(&srv);
    repl_init(&srv);
    if (shard_start_all(&srv) != 0 || wait_ready(&srv) != 0) {
        sh_log(LOG_WARNING, "start-up failed");
        shard_hooks.stop = NULL; /* every shard stops now, nothing saved */
        shard_request_shutdown(&srv);
        shard_join_all(&srv);
        repl_fini(&srv);
        persist_fini(&srv);
        goto out_pidfile;
    }
    sh_log(LOG_NOTICE, "Ready to accept connections tcp");
    {
        char ready[128];

        snprintf(ready, sizeof(ready), "READY=1\nSTATUS=Ready to accept connections (%d shards)",
                 srv.nshards);
        sdnotify_send(ready);
    }
    wait_for_stop(&srv);
    /* a SHUTDOWN command ends the shards without main's signal path */
    sdnotify_send("STOPPING=1\nSTATUS=Shutting down");
    shard_join_all(&srv);
    repl_fini(&srv);
    persist_fini(&srv);
    sh_log(LOG_NOTICE, "shardis is now ready to exit, bye bye...");
    rc = 0;
out_pidfile:
    if (srv.cfg.pidfile[0]) {
        unlink(srv.cfg.pidfile);
    }
out_cmdtab:
    acl_destroy(srv.acl);
    cmdtab_fini();
    sdnotify_teardown();
    log_teardown();
out_config:
    config_fini(&srv.cfg);
    return rc;
}
