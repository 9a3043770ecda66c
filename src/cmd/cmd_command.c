/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_command.c: COMMAND, COMMAND COUNT, LIST, INFO, DOCS and GETKEYS, with
 * the reply shapes of Redis 7.0 (commandCommand, addReplyCommandInfo,
 * addReplyCommandDocs ... in its server.c), over the visible (bound) part of
 * the command table. GETKEYSANDFLAGS and HELP are bound here too.
 *
 * Differences from Redis, all in order only: Redis walks its command dicts in
 * hash order, here commands and subcommands come sorted by name. Replies
 * whose length Redis defers (DOCS with names, LIST) are counted first and
 * written second, so the bytes are the same.
 *
 * Threading: runs on the client's core (CMD_ROUTE_CONN), reads only the
 * table, which is immutable once the shards run.
 */
#include "shardis/cmd.h"
#include "shardis/cmd_bind.h"
#include "shardis/cmdtab_internal.h"
#include "shardis/glob.h"
#include "shardis/reply.h"
#include "shardis/util.h"

#include <string.h>

struct flag_name {
    uint32_t flag;
    const char *name;
};

/* addReplyFlagsForCommand: the flags COMMAND INFO shows, in its order
 * (may_replicate, sentinel, only_sentinel, protected and
 * touches_arbitrary_keys are hidden on purpose, as in Redis). */
static const struct flag_name command_flag_names[] = {
    { CMD_WRITE, "write" },
    { CMD_READONLY, "readonly" },
    { CMD_DENYOOM, "denyoom" },
    { CMD_MODULE, "module" },
    { CMD_ADMIN, "admin" },
    { CMD_PUBSUB, "pubsub" },
    { CMD_NOSCRIPT, "noscript" },
    { CMD_BLOCKING, "blocking" },
    { CMD_LOADING, "loading" },
    { CMD_STALE, "stale" },
    { CMD_SKIP_MONITOR, "skip_monitor" },
    { CMD_SKIP_SLOWLOG, "skip_slowlog" },
    { CMD_ASKING, "asking" },
    { CMD_FAST, "fast" },
    { CMD_NO_AUTH, "no_auth" },
    { CMD_NO_MANDATORY_KEYS, "no_mandatory_keys" },
    { CMD_NO_ASYNC_LOADING, "no_async_loading" },
    { CMD_NO_MULTI, "no_multi" },
    { CMD_MOVABLE_KEYS, "movablekeys" },
    { CMD_ALLOW_BUSY, "allow_busy" },
};

/* addReplyFlagsForKeyArgs */
static const struct flag_name key_flag_names[] = {
    { CMD_KEY_RO, "RO" },
    { CMD_KEY_RW, "RW" },
    { CMD_KEY_OW, "OW" },
    { CMD_KEY_RM, "RM" },
    { CMD_KEY_ACCESS, "access" },
    { CMD_KEY_UPDATE, "update" },
    { CMD_KEY_INSERT, "insert" },
    { CMD_KEY_DELETE, "delete" },
    { CMD_KEY_NOT_KEY, "not_key" },
    { CMD_KEY_INCOMPLETE, "incomplete" },
    { CMD_KEY_VARIABLE_FLAGS, "variable_flags" },
};

/* A set of status strings, one per flag set in flags. */
static void reply_flag_set(struct reply *r, uint32_t flags, const struct flag_name *names, size_t n)
{
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        count += (flags & names[i].flag) != 0;
    }
    reply_set(r, count);
    for (size_t i = 0; i < n; i++) {
        if (flags & names[i].flag) {
            reply_status(r, names[i].name);
        }
    }
}

static void reply_acl_set(struct reply *r, uint64_t acl)
{
    char buf[32];
    reply_set(r, __builtin_popcountll(acl));
    for (int i = 0; i < cmdtab_acl_count; i++) {
        if (acl & (UINT64_C(1) << i)) {
            buf[0] = '@';
            strcpy(buf + 1, cmdtab_acl_names[i]);
            reply_status(r, buf);
        }
    }
}

static int visible_subcmds(const struct cmd_spec *c)
{
    int n = 0;
    for (int i = 0; i < c->nsubcmds; i++) {
        n += cmdtab_is_bound(&c->subcmds[i]);
    }
    return n;
}

