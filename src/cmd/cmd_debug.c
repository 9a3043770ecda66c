/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_debug.c: DEBUG, the subcommands of Redis 7.0's debug.c that make sense
 * for shardis, with Redis's replies and errors.
 *
 * DEBUG is a CONN command: it runs on the client's core. Subcommands that
 * need no keyspace (HELP SLEEP PROTOCOL QUICKLIST-PACKED-THRESHOLD
 * CHANGE-REPL-ID STRINGMATCH-TEST) reply there; SLEEP blocks that core's
 * loop, as Redis's blocks its only one. The others run through a
 * coordinator (gather_debug) over internal commands:
 *
 *   __debug-digest               every shard: per database, a flag (any key)
 *                                and the XOR of its key digests
 *   __debug-digest-value k ...   every shard: 20 bytes per key (zeros when
 *                                absent there); a key lives on one shard, so
 *                                the parts combine by XOR
 *   __debug-key SUB key [arg]    the key's owner: OBJECT LISTPACK QUICKLIST
 *   __debug-set-active-expire v  every shard
 *
 * DIGEST is Redis's computeDatasetDigest: for each non-empty database j in
 * order, final = SHA1(final XOR SHA1(htonl(j))) (mixDigest), then final ^=
 * SHA1(kd) (xorDigest) for each key, kd being the mixDigest of the key and
 * then xorObjectDigest of its value. Only the mix per database is ordered,
 * so each shard XORs its SHA1(kd) per database and the coordinator applies
 * the mixes. Like Redis it reads logically expired keys that are still
 * stored. DIGEST runs as a transaction over every shard whole, so it sees
 * one consistent dataset.
 *
 * enable-debug-command: shardis's default is "local" (DEBUG only from
 * loopback or unix-socket clients), where Redis's is "no": the test harness
 * and tools use DEBUG SLEEP. debug_mode() reads the directive once config.h
 * has it (see there).
 *
 * Where shardis has nothing to show: DEBUG OBJECT's address is the entry's
 * and serializedlength an estimate (no RDB writer, no LZF); LISTPACK and
 * QUICKLIST print nothing on stdout but answer as Redis does for the key's
 * encoding; QUICKLIST-PACKED-THRESHOLD validates and answers (shardis has no
 * plain nodes); SET-ACTIVE-EXPIRE needs the shard field named at
 * debug_set_active_expire.
 *
 * Threading: the handler and the gather run on the client's core; the
 * internal commands on each shard over its own keyspace.
 */
#include "shardis/cmd.h"
#include "shardis/cmd_bind.h"
#include "shardis/cmdtab.h"
#include "shardis/conn.h"
#include "shardis/kdb.h"
#include "shardis/kdict.h"
#include "shardis/kval.h"
#include "shardis/qlist.h"
#include "shardis/reply.h"
#include "shardis/route.h"
#include "shardis/sha1.h"
#include "shardis/shard.h"
#include "shardis/thash.h"
#include "shardis/tlist.h"
#include "shardis/tset.h"
#include "shardis/tstream.h"
#include "shardis/tzset.h"
#include "shardis/util.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#define DIGEST_LEN SHA1_LEN

enum { DEBUG_ENABLE_NO = 0, DEBUG_ENABLE_YES = 1, DEBUG_ENABLE_LOCAL = 2 };

/* enable-debug-command of this core's configuration copy. */
static int debug_mode(const struct shard *sh)
{
    return (int)sh->cfg.enable_debug_command;
}

/* DEBUG SET-ACTIVE-EXPIRE: the cron's expiry cycle on or off here. */
static void debug_set_active_expire(struct shard *sh, bool on)
{
    sh->active_expire_off = !on;
}

static const char debug_not_allowed[] =
        "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", "
        "you can run it from a local connection, otherwise you need to set this option in the "
        "configuration file, and then restart the server.";

/* Redis's islocalClient: a unix socket, 127.0.0.1 or ::1. */
static bool conn_is_local(const struct conn *c)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    static const uint8_t lo6[16] = { [15] = 1 };

    if (getpeername(c->fd, (struct sockaddr *)&ss, &sl) != 0) {
        return false;
    }
    if (ss.ss_family == AF_UNIX) {
        return true;
    }
    if (ss.ss_family == AF_INET) {
        return ((const struct sockaddr_in *)&ss)->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
    }
    return ss.ss_family == AF_INET6 &&
           !memcmp(&((const struct sockaddr_in6 *)&ss)->sin6_addr, lo6, sizeof(lo6));
}

static bool debug_allowed(const struct shard *sh, const struct conn *c)
{
    int mode = debug_mode(sh);

    return mode == DEBUG_ENABLE_YES || (mode == DEBUG_ENABLE_LOCAL && (!c || conn_is_local(c)));
}

