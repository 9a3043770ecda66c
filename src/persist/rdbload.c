/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rdbload.c: loading an RDB file (version 1 to 10: Redis 7.0's, and every
 * older one Redis 7.0 reads) into the shards.
 *
 * Each shard maps the whole file and walks every record: the keys it owns
 * are decoded into its databases, the others skipped by their lengths, so
 * the shards load in parallel with no hand-off between them. Shard 0 also
 * checks the CRC-64 of the whole file. The function libraries go into every
 * shard (each keeps all of them). Keys whose expiry has passed are not
 * loaded, as on a Redis master. Any error (truncated, corrupt, a duplicated
 * key, a database past `databases`, a module type) stops the load with the
 * offset and what was expected: at start-up the server does not start.
 */
#include "persist_internal.h"
#include "shardis/conn.h"
#include "shardis/crc64.h"
#include "shardis/eval.h"
#include "shardis/kdb.h"
#include "shardis/log.h"
#include "shardis/script.h"
#include "shardis/shard.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct load {
    struct shard *sh;
    struct rdb_in in;
    uint64_t loaded, expired;
    char why[256];
};

/* One library of the file into this shard's functions. */
static bool load_function(struct load *l)
{
    struct rdb_str code;
    struct rbuf b;
    struct reply r = { .buf = &b, .proto = 2 };
    bool ok;

    if (!rdb_get_string(&l->in, &code)) {
        return false;
    }
    rbuf_init(&b);
    ok = script_fn_load(eval_functions_vm(l->sh), code.p, code.len, false, &r) == 0;
    if (!ok) {
        snprintf(l->why, sizeof(l->why), "%.*s", (int)(b.len > 2 ? b.len - 2 : 0), b.data);
    }
    rbuf_fini(&b);
    rdb_str_free(&code);
    return ok || rdb_fail(&l->in, "Failed loading library: %.100s", l->why);
}

/* One key record (after its type byte). */
static bool load_key(struct load *l, int type, int dbid, int64_t expire, long long idle)
{
    struct shard *sh = l->sh;
    struct rdb_str key;
    struct kval v = { 0 };
    uint64_t hash;
    int owner;
    struct kdb *db;
    struct kentry *e;
    uint32_t lru;

    if (!rdb_get_string(&l->in, &key)) {
        return false;
    }
    owner = shard_owner(sh->srv->nshards, key.p, key.len, &hash);
    if (owner != sh->id) {
        rdb_str_free(&key);
        return rdb_skip_value(&l->in, type);
    }
    if (!rdb_get_value(&l->in, type, &v, &sh->cfg.limits, &sh->rnd)) {
        rdb_str_free(&key);
        return false;
    }
    if (expire >= 0 && expire <= sh->now_ms) {
        kval_clear(&v);
        rdb_str_free(&key);
        l->expired++;
        return true;
    }
    db = shard_db(sh, dbid);
    if (kdb_find(db, key.p, key.len, hash, sh->now_ms)) {
        snprintf(l->why, sizeof(l->why), "%.*s", (int)(key.len < 128 ? key.len : 128), key.p);
        kval_clear(&v);
        rdb_str_free(&key);
        return rdb_fail(&l->in, "RDB has duplicated key '%.128s' in DB %d", l->why, dbid);
    }
    e = kdb_add(db, key.p, key.len, hash);
    lru = e->val.lru;
    kentry_set_val(e, v);
    e->val.lru = idle >= 0 ? (uint32_t)(sh->now_ms / 1000 - idle) : lru;
    if (expire >= 0) {
        kdb_set_expire(db, e, expire);
    }
    rdb_str_free(&key);
    l->loaded++;
    return true;
}

static bool skip_strings(struct rdb_in *in, int n)
{
    for (int i = 0; i < n; i++) {
        if (!rdb_skip_string(in)) {
            return false;
        }
    }
    return true;
}

