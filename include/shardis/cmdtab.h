/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmdtab.h: the command table: what Redis 7.0 says of every command (arity,
 * flags, ACL categories, where the keys are, its documentation), generated
 * from Redis's own JSON specification by tools/gencmd.py into
 * src/cmdtab_gen.c (committed; the build never reads the JSON).
 *
 * The table holds every Redis command; the runtime binds handlers to the ones
 * shardis implements (cmdtab_bind) and only those are visible to clients
 * (lookup, COMMAND COUNT/LIST/INFO/DOCS). Set up once by main before the
 * shards start, read-only afterwards, so any core may read it without locks.
 */
#pragma once

#include "shardis/sh.h"

#include <stdint.h>

struct cmd_ctx;
struct gather;
struct reply;

/* A handler: runs on the core that owns the command's keys (or the client's
 * core for commands without keys) and writes exactly one reply. */
typedef void cmd_fn(struct cmd_ctx *ctx);

/* command_flags of the JSON spec */
enum {
    CMD_WRITE = 1u << 0,
    CMD_READONLY = 1u << 1,
    CMD_DENYOOM = 1u << 2,
    CMD_MODULE = 1u << 3,
    CMD_ADMIN = 1u << 4,
    CMD_PUBSUB = 1u << 5,
    CMD_NOSCRIPT = 1u << 6,
    CMD_BLOCKING = 1u << 7,
    CMD_LOADING = 1u << 8,
    CMD_STALE = 1u << 9,
    CMD_SKIP_MONITOR = 1u << 10,
    CMD_SKIP_SLOWLOG = 1u << 11,
    CMD_ASKING = 1u << 12,
    CMD_FAST = 1u << 13,
    CMD_NO_AUTH = 1u << 14,
    CMD_MAY_REPLICATE = 1u << 15,
    CMD_SENTINEL = 1u << 16,
    CMD_ONLY_SENTINEL = 1u << 17,
    CMD_NO_MANDATORY_KEYS = 1u << 18,
    CMD_PROTECTED = 1u << 19,
    CMD_NO_ASYNC_LOADING = 1u << 20,
    CMD_NO_MULTI = 1u << 21,
    CMD_MOVABLE_KEYS = 1u << 22, /* derived: keys found by keyword/keynum */
    CMD_ALLOW_BUSY = 1u << 23,
    CMD_TOUCHES_ARBITRARY_KEYS = 1u << 24, /* hidden from COMMAND INFO, as in Redis */
};

/* Key spec flags (cmd_keyspec.flagbits), Redis's CMD_KEY_* */
enum {
    CMD_KEY_RO = 1u << 0,
    CMD_KEY_RW = 1u << 1,
    CMD_KEY_OW = 1u << 2,
    CMD_KEY_RM = 1u << 3,
    CMD_KEY_ACCESS = 1u << 4,
    CMD_KEY_UPDATE = 1u << 5,
    CMD_KEY_INSERT = 1u << 6,
    CMD_KEY_DELETE = 1u << 7,
    CMD_KEY_NOT_KEY = 1u << 8,
    CMD_KEY_INCOMPLETE = 1u << 9,
    CMD_KEY_VARIABLE_FLAGS = 1u << 10,
};

/* cmd_keyspec.bs_type and .fk_type */
enum { CMD_BS_UNKNOWN = 0, CMD_BS_INDEX = 1, CMD_BS_KEYWORD = 2 };
enum { CMD_FK_UNKNOWN = 0, CMD_FK_RANGE = 1, CMD_FK_KEYNUM = 2 };

/* Which of Redis's getkeys_proc functions a command has (cmd_spec.getkeys):
 * cmdtab_get_keys falls back to an emulation of it where the key specs cannot
 * say (unknown specs, bad numkeys, VARIABLE_FLAGS), as Redis does. */