static void reply_unknown_sub(struct reply *r, struct sh_slice sub)
{
    reply_errorf(r,
                 "ERR unknown subcommand or wrong number of arguments for '%.*s'. "
                 "Try DEBUG HELP.",
                 (int)sub.len, sub.ptr);
}

/* ---- digests (Redis's xorDigest / mixDigest) ---- */

static void xor_digest(uint8_t d[DIGEST_LEN], const void *p, size_t n)
{
    uint8_t h[DIGEST_LEN];

    sha1(p, n, h);
    for (int j = 0; j < DIGEST_LEN; j++) {
        d[j] ^= h[j];
    }
}

static void mix_digest(uint8_t d[DIGEST_LEN], const void *p, size_t n)
{
    uint8_t h[DIGEST_LEN];

    xor_digest(d, p, n);
    sha1(d, DIGEST_LEN, h);
    memcpy(d, h, DIGEST_LEN);
}

/* A field/value pair or a member/score pair: its own digest, XOR-ed in
 * unordered through xorDigest (so SHA1-ed once more), as Redis does. */
static void xor_pair_digest(uint8_t d[DIGEST_LEN], struct sh_slice a, struct sh_slice b)
{
    uint8_t ed[DIGEST_LEN] = { 0 };

    mix_digest(ed, a.ptr, a.len);
    mix_digest(ed, b.ptr, b.len);
    xor_digest(d, ed, DIGEST_LEN);
}

static void digest_list(uint8_t d[DIGEST_LEN], const struct kval *v)
{
    struct tlist_iter it;
    struct sh_slice s;

    tlist_iter_init(&it, v, 0, false);
    while (tlist_iter_next(&it, &s)) {
        mix_digest(d, s.ptr, s.len);
    }
}

static void digest_set(uint8_t d[DIGEST_LEN], const struct kval *v)
{
    struct tset_iter it;
    struct sh_slice s;

    tset_iter_init(&it, v);
    while (tset_iter_next(&it, &s)) {
        xor_digest(d, s.ptr, s.len);
    }
    tset_iter_fini(&it);
}

static void digest_zset(uint8_t d[DIGEST_LEN], const struct kval *v)
{
    struct tzset_iter it;
    struct tzset_elem e;
    char buf[128];

    tzset_iter_rank(&it, v, 0, false, tzset_card(v));
    while (tzset_iter_next(&it, &e)) {
        int n = snprintf(buf, sizeof(buf), "%.17g", e.score);

        xor_pair_digest(d, e.member, (struct sh_slice){ buf, (size_t)n });
    }
}

static void digest_hash(uint8_t d[DIGEST_LEN], const struct kval *v)
{
    struct thash_iter it;
    struct sh_slice f, val;

    thash_iter_init(&it, v);
    while (thash_iter_next(&it, &f, &val)) {
        xor_pair_digest(d, f, val);
    }
    thash_iter_fini(&it);
}

/* Each entry's "<ms>.<seq>" id, then its fields and values, in order (a
 * stream's groups are not in Redis 7.0's digest either). */
static void digest_stream(uint8_t d[DIGEST_LEN], const struct kval *v)
{
    struct tstream_iter it;
    struct tstream_id id;
    long long nf;

    tstream_iter_start(&it, v->u.p, NULL, NULL, false);
    while (tstream_iter_next(&it, &id, &nf)) {
        char buf[48];
        int n = snprintf(buf, sizeof(buf), "%llu.%llu", (unsigned long long)id.ms,
                         (unsigned long long)id.seq);

        mix_digest(d, buf, (size_t)n);
        while (nf-- > 0) {
            struct sh_slice f, val;

            tstream_iter_field(&it, &f, &val);
            mix_digest(d, f.ptr, f.len);
            mix_digest(d, val.ptr, val.len);
        }
    }
}

/* Redis's xorObjectDigest: the value of e (and its TTL) into d. */
static void digest_value(uint8_t d[DIGEST_LEN], const struct kentry *e)
{
    /* Redis's OBJ_STRING .. OBJ_HASH are 0..4 (kval's 1..5), OBJ_STREAM 6 */
    uint32_t aux = htonl(e->val.type == KVAL_STREAM ? 6u : (uint32_t)e->val.type - 1);
    char buf[32];
    const char *p;
    size_t n;

    mix_digest(d, &aux, sizeof(aux));
    switch (e->val.type) {
    case KVAL_STRING:
        p = kval_string(&e->val, buf, &n);
        mix_digest(d, p, n);
        break;
    case KVAL_LIST:
        digest_list(d, &e->val);
        break;
    case KVAL_SET:
        digest_set(d, &e->val);
        break;
    case KVAL_ZSET:
        digest_zset(d, &e->val);
        break;
    case KVAL_HASH:
        digest_hash(d, &e->val);
        break;
    case KVAL_STREAM:
        digest_stream(d, &e->val);
        break;
    default:
        break;
    }
    if (kentry_has_ttl(e)) {
        xor_digest(d, "!!expire!!", 10);
    }
}

