/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * hiredis_txn.c: hiredis (Debian's libhiredis) against a server: MULTI/EXEC over keys
 * of many shards, a pipelined transaction, WATCH aborted by another
 * connection, EVAL and EVALSHA with two keys and a script with an
 * undeclared key. (Not in a folder named hiredis: that would shadow the
 * Python hiredis module redis-py imports.) Run by
 * tests/interop/test_hiredis.py:
 *     interop_hiredis PORT
 * Exits 0 when every check holds; else prints the first failure.
 */
#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "line %d: ", __LINE__);                                                \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static redisReply *cmd(redisContext *c, const char *fmt, const char *a, const char *b)
{
    redisReply *r = redisCommand(c, fmt, a, b);

    if (!r) {
        fprintf(stderr, "connection error: %s\n", c->errstr);
        exit(2);
    }
    return r;
}

static bool is_status(const redisReply *r, const char *s)
{
    return r->type == REDIS_REPLY_STATUS && !strcmp(r->str, s);
}

int main(int argc, char **argv)
{
    redisContext *c, *other;
    redisReply *r;
    char key[32];

    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    c = redisConnect("127.0.0.1", atoi(argv[1]));
    other = redisConnect("127.0.0.1", atoi(argv[1]));
    if (!c || c->err || !other || other->err) {
        fprintf(stderr, "cannot connect\n");
        return 2;
    }

    /* MULTI/EXEC over 16 keys (several shards) */
    r = cmd(c, "MULTI", NULL, NULL);
    CHECK(is_status(r, "OK"), "MULTI");
    freeReplyObject(r);
    for (int i = 0; i < 16; i++) {
        snprintf(key, sizeof(key), "hk:%d", i);
        r = cmd(c, "SET %s %s", key, "v");
        CHECK(is_status(r, "QUEUED"), "SET not queued");
        freeReplyObject(r);
    }
    r = cmd(c, "INCR hk:counter", NULL, NULL);
    freeReplyObject(r);
    r = cmd(c, "EXEC", NULL, NULL);
    CHECK(r->type == REDIS_REPLY_ARRAY && r->elements == 17, "EXEC: %d elements", (int)r->elements);
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 17) {
        CHECK(r->element[16]->type == REDIS_REPLY_INTEGER && r->element[16]->integer == 1,
              "INCR in EXEC");
    }
    freeReplyObject(r);

    /* a pipelined transaction */
    redisAppendCommand(c, "MULTI");
    redisAppendCommand(c, "MSET hk:a 1 hk:b 2");
    redisAppendCommand(c, "MGET hk:a hk:b");
    redisAppendCommand(c, "EXEC");
    for (int i = 0; i < 4; i++) {
        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            fprintf(stderr, "pipeline read failed\n");
            return 2;
        }
        if (i == 3) {
            CHECK(r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                          r->element[1]->type == REDIS_REPLY_ARRAY &&
                          r->element[1]->elements == 2 &&
                          !strcmp(r->element[1]->element[1]->str, "2"),
                  "pipelined EXEC");
        }
        freeReplyObject(r);
    }

    /* WATCH, changed by another connection: EXEC gives a null reply */
    freeReplyObject(cmd(c, "WATCH hk:w", NULL, NULL));
    freeReplyObject(cmd(other, "SET hk:w other", NULL, NULL));
    freeReplyObject(cmd(c, "MULTI", NULL, NULL));
    freeReplyObject(cmd(c, "SET hk:w mine", NULL, NULL));
    r = cmd(c, "EXEC", NULL, NULL);
    CHECK(r->type == REDIS_REPLY_NIL, "WATCH did not abort EXEC (type %d)", r->type);
    freeReplyObject(r);

    /* EVAL and EVALSHA with two keys, and an undeclared key */
    r = cmd(c, "EVAL %s 2 hk:x hk:y 5",
            "redis.call('SET', KEYS[1], ARGV[1]); redis.call('SET', KEYS[2], ARGV[1]); "
            "return redis.call('MGET', KEYS[1], KEYS[2])",
            NULL);
    CHECK(r->type == REDIS_REPLY_ARRAY && r->elements == 2 && !strcmp(r->element[0]->str, "5"),
          "EVAL with two keys");
    freeReplyObject(r);
    r = cmd(c, "SCRIPT LOAD %s", "return redis.call('INCRBY', KEYS[1], ARGV[1])", NULL);
    CHECK(r->type == REDIS_REPLY_STRING && r->len == 40, "SCRIPT LOAD");
    if (r->type == REDIS_REPLY_STRING) {
        redisReply *e = cmd(other, "EVALSHA %s 1 hk:n 3", r->str, NULL);

        CHECK(e->type == REDIS_REPLY_INTEGER && e->integer == 3, "EVALSHA");
        freeReplyObject(e);
    }
    freeReplyObject(r);
    r = cmd(c, "EVAL %s 0",
            "redis.call('SET', 'hk:undeclared', 'u'); "
            "return redis.call('GET', 'hk:undeclared')",
            NULL);
    CHECK(r->type == REDIS_REPLY_STRING && !strcmp(r->str, "u"), "undeclared key script");
    freeReplyObject(r);

    redisFree(other);
    redisFree(c);
    if (failures) {
        return 1;
    }
    printf("ok\n");
    return 0;
}