enum cmd_getkeys {
    CMD_GETKEYS_NONE = 0,
    CMD_GETKEYS_KEY1,          /* SET, BITFIELD: argv[1] */
    CMD_GETKEYS_NUMKEYS1,      /* numkeys at 1, keys from 2 (ZUNION, LMPOP ...) */
    CMD_GETKEYS_NUMKEYS2,      /* numkeys at 2, keys from 3 (EVAL, FCALL, BLMPOP) */
    CMD_GETKEYS_NUMKEYS_STORE, /* ZUNIONSTORE ...: destination at 1, numkeys at 2 */
    CMD_GETKEYS_SORT,
    CMD_GETKEYS_SORT_RO,
    CMD_GETKEYS_MIGRATE,
    CMD_GETKEYS_GEORADIUS,
    CMD_GETKEYS_XREAD,
};

/* How the runtime routes a command (set by cmdtab_bind). */
enum cmd_route {
    CMD_ROUTE_NONE = 0, /* not implemented: "unknown command" */
    CMD_ROUTE_CONN,     /* no keys: runs on the client's own core */
    CMD_ROUTE_KEY,      /* all keys must share one owner: runs there */
    CMD_ROUTE_MULTI,    /* keys split by owner, parts gathered (see route.h) */
    CMD_ROUTE_ALL,      /* fans out to every shard and merges */
    CMD_ROUTE_CHANNEL,  /* runs on the owner of the channel argv[1] (PUBLISH) */
};

/* A key spec as COMMAND INFO reports it (Redis 7 "key specifications"). */
struct cmd_keyspec {
    const char *flags[6];                      /* NULL-terminated, e.g. "RW", "ACCESS", "UPDATE" */
    uint32_t flagbits;                         /* the same flags as CMD_KEY_* bits */
    const char *notes;                         /* or NULL */
    int bs_type;                               /* 0 unknown, 1 index, 2 keyword */
    int bs_index;                              /* index: pos */
    const char *bs_keyword;                    /* keyword: keyword ... */
    int bs_startfrom;                          /* ... startfrom */
    int fk_type;                               /* 0 unknown, 1 range, 2 keynum */
    int fk_lastkey, fk_step, fk_limit;         /* range */
    int fk_keynumidx, fk_firstkey, fk_keystep; /* keynum */
};

/* One argument of the grammar, for COMMAND DOCS. */
struct cmd_arg {
    const char *name;
    const char *type;             /* "key", "string", "integer", "double", "pattern",
                                     "unix-time", "pure-token", "oneof", "block" */
    const char *display;          /* or NULL */
    const char *token;            /* or NULL */
    const char *since;            /* or NULL */
    const char *deprecated_since; /* or NULL */
    int key_spec_index;           /* -1 when none */
    bool optional, multiple, multiple_token;
    const struct cmd_arg *args; /* sub-arguments of oneof/block */
    int nargs;
};

struct cmd_spec {
    const char *name;                  /* lower case; a subcommand has its own name only */
    const char *fullname;              /* "get", "client|kill" */
    int arity;                         /* negative: at least -arity */
    uint32_t flags;                    /* CMD_* above */
    uint64_t acl;                      /* bit i set = category cmdtab_acl_names[i] */
    int first_key, last_key, key_step; /* legacy range, as COMMAND INFO shows */
    const char *group, *since, *complexity, *summary;
    const char *doc_flags[4];     /* "deprecated", "syscmd"; NULL-terminated */
    const char *deprecated_since; /* or NULL */
    const char *replaced_by;      /* or NULL */
    const char *(*history)[2];    /* pairs of (version, text) */
    int nhistory;
    const char **tips; /* request/response policy tips */
    int ntips;
    const struct cmd_keyspec *keyspecs;
    int nkeyspecs;
    const struct cmd_arg *args;
    int nargs;
    struct cmd_spec *subcmds; /* for containers (CLIENT, CONFIG, ...) */
    int nsubcmds;
    enum cmd_getkeys getkeys;      /* Redis's getkeys_proc, emulated */
    const struct cmd_spec *parent; /* set by cmdtab_init for subcommands */
    /* filled by cmdtab_bind; NULL/NONE/false until then */
    cmd_fn *proc;
    enum cmd_route route;
    const struct gather *gather; /* MULTI/ALL: how parts are merged (route.h) */
    int id;       /* 1.. for the table's commands (cmdtab_init), 0 for internal ones */
    bool visible; /* bound, or a container with a bound subcommand */
};