struct db_digest {
    uint8_t d[DIGEST_LEN];
    bool any;
};

static void digest_entry(void *arg, struct kentry *e)
{
    struct db_digest *dd = arg;
    uint8_t kd[DIGEST_LEN] = { 0 };

    mix_digest(kd, kentry_key(e), kentry_klen(e));
    digest_value(kd, e);
    xor_digest(dd->d, kd, DIGEST_LEN);
    dd->any = true;
}

/* __debug-digest -> $ (databases x (1 flag byte + 20 bytes)): for each
 * database of this shard, whether it has keys and the XOR of their digests */
static void cmd_digest_internal(struct cmd_ctx *ctx)
{
    struct shard *sh = ctx->shard;
    int ndb = (int)sh->cfg.databases;
    size_t len = (size_t)ndb * (1 + DIGEST_LEN);
    char *out = sh_malloc(len);

    for (int j = 0; j < ndb; j++) {
        struct db_digest dd = { .any = false };
        struct kdict *kd = kdb_dict(shard_db(sh, j));
        uint64_t cursor = 0;

        /* a whole scan with no change in between visits each entry once */
        do {
            cursor = kdict_scan(kd, cursor, digest_entry, &dd);
        } while (cursor != 0);
        out[(size_t)j * (1 + DIGEST_LEN)] = dd.any ? 1 : 0;
        memcpy(out + (size_t)j * (1 + DIGEST_LEN) + 1, dd.d, DIGEST_LEN);
    }
    reply_bulk(&ctx->r, out, len);
    sh_free(out);
}

/* The stored entry of key argv[i], expired or not (as Redis's dictFind). */
static struct kentry *raw_find(struct cmd_ctx *ctx, int i)
{
    struct sh_slice k = ctx->argv[i];

    return kdict_find(kdb_dict(ctx->db), k.ptr, k.len, kdict_hash(k.ptr, k.len));
}

/* __debug-digest-value k ... -> $ (20 bytes per key, zeros when absent) */
static void cmd_digest_value_internal(struct cmd_ctx *ctx)
{
    size_t len = (size_t)(ctx->argc - 1) * DIGEST_LEN;
    uint8_t *out = sh_calloc(len ? len : 1, 1);

    for (int i = 1; i < ctx->argc; i++) {
        struct kentry *e = raw_find(ctx, i);

        if (e) {
            digest_value(out + (size_t)(i - 1) * DIGEST_LEN, e);
        }
    }
    reply_bulk(&ctx->r, out, len);
    sh_free(out);
}

/* ---- per-key subcommands, on the key's owner ---- */

/* Bytes of Redis's RDB length prefix for n. */
static size_t rdb_len_bytes(size_t n)
{
    return n < (1u << 6) ? 1 : n < (1u << 14) ? 2 : n <= UINT32_MAX ? 5 : 9;
}

/* RDB size of a string (no LZF): an int-encoded one when it fits 32 bits. */
static size_t rdb_string_len(const char *p, size_t n)
{
    long long v;

    if (n <= 11 && util_str2ll(p, n, &v)) {
        if (v >= -(1 << 7) && v < (1 << 7)) {
            return 2;
        }
        if (v >= -(1 << 15) && v < (1 << 15)) {
            return 3;
        }
        if (v >= INT32_MIN && v <= INT32_MAX) {
            return 5;
        }
    }
    return rdb_len_bytes(n) + n;
}

/* An estimate of RDB's serialized length (exact for strings without LZF). */
static size_t serialized_len(const struct kval *v)
{
    char buf[32];
    const char *p;
    size_t n;

    if (v->type == KVAL_STRING) {
        p = kval_string(v, buf, &n);
        return rdb_string_len(p, n);
    }
    n = kval_memory(v);
    return rdb_len_bytes(n) + n;
}

static void debug_object(struct cmd_ctx *ctx, const struct kentry *e)
{
    const struct kval *v = &e->val;
    char extra[256] = "";
    int refcount = v->enc == KVAL_ENC_INT && v->u.i >= 0 && v->u.i < 10000 ? INT_MAX : 1;
    uint32_t now = (uint32_t)(ctx->shard->now_ms / 1000);
    char line[512];

    if (v->type == KVAL_LIST) {
        size_t count = tlist_len(v);
        size_t nodes = v->enc == KVAL_ENC_QUICKLIST ? qlist_nodes(v->u.p) : 1;

        snprintf(extra, sizeof(extra),
                 " ql_nodes:%zu ql_avg_node:%.2f ql_listpack_max:%lld ql_compressed:0"
                 " ql_uncompressed_size:%zu",
                 nodes, nodes ? (double)count / (double)nodes : 0.0,
                 ctx->shard->cfg.limits.list_max_listpack_size, kval_memory(v));
    }
    snprintf(line, sizeof(line),
             "Value at:%p refcount:%d encoding:%s serializedlength:%zu lru:%u "
             "lru_seconds_idle:%u%s",
             (const void *)v, refcount, kval_encoding_name(v), serialized_len(v),
             v->lru & 0xFFFFFFu, now > v->lru ? now - v->lru : 0, extra);
    reply_status(&ctx->r, line);
}

