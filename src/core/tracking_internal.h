/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tracking_internal.h: what tracking.c (the owners' tables, delivery, the
 * command hooks) and tracking_client.c (a connection's tracking state and
 * the CLIENT subcommands) share. Not a public header: core/ only.
 *
 * Threading: everything here belongs to the core of sh->tracking it
 * hangs from (tracking.h).
 */
#pragma once

#include "shardis/reply.h"
#include "shardis/sh.h"
#include "shardis/shard.h"

#include <stdint.h>

struct cmd_spec;
struct conn;
struct coord;
struct kdict;
struct kentry;

enum {
    TRK_ON = 1u << 0,
    TRK_BCAST = 1u << 1,
    TRK_OPTIN = 1u << 2,
    TRK_OPTOUT = 1u << 3,
    TRK_NOLOOP = 1u << 4,
    TRK_CACHING = 1u << 5, /* CLIENT CACHING given for the next command */
    TRK_BROKEN = 1u << 6,  /* the redirect target was found gone */
    TRK_IN_MULTI = 1u << 7,
};

#define TRK_OPTIONS (TRK_BCAST | TRK_OPTIN | TRK_OPTOUT | TRK_NOLOOP)

struct trk_client {
    struct conn *c;
    uint64_t redir; /* 0: none */
    uint32_t flags;
    int nprefix;
    struct sh_slice *prefix; /* sorted as Redis's rax; bytes owned */
};

struct trk_reader {
    uint32_t flags;
    int32_t arms; /* CLIENT CACHING commands announced, not yet run here */
};

struct trk_ids {
    uint32_t n, cap;
    uint64_t id[];
};

struct trk_sub {
    uint64_t id;
    bool noloop;
};

struct trk_prefix {
    struct trk_sub *sub;
    uint32_t n, cap;
    struct kdict *keys; /* written since the last batch -> last writer (u.i) */
};

struct trk_out {
    struct conn *c; /* NULL once gone */
    size_t off, len;
};

struct tracking {
    struct shard_io io; /* first: the NOP's completion finds us */
    struct shard *sh;
    struct kdict *clients;
    struct kdict *readers;
    struct kdict *table;
    struct kdict *prefixes;
    uint64_t items;
    unsigned evict_rounds;
    uint32_t nopt;
    bool bcast_pending;
    bool nop_armed;
    struct rbuf obytes;
    struct trk_out *out;
    size_t nout, capout;
    struct conn *last; /* the last redirect target found (cleared when it goes) */
};

/* The internal commands the client side sends (tracking.c): a registry
 * entry (id, flags), BCAST prefixes (id, noloop, add, prefixes...), CLIENT
 * CACHING for the next read (id), and the redirect check (id). */
extern const struct cmd_spec tracking_spec_reg, tracking_spec_pfx, tracking_spec_arm,
        tracking_spec_exists;

/* This core's state, made at the first call (get) or NULL (peek). */
struct tracking *tracking_get(struct shard *sh);
struct tracking *tracking_peek(const struct shard *sh);
/* Sets the shard's two fast-path words from the tables. */
void tracking_refresh(struct tracking *t);
/* A tracking client of this core by id (t may be NULL), or NULL. */
struct trk_client *tracking_client_of(const struct tracking *t, uint64_t id);
struct trk_client *tracking_conn_client(const struct conn *c);
/* The core of a connection id. */
int tracking_shard_of_id(const struct shard *sh, uint64_t id);
/* kdict entries keyed by a client id's 8 bytes. */
struct kentry *tracking_id_find(struct kdict *d, uint64_t id);
struct kentry *tracking_id_add(struct kdict *d, uint64_t id);
/* v in decimal in buf (cap >= 21), as an argument. */
struct sh_slice tracking_u64_arg(char *buf, size_t cap, uint64_t v);
/* CLIENT CACHING announced for client id's next read here. */
void tracking_reader_arm(struct tracking *t, uint64_t id);
/* Redis's rax order of two struct sh_slice: bytes, then length (qsort). */
int tracking_cmp_key(const void *a, const void *b);
/* EVAL_RO, EVALSHA_RO, FCALL_RO: tracked through the commands they run. */
bool tracking_is_script_ro(const struct cmd_spec *cmd);
/* tracking_client.c: tracking off for tc (unregistered through co's parts,
 * or posted when co is NULL); tc is freed. */
void tracking_disable(struct tracking *t, struct trk_client *tc, struct coord *co);
void tracking_client_free(struct trk_client *tc);