static int visible_commands(void)
{
    int n = 0;
    for (int i = 0; i < cmdtab_ncommands; i++) {
        n += cmdtab_is_bound(&cmdtab_commands[i]);
    }
    return n;
}

static void reply_kv_int(struct reply *r, const char *k, long long v)
{
    reply_bulk_cstr(r, k);
    reply_int(r, v);
}

static void reply_kv_str(struct reply *r, const char *k, const char *v)
{
    reply_bulk_cstr(r, k);
    reply_bulk_cstr(r, v);
}

static void reply_begin_search(struct reply *r, const struct cmd_keyspec *ks)
{
    reply_map(r, 2);
    if (ks->bs_type == CMD_BS_INDEX) {
        reply_kv_str(r, "type", "index");
        reply_bulk_cstr(r, "spec");
        reply_map(r, 1);
        reply_kv_int(r, "index", ks->bs_index);
    } else if (ks->bs_type == CMD_BS_KEYWORD) {
        reply_kv_str(r, "type", "keyword");
        reply_bulk_cstr(r, "spec");
        reply_map(r, 2);
        reply_kv_str(r, "keyword", ks->bs_keyword);
        reply_kv_int(r, "startfrom", ks->bs_startfrom);
    } else {
        reply_kv_str(r, "type", "unknown");
        reply_bulk_cstr(r, "spec");
        reply_map(r, 0);
    }
}

static void reply_find_keys(struct reply *r, const struct cmd_keyspec *ks)
{
    reply_map(r, 2);
    if (ks->fk_type == CMD_FK_RANGE) {
        reply_kv_str(r, "type", "range");
        reply_bulk_cstr(r, "spec");
        reply_map(r, 3);
        reply_kv_int(r, "lastkey", ks->fk_lastkey);
        reply_kv_int(r, "keystep", ks->fk_step);
        reply_kv_int(r, "limit", ks->fk_limit);
    } else if (ks->fk_type == CMD_FK_KEYNUM) {
        reply_kv_str(r, "type", "keynum");
        reply_bulk_cstr(r, "spec");
        reply_map(r, 3);
        reply_kv_int(r, "keynumidx", ks->fk_keynumidx);
        reply_kv_int(r, "firstkey", ks->fk_firstkey);
        reply_kv_int(r, "keystep", ks->fk_keystep);
    } else {
        reply_kv_str(r, "type", "unknown");
        reply_bulk_cstr(r, "spec");
        reply_map(r, 0);
    }
}

static void reply_keyspecs(struct reply *r, const struct cmd_spec *c)
{
    reply_set(r, c->nkeyspecs);
    for (int i = 0; i < c->nkeyspecs; i++) {
        const struct cmd_keyspec *ks = &c->keyspecs[i];
        reply_map(r, ks->notes ? 4 : 3);
        if (ks->notes) {
            reply_kv_str(r, "notes", ks->notes);
        }
        reply_bulk_cstr(r, "flags");
        reply_flag_set(r, ks->flagbits, key_flag_names, SH_ARRAY_LEN(key_flag_names));
        reply_bulk_cstr(r, "begin_search");
        reply_begin_search(r, ks);
        reply_bulk_cstr(r, "find_keys");
        reply_find_keys(r, ks);
    }
}

/* addReplyCommandInfo: the 10-element array of one command. */
static void reply_info(struct reply *r, const struct cmd_spec *c)
{
    reply_array(r, 10);
    reply_bulk_cstr(r, c->fullname);
    reply_int(r, c->arity);
    reply_flag_set(r, c->flags, command_flag_names, SH_ARRAY_LEN(command_flag_names));
    reply_int(r, c->first_key);
    reply_int(r, c->last_key);
    reply_int(r, c->key_step);
    reply_acl_set(r, c->acl);
    reply_set(r, c->ntips);
    for (int i = 0; i < c->ntips; i++) {
        reply_bulk_cstr(r, c->tips[i]);
    }
    reply_keyspecs(r, c);
    int nsub = visible_subcmds(c);
    if (nsub == 0) {
        reply_set(r, 0);
        return;
    }
    reply_array(r, nsub);
    for (int i = 0; i < c->nsubcmds; i++) {
        if (cmdtab_is_bound(&c->subcmds[i])) {
            reply_info(r, &c->subcmds[i]);
        }
    }
}