/* __debug-key OBJECT|LISTPACK|QUICKLIST key -> Redis's reply */
static void cmd_key_internal(struct cmd_ctx *ctx)
{
    struct sh_slice k = ctx->argv[2];
    struct kentry *e =
            kdb_peek(ctx->db, k.ptr, k.len, kdict_hash(k.ptr, k.len), ctx->shard->now_ms);
    const char *enc;

    if (!e) {
        reply_error(&ctx->r, "ERR no such key");
        return;
    }
    enc = kval_encoding_name(&e->val);
    if (sh_slice_eq_nocase(ctx->argv[1], "OBJECT")) {
        debug_object(ctx, e);
    } else if (sh_slice_eq_nocase(ctx->argv[1], "LISTPACK")) {
        strcmp(enc, "listpack") ? reply_error(&ctx->r, "ERR Not a listpack encoded object.")
                                : reply_status(&ctx->r, "Listpack structure printed on stdout");
    } else {
        strcmp(enc, "quicklist") ? reply_error(&ctx->r, "ERR Not a quicklist encoded object.")
                                 : reply_status(&ctx->r, "Quicklist structure printed on stdout");
    }
}

/* __debug-set-active-expire v -> +OK */
static void cmd_set_active_expire_internal(struct cmd_ctx *ctx)
{
    char buf[32];
    size_t n = ctx->argv[1].len < sizeof(buf) - 1 ? ctx->argv[1].len : sizeof(buf) - 1;

    memcpy(buf, ctx->argv[1].ptr, n);
    buf[n] = '\0';
    debug_set_active_expire(ctx->shard, atoi(buf) != 0);
    reply_ok(&ctx->r);
}

static const struct cmd_spec digest_spec = {
    .name = "__debug-digest",
    .fullname = "__debug-digest",
    .arity = 1,
    .proc = cmd_digest_internal,
};

static const struct cmd_spec digest_value_spec = {
    .name = "__debug-digest-value",
    .fullname = "__debug-digest-value",
    .arity = -1,
    .proc = cmd_digest_value_internal,
};

static const struct cmd_spec key_spec = {
    .name = "__debug-key",
    .fullname = "__debug-key",
    .arity = -3,
    .proc = cmd_key_internal,
};

static const struct cmd_spec set_active_expire_spec = {
    .name = "__debug-set-active-expire",
    .fullname = "__debug-set-active-expire",
    .arity = 2,
    .proc = cmd_set_active_expire_internal,
};

/* ---- subcommands that run on the client's core ---- */

