/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_dispatch.c: libFuzzer target for the command table and the command
 * handlers. The first input byte picks the client's protocol (RESP2/RESP3),
 * the database and whether keyspace notifications are on; the rest is parsed
 * with resp_parse into commands. Each command is resolved as route.c does
 * (lookup, subcommand, arity) and, when the one-shard server would run it
 * directly on this core without a connection (KEY, MULTI, CHANNEL, and ALL
 * whose gather is not `always`), its handler runs against a real one-shard
 * keyspace. Every reply must be exactly one complete RESP value.
 *
 * Commands that need a connection (CONN) or a coordinator (gathers marked
 * `always`: INFO, CONFIG SET, SUBSCRIBE ...) are skipped, as are DEBUG and
 * SHUTDOWN. The keyspace is flushed at the start of every input so a crash
 * reproduces from its input alone.
 */
#include "shardis/block.h"
#include "shardis/cmd.h"
#include "shardis/cmd_bind.h"
#include "shardis/cmdtab.h"
#include "shardis/config.h"
#include "shardis/kdb.h"
#include "shardis/pubsub.h"
#include "shardis/reply.h"
#include "shardis/resp.h"
#include "shardis/route.h"
#include "shardis/shard.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CMDS  64
#define MAX_ARGC  64
#define MAX_BYTES 8192
#define NDBS      16
#define BASE_MS   1700000000000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct server srv;
static struct shard sh;
static struct shard *shards[1];
static bool ready;

static void on_key_expired(void *arg, int dbid, const struct kentry *e)
{
    pubsub_notify(arg, NOTIFY_EXPIRED, "expired", kentry_key(e), kentry_klen(e), dbid);
}

static void on_key_new(void *arg, int dbid, const struct kentry *e)
{
    pubsub_notify(arg, NOTIFY_NEW, "new", kentry_key(e), kentry_klen(e), dbid);
}

static void setup(void)
{
    cmdtab_init();
    cmd_bind_all();
    config_init(&srv.cfg);
    srv.cfg.databases = NDBS;
    /* no ring here to serve while a script is busy (shard_busy_poll) */
    srv.cfg.busy_reply_threshold = 0;
    srv.nshards = 1;
    srv.shards = shards;
    srv.start_ms = BASE_MS;
    snprintf(srv.run_id, sizeof(srv.run_id), "%040d", 0);
    snprintf(srv.executable, sizeof(srv.executable), "fuzz_dispatch");
    shards[0] = &sh;
    sh.id = 0;
    sh.cpu = -1;
    sh.srv = &srv;
    config_copy(&sh.cfg, &srv.cfg);
    sh.db = calloc(NDBS, sizeof(*sh.db));
    for (int i = 0; i < NDBS; i++) {
        sh.db[i] = kdb_create();
        kdb_set_hooks(sh.db[i], on_key_expired, on_key_new, &sh, i);
    }
    sh.ps = pubsub_create();
    sh.blk = block_create(); /* SWAPDB re-points the key hooks to shard.c's */
    rbuf_init(&sh.scratch);
    ready = true;
}

/* Would the one-shard server run this command here, with no connection? */
static bool runnable(const struct cmd_spec *cmd)
{
    if (!strcmp(cmd->fullname, "debug") || !strcmp(cmd->fullname, "shutdown")) {
        return false;
    }
    switch (cmd->route) {
    case CMD_ROUTE_KEY:
    case CMD_ROUTE_MULTI:
    case CMD_ROUTE_CHANNEL:
        return true;
    case CMD_ROUTE_ALL:
        return cmd->gather && !cmd->gather->always;
    default:
        return false;
    }
}

static void run_one(int proto, int dbid, int argc, const struct sh_slice *argv)
{
    const struct cmd_spec *cmd = cmdtab_lookup(argv[0].ptr, argv[0].len);
    struct rbuf out;
    size_t n;

    if (!cmd) {
        return;
    }
    if (cmd->nsubcmds && argc >= 2) {
        cmd = cmdtab_lookup_sub(cmd, argv[1].ptr, argv[1].len);
        if (!cmd) {
            return;
        }
    }
    if ((cmd->arity > 0 && argc != cmd->arity) || argc < -cmd->arity) {
        return;
    }
    if (!cmd->proc || !runnable(cmd)) {
        return;
    }
    rbuf_init(&out);
    {
        struct cmd_ctx ctx = {
            .cmd = cmd,
            .argc = argc,
            .argv = argv,
            .r = { .buf = &out, .proto = proto },
            .shard = &sh,
            .db = sh.db[dbid],
            .dbid = dbid,
            .conn = NULL,
            .client_id = 1,
        };

        if (argc >= 2) {
            ctx.key_hash = kdict_hash(argv[1].ptr, argv[1].len);
            ctx.has_key_hash = true;
        }
        sh.stats.commands++;
        cmd->proc(&ctx);
        if (ctx.r.buf != &out) {
            fprintf(stderr, "%s: the handler switched reply buffers\n", cmd->fullname);
            abort();
        }
    }
    n = out.len ? resp_value_size(out.data, out.len) : 0;
    if (n == 0 || n != out.len) {
        fprintf(stderr, "%s: reply is not one RESP value (%zu of %zu bytes): %.*s\n", cmd->fullname,
                n, out.len, (int)(out.len < 512 ? out.len : 512), out.data ? out.data : "");
        abort();
    }
    rbuf_fini(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct resp_parser p;
    char *buf;
    size_t len;
    int proto, dbid, ncmds = 0, argc, rc;

    if (size < 1 || size > MAX_BYTES) {
        return 0;
    }
    if (!ready) {
        setup();
    }
    proto = data[0] & 1 ? 3 : 2;
    dbid = (data[0] >> 1) & 1 ? (data[0] >> 4) % NDBS : 0;
    sh.cfg.notify_keyspace_events =
            (data[0] >> 2) & 1
                    ? NOTIFY_ALL | NOTIFY_KEYSPACE | NOTIFY_KEYEVENT | NOTIFY_KEY_MISS | NOTIFY_NEW
                    : 0;
    sh.now_ms = BASE_MS;
    sh.mono_us = BASE_MS * 1000;
    sh.rnd = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < NDBS; i++) {
        kdb_flush(sh.db[i]);
    }

    len = size - 1;
    buf = malloc(len + 1);
    memcpy(buf, data + 1, len);
    resp_parser_init(&p, 1024 * 1024);
    while (ncmds < MAX_CMDS && (rc = resp_parse(&p, buf, len, &argc)) == RESP_COMMAND) {
        ncmds++;
        if (argc < 1 || argc > MAX_ARGC) {
            continue;
        }
        run_one(proto, dbid, argc, p.argv);
        /* time moves on a little between commands, so short TTLs expire */
        sh.now_ms += 7;
        sh.mono_us += 7000;
    }
    resp_parser_fini(&p);
    free(buf);
    return 0;
}