/* addReplyCommandArgList */
static void reply_args(struct reply *r, const struct cmd_arg *args, int n)
{
    reply_array(r, n);
    for (int i = 0; i < n; i++) {
        const struct cmd_arg *a = &args[i];
        bool nested = !strcmp(a->type, "oneof") || !strcmp(a->type, "block");
        int nflags = a->optional + a->multiple + a->multiple_token;
        reply_map(r, 2 + (a->key_spec_index >= 0) + !!a->token + !!a->since +
                             !!a->deprecated_since + (nflags > 0) + nested);
        reply_kv_str(r, "name", a->name);
        reply_kv_str(r, "type", a->type);
        if (a->key_spec_index >= 0) {
            reply_kv_int(r, "key_spec_index", a->key_spec_index);
        }
        if (a->token) {
            reply_kv_str(r, "token", a->token);
        }
        if (a->since) {
            reply_kv_str(r, "since", a->since);
        }
        if (a->deprecated_since) {
            reply_kv_str(r, "deprecated_since", a->deprecated_since);
        }
        if (nflags) {
            reply_bulk_cstr(r, "flags");
            reply_set(r, nflags);
            if (a->optional) {
                reply_status(r, "optional");
            }
            if (a->multiple) {
                reply_status(r, "multiple");
            }
            if (a->multiple_token) {
                reply_status(r, "multiple_token");
            }
        }
        if (nested) {
            reply_bulk_cstr(r, "arguments");
            reply_args(r, a->args, a->nargs);
        }
    }
}

static int count_strs(const char *const *v)
{
    int n = 0;
    while (v[n]) {
        n++;
    }
    return n;
}

/* addReplyCommandDocs: the map of one command's documentation. */
static void reply_docs(struct reply *r, const struct cmd_spec *c)
{
    int nsub = visible_subcmds(c);
    int ndocflags = count_strs(c->doc_flags);
    reply_map(r, 1 + !!c->summary + !!c->since + !!c->complexity + (ndocflags > 0) +
                         !!c->deprecated_since + !!c->replaced_by + (c->nhistory > 0) +
                         (c->nargs > 0) + (nsub > 0));
    if (c->summary) {
        reply_kv_str(r, "summary", c->summary);
    }
    if (c->since) {
        reply_kv_str(r, "since", c->since);
    }
    reply_kv_str(r, "group", c->group);
    if (c->complexity) {
        reply_kv_str(r, "complexity", c->complexity);
    }
    if (ndocflags) {
        reply_bulk_cstr(r, "doc_flags");
        reply_set(r, ndocflags);
        for (int i = 0; i < ndocflags; i++) {
            reply_status(r, c->doc_flags[i]);
        }
    }
    if (c->deprecated_since) {
        reply_kv_str(r, "deprecated_since", c->deprecated_since);
    }
    if (c->replaced_by) {
        reply_kv_str(r, "replaced_by", c->replaced_by);
    }
    if (c->nhistory) {
        reply_bulk_cstr(r, "history");
        reply_set(r, c->nhistory);
        for (int i = 0; i < c->nhistory; i++) {
            reply_array(r, 2);
            reply_bulk_cstr(r, c->history[i][0]);
            reply_bulk_cstr(r, c->history[i][1]);
        }
    }
    if (c->nargs) {
        reply_bulk_cstr(r, "arguments");
        reply_args(r, c->args, c->nargs);
    }
    if (nsub) {
        reply_bulk_cstr(r, "subcommands");
        reply_map(r, nsub);
        for (int i = 0; i < c->nsubcmds; i++) {
            if (cmdtab_is_bound(&c->subcmds[i])) {
                reply_bulk_cstr(r, c->subcmds[i].fullname);
                reply_docs(r, &c->subcmds[i]);
            }
        }
    }
}

static void reply_all_info(struct reply *r)
{
    reply_array(r, visible_commands());
    for (int i = 0; i < cmdtab_ncommands; i++) {
        if (cmdtab_is_bound(&cmdtab_commands[i])) {
            reply_info(r, &cmdtab_commands[i]);
        }
    }
}