static void debug_help(struct reply *r)
{
    static const char *const help[] = {
        "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "AOF-FLUSH-SLEEP <microsec>",
        "    Server will sleep before flushing the AOF, this is used for testing.",
        "ASSERT",
        "    Crash by assertion failed.",
        "CHANGE-REPL-ID",
        "    Change the replication IDs of the instance.",
        "    Dangerous: should be used only for testing the replication subsystem.",
        "CONFIG-REWRITE-FORCE-ALL",
        "    Like CONFIG REWRITE but writes all configuration options, including",
        "    keywords not listed in original configuration file or default values.",
        "CRASH-AND-RECOVER [<milliseconds>]",
        "    Hard crash and restart after a <milliseconds> delay (default 0).",
        "DIGEST",
        "    Output a hex signature representing the current DB content.",
        "DIGEST-VALUE <key> [<key> ...]",
        "    Output a hex signature of the values of all the specified keys.",
        "ERROR <string>",
        "    Return a Redis protocol error with <string> as message. Useful for clients",
        "    unit tests to simulate Redis errors.",
        "LEAK <string>",
        "    Create a memory leak of the input string.",
        "LOG <message>",
        "    Write <message> to the server log.",
        "HTSTATS <dbid>",
        "    Return hash table statistics of the specified Redis database.",
        "HTSTATS-KEY <key>",
        "    Like HTSTATS but for the hash table stored at <key>'s value.",
        "LOADAOF",
        "    Flush the AOF buffers on disk and reload the AOF in memory.",
        "REPLICATE <string>",
        "    Replicates the provided string to replicas, allowing data divergence.",
        "MALLCTL <key> [<val>]",
        "    Get or set a malloc tuning integer.",
        "MALLCTL-STR <key> [<val>]",
        "    Get or set a malloc tuning string.",
        "OBJECT <key>",
        "    Show low level info about `key` and associated value.",
        "DROP-CLUSTER-PACKET-FILTER <packet-type>",
        "    Drop all packets that match the filtered type. Set to -1 allow all packets.",
        "OOM",
        "    Crash the server simulating an out-of-memory error.",
        "PANIC",
        "    Crash the server simulating a panic.",
        "POPULATE <count> [<prefix>] [<size>]",
        "    Create <count> string keys named key:<num>. If <prefix> is specified then",
        "    it is used instead of the 'key' prefix. These are not propagated to",
        "    replicas. Cluster slots are not respected so keys not belonging to the",
        "    current node can be created in cluster mode.",
        "PROTOCOL <type>",
        "    Reply with a test value of the specified type. <type> can be: string,",
        "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
        "    true, false.",
        "RELOAD [option ...]",
        "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
        "    * MERGE: conflicting keys will be loaded from RDB.",
        "    * NOFLUSH: the existing database will not be removed before load, but",
        "      conflicting keys will generate an exception and kill the server.",
        "    * NOSAVE: the database will be loaded from an existing RDB file.",
        "    Examples:",
        "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
        "      the database.",
        "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
        "      existing RDB file.",
        "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
        "      file to the database.",
        "RESTART [<milliseconds>]",
        "    Graceful restart: save config, db, restart after a <milliseconds> delay (default 0).",
        "SDSLEN <key>",
        "    Show low level SDS string info representing `key` and value.",
        "SEGFAULT",
        "    Crash the server with sigsegv.",
        "SET-ACTIVE-EXPIRE <0|1>",
        "    Setting it to 0 disables expiring keys in background when they are not",
        "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
        "    default.",
        "QUICKLIST-PACKED-THRESHOLD <size>",
        "    Sets the threshold for elements to be inserted as plain vs packed nodes",
        "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
        "SET-SKIP-CHECKSUM-VALIDATION <0|1>",
        "    Enables or disables checksum checks for RDB files and RESTORE's payload.",
        "SLEEP <seconds>",
        "    Stop the server for <seconds>. Decimals allowed.",
        "STRINGMATCH-TEST",
        "    Run a fuzz tester against the stringmatchlen() function.",
        "STRUCTSIZE",
        "    Return the size of different Redis core C structures.",
        "LISTPACK <key>",
        "    Show low level info about the listpack encoding of <key>.",
        "QUICKLIST <key> [<0|1>]",
        "    Show low level info about the quicklist encoding of <key>.",
        "    The optional argument (0 by default) sets the level of detail",
        "CLIENT-EVICTION",
        "    Show low level client eviction pools info (maxmemory-clients).",
        "PAUSE-CRON <0|1>",
        "    Stop periodic cron job processing.",
        "REPLYBUFFER PEAK-RESET-TIME <NEVER||RESET|time>",
        "    Sets the time (in milliseconds) to wait between client reply buffer peak resets.",
        "    In case NEVER is provided the last observed peak will never be reset",
        "    In case RESET is provided the peak reset time will be restored to the default value",
        "REPLYBUFFER RESIZING <0|1>",
        "    Enable or disable the reply buffer resize cron job",
        "CLUSTERLINK KILL <to|from|all> <node-id>",
        "    Kills the link based on the direction to/from (both) with the provided node.",
        "HELP",
        "    Prints this help.",
    };

    reply_array(r, (long long)SH_ARRAY_LEN(help));
    for (size_t i = 0; i < SH_ARRAY_LEN(help); i++) {
        reply_status(r, help[i]);
    }
}

/* A C string copy of an argument (truncated to cap - 1 bytes), for Redis's
 * atoi/strtod parsing. */
static const char *arg_cstr(struct sh_slice a, char *buf, size_t cap)
{
    size_t n = a.len < cap - 1 ? a.len : cap - 1;

    memcpy(buf, a.ptr, n);
    buf[n] = '\0';
    return buf;
}

static void debug_sleep(struct reply *r, struct sh_slice arg)
{
    char buf[64];
    double secs = strtod(arg_cstr(arg, buf, sizeof(buf)), NULL);
    long long us = secs > 0 && secs < 1e12 ? (long long)(secs * 1000000) : 0;
    struct timespec ts = { .tv_sec = (time_t)(us / 1000000),
                           .tv_nsec = (long)(us % 1000000) * 1000 };

    /* like Redis, DEBUG SLEEP blocks the (client core's) event loop */
    nanosleep(&ts, NULL);
    reply_ok(r);
}