/* The records from after the magic to EOF and the checksum. */
static bool load_records(struct load *l, int version)
{
    struct rdb_in *in = &l->in;
    int dbid = 0;
    int64_t expire = -1;
    long long idle = -1;

    for (;;) {
        uint8_t op;
        uint64_t n, m;

        if (!rdb_get_byte(in, &op)) {
            return false;
        }
        switch (op) {
        case RDB_OPCODE_EXPIRETIME: {
            const unsigned char *p;

            if (!rdb_get_raw(in, 4, &p)) {
                return false;
            }
            expire = (int64_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                               (uint32_t)p[3] << 24) *
                     1000;
            continue;
        }
        case RDB_OPCODE_EXPIRETIME_MS:
            if (!rdb_get_ms(in, &expire)) {
                return false;
            }
            continue;
        case RDB_OPCODE_FREQ:
            if (!rdb_get_byte(in, &op)) {
                return false;
            }
            continue;
        case RDB_OPCODE_IDLE:
            if (!rdb_get_len(in, &n, NULL)) {
                return false;
            }
            idle = (long long)(n > (uint64_t)1 << 40 ? (uint64_t)1 << 40 : n);
            continue;
        case RDB_OPCODE_EOF:
            return true;
        case RDB_OPCODE_SELECTDB:
            if (!rdb_get_len(in, &n, NULL)) {
                return false;
            }
            if (n >= (uint64_t)l->sh->cfg.databases) {
                return rdb_fail(in,
                                "FATAL: Data file was created with a Redis server configured to "
                                "handle more than %lld databases",
                                l->sh->cfg.databases);
            }
            dbid = (int)n;
            continue;
        case RDB_OPCODE_RESIZEDB:
            if (!rdb_get_len(in, &n, NULL) || !rdb_get_len(in, &m, NULL)) {
                return false;
            }
            continue;
        case RDB_OPCODE_AUX:
            if (!skip_strings(in, 2)) {
                return false;
            }
            continue;
        case RDB_OPCODE_MODULE_AUX:
            return rdb_fail(in, "module data in the file: modules are not supported");
        case RDB_OPCODE_FUNCTION:
            return rdb_fail(in, "Pre-release function format not supported");
        case RDB_OPCODE_FUNCTION2:
            if (!load_function(l)) {
                return false;
            }
            continue;
        default:
            if (!load_key(l, op, dbid, expire, idle)) {
                return false;
            }
            expire = -1;
            idle = -1;
            (void)version;
        }
    }
}

/* Loads the file at path into this shard. 0 (also when there is no file),
 * or -1 with the reason in err. */
static int load_file(struct shard *sh, const char *path, char *err, size_t errlen)
{
    struct load l = { .sh = sh };
    struct stat st;
    unsigned char *map;
    int fd, version = 0;
    bool ok;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            return 0;
        }
        snprintf(err, errlen, "Fatal error loading the DB, %s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0 || st.st_size < 9) {
        snprintf(err, errlen, "Short read or OOM loading DB (%s): the file ends at byte %lld", path,
                 (long long)st.st_size);
        close(fd);
        return -1;
    }
    map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        snprintf(err, errlen, "Fatal error loading the DB, %s: %s", path, strerror(errno));
        return -1;
    }
    madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);
    rdb_in_init(&l.in, map, (size_t)st.st_size);
    if (memcmp(map, "REDIS", 5) != 0) {
        ok = rdb_fail(&l.in, "Wrong signature trying to load DB from file");
    } else {
        for (int i = 5; i < 9; i++) {
            version = version * 10 + (map[i] >= '0' && map[i] <= '9' ? map[i] - '0' : 100000);
        }
        l.in.pos = 9;
        ok = version >= 1 && version <= RDB_VERSION
                     ? load_records(&l, version)
                     : rdb_fail(&l.in, "Can't handle RDB format version %d", version);
    }
    if (ok && version >= 5) {
        size_t at = l.in.pos;
        int64_t want;

        ok = rdb_get_ms(&l.in, &want);
        if (ok && sh->id == 0 && want != 0 && sh->cfg.rdbchecksum) {
            uint64_t got = crc64(0, map, at);

            if (got != (uint64_t)want) {
                ok = rdb_fail(&l.in, "Wrong RDB checksum expected: (%llx) got (%llx)",
                              (unsigned long long)want, (unsigned long long)got);
            }
        }
    }
    munmap(map, (size_t)st.st_size);
    if (!ok) {
        snprintf(err, errlen, "Bad RDB file %s: %s", path, l.in.err);
        return -1;
    }
    mbox_counter_add(&persist_of(sh->srv)->keys_loaded, (long)l.loaded);
    mbox_counter_add(&persist_of(sh->srv)->keys_expired, (long)l.expired);
    return 0;
}

int persist_load_file(struct shard *sh, const char *path, char *err, size_t errlen)
{
    return load_file(sh, path, err, errlen);
}

int persist_load_start(struct shard *sh)
{
    char err[512];
    int64_t t0 = sh_mono_us();
    int rc = load_file(sh, sh->cfg.dbfilename, err, sizeof(err));

    if (rc < 0) {
        sh_log(LOG_WARNING, "%s. Exiting.", err);
        return -1;
    }
    if (sh->id == 0) {
        sh_log(LOG_NOTICE, "DB loaded from disk: %.3f seconds (this shard)",
               (double)(sh_mono_us() - t0) / 1e6);
    }
    return 0;
}

void persist_load_stats_reset(struct shard *sh)
{
    mbox_counter_set(&persist_of(sh->srv)->keys_loaded, 0);
    mbox_counter_set(&persist_of(sh->srv)->keys_expired, 0);
}

int persist_load_here(struct shard *sh, char *err, size_t errlen)
{
    for (int i = 0; i < sh->cfg.databases; i++) {
        kdb_flush(shard_db(sh, i));
    }
    script_fn_flush(eval_functions_vm(sh));
    return load_file(sh, sh->cfg.dbfilename, err, errlen);
}