void cmd_command(struct cmd_ctx *ctx)
{
    if (ctx->argc > 1) {
        const struct sh_slice *a = &ctx->argv[1];
        reply_errorf(&ctx->r, "ERR unknown subcommand '%.*s'. Try COMMAND HELP.",
                     (int)(a->len > 128 ? 128 : a->len), a->ptr);
        return;
    }
    reply_all_info(&ctx->r);
}

void cmd_command_count(struct cmd_ctx *ctx)
{
    reply_int(&ctx->r, visible_commands());
}

void cmd_command_info(struct cmd_ctx *ctx)
{
    if (ctx->argc <= 2) {
        reply_all_info(&ctx->r);
        return;
    }
    reply_array(&ctx->r, ctx->argc - 2);
    for (int i = 2; i < ctx->argc; i++) {
        const struct cmd_spec *c = cmdtab_lookup_fullname(ctx->argv[i].ptr, ctx->argv[i].len);
        if (c) {
            reply_info(&ctx->r, c);
        } else {
            reply_null(&ctx->r);
        }
    }
}

void cmd_command_docs(struct cmd_ctx *ctx)
{
    struct reply *r = &ctx->r;
    if (ctx->argc <= 2) {
        reply_map(r, visible_commands());
        for (int i = 0; i < cmdtab_ncommands; i++) {
            const struct cmd_spec *c = &cmdtab_commands[i];
            if (cmdtab_is_bound(c)) {
                reply_bulk_cstr(r, c->fullname);
                reply_docs(r, c);
            }
        }
        return;
    }
    int found = 0;
    for (int i = 2; i < ctx->argc; i++) {
        found += cmdtab_lookup_fullname(ctx->argv[i].ptr, ctx->argv[i].len) != NULL;
    }
    reply_map(r, found);
    for (int i = 2; i < ctx->argc; i++) {
        const struct cmd_spec *c = cmdtab_lookup_fullname(ctx->argv[i].ptr, ctx->argv[i].len);
        if (c) {
            reply_bulk_cstr(r, c->fullname);
            reply_docs(r, c);
        }
    }
}

/* ---- COMMAND LIST ---- */

enum list_filter { LIST_ALL, LIST_MODULE, LIST_ACLCAT, LIST_PATTERN };

struct list_opts {
    enum list_filter type;
    struct sh_slice arg;
    uint64_t aclcat; /* LIST_ACLCAT: 0 for an unknown category, which lists nothing */
};

static uint64_t acl_category(struct sh_slice name)
{
    for (int i = 0; i < cmdtab_acl_count; i++) {
        if (sh_slice_eq_nocase(name, cmdtab_acl_names[i])) {
            return UINT64_C(1) << i;
        }
    }
    return 0;
}

static bool list_keeps(const struct list_opts *o, const struct cmd_spec *c)
{
    switch (o->type) {
    case LIST_ALL:
        return true;
    case LIST_MODULE:
        return false; /* no modules */
    case LIST_ACLCAT:
        return (c->acl & o->aclcat) != 0;
    case LIST_PATTERN:
        return glob_match(o->arg.ptr, o->arg.len, c->fullname, strlen(c->fullname), true);
    }
    return false;
}

/* Counts (r NULL) or writes the names that pass, each container followed by
 * its subcommands, whether the container itself passes or not. */
static int list_walk(struct reply *r, const struct list_opts *o)
{
    int n = 0;
    for (int i = 0; i < cmdtab_ncommands; i++) {
        const struct cmd_spec *c = &cmdtab_commands[i];
        if (!cmdtab_is_bound(c)) {
            continue;
        }
        for (int j = -1; j < c->nsubcmds; j++) {
            const struct cmd_spec *s = j < 0 ? c : &c->subcmds[j];
            if (cmdtab_is_bound(s) && list_keeps(o, s)) {
                n++;
                if (r) {
                    reply_bulk_cstr(r, s->fullname);
                }
            }
        }
    }
    return n;
}