static void debug_protocol(struct reply *r, struct sh_slice name)
{
    if (sh_slice_eq_nocase(name, "string")) {
        reply_bulk_cstr(r, "Hello World");
    } else if (sh_slice_eq_nocase(name, "integer")) {
        reply_int(r, 12345);
    } else if (sh_slice_eq_nocase(name, "double")) {
        reply_double(r, 3.141);
    } else if (sh_slice_eq_nocase(name, "bignum")) {
        r->proto == 3 ? reply_raw(r, "(1234567999999999999999999999999999999\r\n", 40)
                      : reply_bulk_cstr(r, "1234567999999999999999999999999999999");
    } else if (sh_slice_eq_nocase(name, "null")) {
        reply_null(r);
    } else if (sh_slice_eq_nocase(name, "array") || sh_slice_eq_nocase(name, "set")) {
        sh_slice_eq_nocase(name, "set") ? reply_set(r, 3) : reply_array(r, 3);
        for (int j = 0; j < 3; j++) {
            reply_int(r, j);
        }
    } else if (sh_slice_eq_nocase(name, "map")) {
        reply_map(r, 3);
        for (int j = 0; j < 3; j++) {
            reply_int(r, j);
            reply_bool(r, j == 1);
        }
    } else if (sh_slice_eq_nocase(name, "attrib")) {
        if (r->proto == 3) {
            reply_raw(r, "|1\r\n", 4);
            reply_bulk_cstr(r, "key-popularity");
            reply_array(r, 2);
            reply_bulk_cstr(r, "key:123");
            reply_int(r, 90);
        }
        reply_bulk_cstr(r, "Some real reply following the attribute");
    } else if (sh_slice_eq_nocase(name, "push")) {
        if (r->proto != 3) {
            reply_error(r, "ERR RESP2 is not supported by this command");
            return;
        }
        reply_push(r, 2);
        reply_bulk_cstr(r, "server-cpu-usage");
        reply_int(r, 42);
        reply_bulk_cstr(r, "Some real reply following the push reply");
    } else if (sh_slice_eq_nocase(name, "true") || sh_slice_eq_nocase(name, "false")) {
        reply_bool(r, sh_slice_eq_nocase(name, "true"));
    } else if (sh_slice_eq_nocase(name, "verbatim")) {
        reply_verbatim(r, "This is a verbatim\nstring", 25, "txt");
    } else {
        reply_error(r, "ERR Wrong protocol type name. Please use one of the following: "
                       "string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|"
                       "true|false");
    }
}

/* Redis 7.0's memtoull: decimal digits (maybe none: 0) and a unit among b
 * k kb m mb g gb, any case. False on anything else or overflow. */
static bool debug_memtoull(struct sh_slice a, unsigned long long *out)
{
    static const struct {
        const char *name;
        unsigned long long mul;
    } units[] = { { "", 1 },           { "b", 1 },          { "k", 1000 },
                  { "kb", 1024 },      { "m", 1000000 },    { "mb", 1024 * 1024 },
                  { "g", 1000000000 }, { "gb", 1ULL << 30 } };
    unsigned long long v = 0;
    size_t i = 0;

    for (; i < a.len && a.ptr[i] >= '0' && a.ptr[i] <= '9'; i++) {
        if (v > (ULLONG_MAX - 9) / 10) {
            return false;
        }
        v = v * 10 + (unsigned)(a.ptr[i] - '0');
    }
    for (size_t u = 0; u < SH_ARRAY_LEN(units); u++) {
        if (a.len - i == strlen(units[u].name) &&
            !strncasecmp(a.ptr + i, units[u].name, a.len - i)) {
            if (v > ULLONG_MAX / units[u].mul) {
                return false;
            }
            *out = v * units[u].mul;
            return true;
        }
    }
    return false;
}

/* Redis's quicklistisSetPackedThreshold: up to 4 GB - 1 MB, 0 = default. */
static void debug_packed_threshold(struct reply *r, struct sh_slice arg)
{
    unsigned long long v;

    if (!debug_memtoull(arg, &v) || v > (1ULL << 32) - (1ULL << 20)) {
        reply_error(r, "ERR argument must be a memory value bigger than 1 and smaller than 4gb");
        return;
    }
    reply_ok(r);
}

/* The subcommands that need no keyspace: true when argv named one (and the
 * reply is written). */
static bool debug_local(struct reply *r, int argc, const struct sh_slice *argv)
{
    struct sh_slice sub = argv[1];

    if (sh_slice_eq_nocase(sub, "HELP") && argc == 2) {
        debug_help(r);
    } else if (sh_slice_eq_nocase(sub, "SLEEP") && argc == 3) {
        debug_sleep(r, argv[2]);
    } else if (sh_slice_eq_nocase(sub, "PROTOCOL") && argc == 3) {
        debug_protocol(r, argv[2]);
    } else if (sh_slice_eq_nocase(sub, "QUICKLIST-PACKED-THRESHOLD") && argc == 3) {
        debug_packed_threshold(r, argv[2]);
    } else if (sh_slice_eq_nocase(sub, "CHANGE-REPL-ID") && argc == 2) {
        reply_ok(r); /* no replication: nothing to change */
    } else if (sh_slice_eq_nocase(sub, "STRINGMATCH-TEST") && argc == 2) {
        reply_status(r, "Apparently Redis did not crash: test passed");
    } else {
        return false;
    }
    return true;
}

/* ---- the coordinator of the keyspace subcommands ---- */

enum debug_op { OP_LOCAL, OP_DIGEST, OP_DIGEST_VALUE, OP_KEY, OP_ACTIVE_EXPIRE, OP_UNKNOWN };