/* Names of the ACL categories, index = bit in cmd_spec.acl ("keyspace",
 * "read", ...), and their count. */
extern const char *const cmdtab_acl_names[];
extern const int cmdtab_acl_count;

/* Builds the lookup index. Called once by main before any shard starts.
 * O(number of commands). */
void cmdtab_init(void);
/* Ids run from 1 to cmdtab_nids() - 1 (per-command statistics). */
int cmdtab_nids(void);
/* The command with that id, or NULL. */
const struct cmd_spec *cmdtab_by_id(int id);
/* Unbinds every command and drops the index (tests; main at exit). */
void cmdtab_fini(void);
/* Attaches a handler to a command ("get") or subcommand ("client|kill").
 * Returns 0 or -ENOENT when the spec has no such command. Before shards
 * start only. A container whose subcommands are bound becomes visible too. */
SH_MUST_CHECK int cmdtab_bind(const char *fullname, cmd_fn *proc, enum cmd_route route);
/* Sets the gather of a bound MULTI/ALL command (before shards start).
 * Returns 0 or -ENOENT. */
SH_MUST_CHECK int cmdtab_bind_gather(const char *fullname, const struct gather *g);
/* Case-insensitive lookup of a top-level command; NULL when unknown or not
 * bound. Borrowed from the table, valid for the life of the process. */
const struct cmd_spec *cmdtab_lookup(const char *name, size_t len);
/* Subcommand of a container, case-insensitive; NULL when unknown/unbound. */
const struct cmd_spec *cmdtab_lookup_sub(const struct cmd_spec *parent, const char *name,
                                         size_t len);
/* Is this command visible (bound, or a container with a bound subcommand)? */
bool cmdtab_is_bound(const struct cmd_spec *c);
/* Lookup by full name as COMMAND INFO/DOCS take it: "get" or "client|kill"
 * (one level, strict: "get|x" and "client|" are NULL). Visible commands only. */
const struct cmd_spec *cmdtab_lookup_fullname(const char *name, size_t len);

/* cmdtab_get_keys flags */
enum {
    CMDTAB_KEYS_INCLUDE_NOT_KEYS = 1u << 0, /* also the NOT_KEY specs (SPUBLISH's channel) */
};

/* Finds the key arguments of a command as Redis 7.0's
 * getKeysFromCommandWithSpecs does: by the key specs, falling back to the
 * emulated getkeys_proc where they fail. argv[0] is the command name (for a
 * subcommand argv[1] is its name), argc must already satisfy c->arity.
 * Writes the argv positions of the keys, in Redis's order, to pos[0..maxpos)
 * and returns how many keys there are: 0 when none (a syntax error for
 * commands without CMD_NO_MANDATORY_KEYS); more than maxpos means pos was too
 * short (maxpos >= argc is always enough for Redis's commands). Borrows argv.
 * O(argc), no allocation; any core. */
int cmdtab_get_keys(const struct cmd_spec *c, const struct sh_slice *argv, int argc, unsigned flags,
                    int *pos, int maxpos);
/* cmdtab_get_keys that also writes each key's spec flags (CMD_KEY_*) to
 * kflags[0..maxpos): the union of the command's specs where a getkeys proc
 * found the key. */
int cmdtab_get_keys_flags(const struct cmd_spec *c, const struct sh_slice *argv, int argc,
                          unsigned flags, int *pos, uint32_t *kflags, int maxpos);
/* Does the command take keys at all (a spec not NOT_KEY, or a getkeys)? */
bool cmdtab_has_keys(const struct cmd_spec *c);

/* COMMAND and its subcommands (COUNT, LIST [FILTERBY ...], INFO, DOCS,
 * GETKEYS): handlers bound by the runtime, implemented in src/cmd_command.c. */
void cmd_command(struct cmd_ctx *ctx);
void cmd_command_count(struct cmd_ctx *ctx);
void cmd_command_list(struct cmd_ctx *ctx);
void cmd_command_info(struct cmd_ctx *ctx);
void cmd_command_docs(struct cmd_ctx *ctx);
void cmd_command_getkeys(struct cmd_ctx *ctx);