void cmd_command_list(struct cmd_ctx *ctx)
{
    struct list_opts o = { .type = LIST_ALL };
    for (int i = 2; i < ctx->argc; i++) {
        /* FILTERBY takes exactly the last two arguments, as in Redis. */
        if (!sh_slice_eq_nocase(ctx->argv[i], "filterby") || ctx->argc - 1 - i != 2) {
            reply_err_syntax(&ctx->r);
            return;
        }
        struct sh_slice type = ctx->argv[i + 1];
        if (sh_slice_eq_nocase(type, "module")) {
            o.type = LIST_MODULE;
        } else if (sh_slice_eq_nocase(type, "aclcat")) {
            o.type = LIST_ACLCAT;
        } else if (sh_slice_eq_nocase(type, "pattern")) {
            o.type = LIST_PATTERN;
        } else {
            reply_err_syntax(&ctx->r);
            return;
        }
        o.arg = ctx->argv[i + 2];
        o.aclcat = acl_category(o.arg);
        i += 2;
    }
    reply_array(&ctx->r, list_walk(NULL, &o));
    list_walk(&ctx->r, &o);
}

/* ---- COMMAND GETKEYS ---- */

/* lookupCommand (not strict): a container with arguments after it means its
 * subcommand. */
static const struct cmd_spec *lookup_argv(const struct sh_slice *argv, int argc)
{
    const struct cmd_spec *c = cmdtab_lookup(argv[0].ptr, argv[0].len);
    if (!c || argc == 1 || c->nsubcmds == 0) {
        return c;
    }
    return cmdtab_lookup_sub(c, argv[1].ptr, argv[1].len);
}

static void reply_keys(struct reply *r, const struct sh_slice *argv, const int *pos, int n)
{
    reply_array(r, n);
    for (int i = 0; i < n; i++) {
        reply_bulk(r, argv[pos[i]].ptr, argv[pos[i]].len);
    }
}

/* Redis's bitfieldGetKeys: read-only unless a SET or INCRBY (or a syntax
 * error) comes first. */
static bool bitfield_is_readonly(const struct sh_slice *argv, int argc)
{
    for (int i = 2; i < argc; i++) {
        int remargs = argc - i - 1;
        if (sh_slice_eq_nocase(argv[i], "get") && remargs >= 2) {
            i += 2;
        } else if (sh_slice_eq_nocase(argv[i], "overflow") && remargs >= 1) {
            i += 1;
        } else {
            return false;
        }
    }
    return true;
}

/* Where is numkeys for the commands whose getkeys proc is genericGetKeys? */
static int numkeys_index(const struct cmd_spec *c)
{
    switch (c->getkeys) {
    case CMD_GETKEYS_NUMKEYS1:
        return 1;
    case CMD_GETKEYS_NUMKEYS2:
    case CMD_GETKEYS_NUMKEYS_STORE:
        return 2;
    default:
        return 0;
    }
}

/* The flags Redis 7.0 reports for the key at argv[pos]: cmdtab gives the
 * key spec's flags, or the union of the specs where Redis falls back to a
 * getkeys proc; the procs set flags of their own, written here. */
static uint32_t key_flags(const struct cmd_spec *c, const struct sh_slice *argv, int argc, int pos,
                          uint32_t spec_flags)
{
    long long num;
    int ni;

    switch (c->getkeys) {
    case CMD_GETKEYS_SORT:
    case CMD_GETKEYS_GEORADIUS:
        return pos == 1 ? CMD_KEY_RO | CMD_KEY_ACCESS : CMD_KEY_OW | CMD_KEY_UPDATE;
    case CMD_GETKEYS_MIGRATE:
        return CMD_KEY_RW | CMD_KEY_ACCESS | CMD_KEY_DELETE;
    case CMD_GETKEYS_KEY1:
        if (!strcmp(c->fullname, "bitfield")) {
            return bitfield_is_readonly(argv, argc) ? CMD_KEY_RO | CMD_KEY_ACCESS
                                                    : CMD_KEY_RW | CMD_KEY_ACCESS | CMD_KEY_UPDATE;
        }
        return spec_flags;
    default:
        /* the key specs fail on a numkeys string2ll rejects, and
         * genericGetKeys (atoi) gives its keys no flags */
        ni = numkeys_index(c);
        if (ni && ni < argc && !util_str2ll(argv[ni].ptr, argv[ni].len, &num)) {
            return 0;
        }
        return spec_flags;
    }
}