static enum debug_op debug_op(int argc, const struct sh_slice *argv)
{
    struct sh_slice sub = argv[1];

    if (sh_slice_eq_nocase(sub, "DIGEST") && argc == 2) {
        return OP_DIGEST;
    }
    if (sh_slice_eq_nocase(sub, "DIGEST-VALUE")) {
        return OP_DIGEST_VALUE;
    }
    if ((sh_slice_eq_nocase(sub, "OBJECT") || sh_slice_eq_nocase(sub, "LISTPACK")) && argc == 3) {
        return OP_KEY;
    }
    if (sh_slice_eq_nocase(sub, "QUICKLIST") && (argc == 3 || argc == 4)) {
        return OP_KEY;
    }
    if (sh_slice_eq_nocase(sub, "SET-ACTIVE-EXPIRE") && argc == 3) {
        return OP_ACTIVE_EXPIRE;
    }
    return OP_UNKNOWN;
}

/* The arguments a coordinator works on: a copy made by the handler, or
 * (EXEC's nested run, ext NULL) the coordinator's own. */
struct debug_job {
    int argc;
    struct sh_slice *argv;
    enum debug_op op;
    bool refused; /* EXEC's nested run: DEBUG not allowed for the client */
};

static struct debug_job *job_new(int argc, const struct sh_slice *argv)
{
    size_t bytes = 0;
    struct debug_job *j;
    char *p;

    for (int i = 0; i < argc; i++) {
        bytes += argv[i].len;
    }
    j = sh_malloc(sizeof(*j) + sizeof(struct sh_slice) * (size_t)argc + bytes);
    j->argc = argc;
    j->argv = (struct sh_slice *)(j + 1);
    p = (char *)(j->argv + argc);
    for (int i = 0; i < argc; i++) {
        memcpy(p, argv[i].ptr, argv[i].len);
        j->argv[i] = (struct sh_slice){ p, argv[i].len };
        p += argv[i].len;
    }
    j->op = debug_op(argc, argv);
    j->refused = false;
    return j;
}

static void send_all(struct coord *c, const struct cmd_spec *spec, int argc,
                     const struct sh_slice *argv)
{
    for (int s = 0; s < c->nshards; s++) {
        coord_send(c, s, spec, c->dbid, argc, argv);
    }
}

static void debug_start(struct coord *c)
{
    struct debug_job *j = c->ext;
    struct sh_slice *a;

    if (!j) {
        j = job_new(c->argc, c->argv);
        j->refused = c->conn && !debug_allowed(c->conn->sh, c->conn);
        c->ext = j;
        if (j->refused) {
            return;
        }
    }
    a = j->argv;
    switch (j->op) {
    case OP_DIGEST:
        send_all(c, &digest_spec, 1,
                 &(struct sh_slice){ digest_spec.name, strlen(digest_spec.name) });
        break;
    case OP_DIGEST_VALUE:
        if (j->argc > 2) {
            a[1] = (struct sh_slice){ digest_value_spec.name, strlen(digest_value_spec.name) };
            send_all(c, &digest_value_spec, j->argc - 1, a + 1);
        }
        break;
    case OP_KEY:
        /* the owner's reply goes out as it is */
        c->part_proto = (uint8_t)c->proto;
        a[0] = (struct sh_slice){ key_spec.name, strlen(key_spec.name) };
        coord_send(c, coord_key_owner(c, a[2]), &key_spec, c->dbid, j->argc, a);
        break;
    case OP_ACTIVE_EXPIRE:
        a[1] = (struct sh_slice){ set_active_expire_spec.name,
                                  strlen(set_active_expire_spec.name) };
        send_all(c, &set_active_expire_spec, 2, a + 1);
        break;
    default:
        break; /* no part: done() replies at once */
    }
}

static void reply_hex(struct reply *r, const uint8_t d[DIGEST_LEN])
{
    char hex[2 * DIGEST_LEN + 1];

    sha1_hex(d, hex);
    reply_status(r, hex);
}

/* Redis's computeDatasetDigest over the shards' per-database parts. */
static void digest_done(struct coord *c, struct reply *r)
{
    int ndb = -1;
    uint8_t final[DIGEST_LEN] = { 0 };
    struct db_digest *dbs = NULL;

    for (int s = 0; s < c->nshards; s++) {
        struct sh_slice p = coord_part(c, s), b;
        size_t pos = 0;

        if (!coord_read_bulk(p, &pos, &b) || b.len % (1 + DIGEST_LEN) ||
            (ndb >= 0 && (int)(b.len / (1 + DIGEST_LEN)) != ndb)) {
            reply_error(r, "ERR internal error: bad __debug-digest reply");
            sh_free(dbs);
            return;
        }
        if (ndb < 0) {
            ndb = (int)(b.len / (1 + DIGEST_LEN));
            dbs = sh_calloc((size_t)ndb + 1, sizeof(*dbs));
        }
        for (int j = 0; j < ndb; j++) {
            const char *q = b.ptr + (size_t)j * (1 + DIGEST_LEN);

            dbs[j].any |= q[0] != 0;
            for (int k = 0; k < DIGEST_LEN; k++) {
                dbs[j].d[k] ^= (uint8_t)q[1 + k];
            }
        }
    }
    for (int j = 0; j < ndb; j++) {
        uint32_t aux = htonl((uint32_t)j);

        if (!dbs[j].any) {
            continue;
        }
        mix_digest(final, &aux, sizeof(aux));
        for (int k = 0; k < DIGEST_LEN; k++) {
            final[k] ^= dbs[j].d[k];
        }
    }
    sh_free(dbs);
    reply_hex(r, final);
}