static void reply_keys_flags(struct reply *r, const struct cmd_spec *c, const struct sh_slice *argv,
                             int argc, const int *pos, const uint32_t *kflags, int n)
{
    reply_array(r, n);
    for (int i = 0; i < n; i++) {
        uint32_t f = key_flags(c, argv, argc, pos[i], kflags[i]);
        reply_array(r, 2);
        reply_bulk(r, argv[pos[i]].ptr, argv[pos[i]].len);
        reply_flag_set(r, f, key_flag_names, SH_ARRAY_LEN(key_flag_names));
    }
}

/* getKeysSubcommandImpl: the keys of argv[2..], with their flags when
 * with_flags. */
static void getkeys_impl(struct cmd_ctx *ctx, bool with_flags)
{
    struct reply *r = &ctx->r;
    const struct sh_slice *argv = ctx->argv + 2;
    int argc = ctx->argc - 2;
    int stack_pos[64];
    uint32_t stack_flags[64];
    int *pos = stack_pos;
    uint32_t *kflags = stack_flags;

    if (argc < 2) { /* the dispatcher checks arity -4 already */
        reply_err_arity(r, with_flags ? "command|getkeysandflags" : "command|getkeys");
        return;
    }
    const struct cmd_spec *c = lookup_argv(argv, argc);
    if (!c) {
        reply_error(r, "ERR Invalid command specified");
        return;
    }
    if (!cmdtab_has_keys(c)) {
        reply_error(r, "ERR The command has no key arguments");
        return;
    }
    if ((c->arity > 0 && c->arity != argc) || argc < -c->arity) {
        reply_error(r, "ERR Invalid number of arguments specified for command");
        return;
    }
    int n = cmdtab_get_keys_flags(c, argv, argc, 0, pos, kflags, (int)SH_ARRAY_LEN(stack_pos));
    if (n == 0) {
        if (c->flags & CMD_NO_MANDATORY_KEYS) {
            reply_array(r, 0);
        } else {
            reply_error(r, "ERR Invalid arguments specified for command");
        }
        return;
    }
    if (n > (int)SH_ARRAY_LEN(stack_pos)) {
        /* More keys than the stack holds: sized by the client, so it may fail. */
        pos = sh_try_malloc((size_t)n * sizeof(*pos));
        kflags = sh_try_malloc((size_t)n * sizeof(*kflags));
        if (!pos || !kflags) {
            reply_error(r, "OOM command not allowed when out of memory");
            goto out_free;
        }
        int again = cmdtab_get_keys_flags(c, argv, argc, 0, pos, kflags, n);
        SH_ASSERT(again == n);
    }
    if (with_flags) {
        reply_keys_flags(r, c, argv, argc, pos, kflags, n);
    } else {
        reply_keys(r, argv, pos, n);
    }
out_free:
    if (pos != stack_pos) {
        sh_free(pos);
        sh_free(kflags);
    }
}

void cmd_command_getkeys(struct cmd_ctx *ctx)
{
    getkeys_impl(ctx, false);
}

static void cmd_command_getkeysandflags(struct cmd_ctx *ctx)
{
    getkeys_impl(ctx, true);
}

static void cmd_command_help(struct cmd_ctx *ctx)
{
    /* clang-format off: one literal per line */
    static const char *const lines[] = {
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.",
        "HELP",
        "    Prints this help.",
    };
    /* clang-format on */

    reply_array(&ctx->r, (long long)SH_ARRAY_LEN(lines));
    for (size_t i = 0; i < SH_ARRAY_LEN(lines); i++) {
        reply_status(&ctx->r, lines[i]);
    }
}

/* The COMMAND subcommands bound here (the others: cmd_server.c). */
void cmd_command_bind(void)
{
    cmd_must_bind("command|getkeysandflags", cmd_command_getkeysandflags, CMD_ROUTE_CONN, NULL);
    cmd_must_bind("command|help", cmd_command_help, CMD_ROUTE_CONN, NULL);
}