static void digest_value_done(struct coord *c, const struct debug_job *j, struct reply *r)
{
    int n = j->argc - 2;
    uint8_t *all = sh_calloc((size_t)n * DIGEST_LEN + 1, 1);

    for (int s = 0; n > 0 && s < c->nshards; s++) {
        struct sh_slice p = coord_part(c, s), b;
        size_t pos = 0;

        if (!coord_read_bulk(p, &pos, &b) || b.len != (size_t)n * DIGEST_LEN) {
            reply_error(r, "ERR internal error: bad __debug-digest-value reply");
            sh_free(all);
            return;
        }
        for (size_t k = 0; k < b.len; k++) {
            all[k] ^= (uint8_t)b.ptr[k];
        }
    }
    reply_array(r, n);
    for (int i = 0; i < n; i++) {
        reply_hex(r, all + (size_t)i * DIGEST_LEN);
    }
    sh_free(all);
}

static bool debug_done(struct coord *c, struct reply *r)
{
    struct debug_job *j = c->ext;
    struct sh_slice p, err;

    if (j->refused) {
        reply_error(r, debug_not_allowed);
    } else if (j->op == OP_DIGEST) {
        digest_done(c, r);
    } else if (j->op == OP_DIGEST_VALUE) {
        digest_value_done(c, j, r);
    } else if (j->op == OP_KEY) {
        p = coord_part(c, coord_key_owner(c, j->argv[2]));
        reply_raw(r, p.ptr, p.len);
    } else if (j->op == OP_ACTIVE_EXPIRE) {
        err = coord_first_error(c);
        err.len ? reply_raw(r, err.ptr, err.len) : reply_ok(r);
    } else if (!debug_local(r, j->argc, j->argv)) {
        reply_unknown_sub(r, j->argv[1]);
    }
    sh_free(j);
    c->ext = NULL;
    return true;
}

/* CONN: the handler runs the keyless subcommands itself; the gather is also
 * EXEC's nested coordinator, which gets every subcommand */
static const struct gather gather_debug = {
    .start = debug_start,
    .done = debug_done,
};

/* DEBUG RELOAD [NOSAVE] [NOFLUSH] [MERGE]: save (unless NOSAVE), empty every
 * shard, load dbfilename (cmd_persist.c). NOFLUSH and MERGE (loading on top
 * of the data) are refused: a duplicated key stops a load here. */
static void debug_reload(struct cmd_ctx *ctx)
{
    bool save = true;

    for (int i = 2; i < ctx->argc; i++) {
        if (ctx->argv[i].len == 6 && strncasecmp(ctx->argv[i].ptr, "nosave", 6) == 0) {
            save = false;
        } else {
            reply_errorf(&ctx->r, "ERR DEBUG RELOAD only supports the NOSAVE option here");
            return;
        }
    }
    cmd_persist_reload(ctx, save);
}

static void cmd_debug(struct cmd_ctx *ctx)
{
    struct debug_job *j;

    if (ctx->conn && !debug_allowed(ctx->shard, ctx->conn)) {
        reply_error(&ctx->r, debug_not_allowed);
        return;
    }
    if (ctx->conn && ctx->argc >= 2 && ctx->argv[1].len == 6 &&
        strncasecmp(ctx->argv[1].ptr, "reload", 6) == 0) {
        debug_reload(ctx);
        return;
    }
    if (debug_local(&ctx->r, ctx->argc, ctx->argv)) {
        return;
    }
    if (debug_op(ctx->argc, ctx->argv) == OP_UNKNOWN || !ctx->conn) {
        reply_unknown_sub(&ctx->r, ctx->argv[1]);
        return;
    }
    j = job_new(ctx->argc, ctx->argv);
    /* DIGEST reads every shard at one instant: a transaction over them all */
    coord_start_txn(ctx->conn, ctx->cmd, &gather_debug, j, ctx->dbid, 0, NULL, j->op == OP_DIGEST);
}

void cmd_debug_bind(void)
{
    cmd_must_bind("debug", cmd_debug, CMD_ROUTE_CONN, &gather_debug);
}
