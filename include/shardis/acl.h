/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * acl.h: users and their permissions, as Redis 7.0's ACL has them: on/off,
 * passwords (kept as SHA-256 digests), allowed commands (one bit per command
 * and subcommand of the table, set and cleared by +cmd -cmd +@category
 * -@category rules), key patterns (~pat, %R~pat, %W~pat, allkeys) and channel
 * patterns (&pat, allchannels). Selectors are not supported.
 *
 * Each shard holds its own copy of every user (struct acl): a connection
 * points at its user on its own core, and ACL SETUSER/DELUSER/LOAD fan out so
 * that every core applies the same change to its copy. A change is validated
 * whole before it is applied, so every copy takes it or none does.
 *
 * Threading: one struct acl belongs to one shard; nothing is shared.
 */
#pragma once

#include "shardis/sh.h"

struct acl;
struct acl_user;
struct cmd_spec;
struct rbuf;

/* Called with each user (acl_each, acl_replace). */
typedef void acl_user_fn(void *arg, const struct acl_user *u);

/* acl_check results (Redis's ACL_DENIED_*) */
enum acl_verdict {
    ACL_OK = 0,
    ACL_DENIED_CMD,
    ACL_DENIED_KEY,
    ACL_DENIED_CHANNEL,
};

/* A table with only the user "default" (on, nopass, all commands, keys and
 * channels), then requirepass applied to it when not empty. */
struct acl *acl_create(const char *requirepass);
/* A deep copy (each shard copies the table main loaded at start-up). */
struct acl *acl_copy(const struct acl *src);
/* acl_destroy(NULL) is a no-op. */
void acl_destroy(struct acl *a);

/* The user "default" (never NULL: it cannot be deleted). */
struct acl_user *acl_default(struct acl *a);
/* The user with that exact name, or NULL. */
struct acl_user *acl_find(struct acl *a, const char *name, size_t len);
/* The name of a user, NUL-terminated, borrowed. */
const char *acl_user_name(const struct acl_user *u);
/* Does a new connection start authenticated as this user (on and nopass)? */
bool acl_user_is_open(const struct acl_user *u);
/* Does the user need no password (protected mode looks at the default)? */
bool acl_user_has_nopass(const struct acl_user *u);
/* Is the user "on" and is pass one of its passwords (or nopass)? Compares
 * digests in constant time. */
bool acl_user_auth(const struct acl_user *u, const char *pass, size_t len);
/* May u run cmd with these arguments? Checks the command bit, then the keys
 * (by the command's key specs and their read/write flags), then pub/sub
 * channels. O(1) for an unrestricted user, else O(keys x patterns). */
enum acl_verdict acl_check(const struct acl_user *u, const struct cmd_spec *cmd, int argc,
                           const struct sh_slice *argv);
/* acl_check that also says which argument was refused (*bad: the key or
 * channel's index in argv, 0 for the command itself). */
enum acl_verdict acl_check_at(const struct acl_user *u, const struct cmd_spec *cmd, int argc,
                              const struct sh_slice *argv, int *bad);
/* The NOPERM error text (no leading '-') of a verdict for cmd. */
void acl_denied_message(enum acl_verdict v, const struct cmd_spec *cmd, char *buf, size_t len);

/* ACL SETUSER: creates the user when absent, then applies every rule, or
 * none when one fails (err then holds Redis's error text, without "ERR ").
 * Returns 0 or -EINVAL. */
SH_MUST_CHECK int acl_setuser(struct acl *a, const char *name, size_t len, int nrules,
                              const struct sh_slice *rules, char *err, size_t errlen);
/* Removes a user (not "default"); u is freed: the caller first moves every
 * connection of u elsewhere (closes them). */
void acl_delete(struct acl *a, struct acl_user *u);
/* Applies requirepass to the default user: resetpass, then >pass, or nopass
 * when pass is empty. */
void acl_set_requirepass(struct acl *a, const char *pass);

/* The user's ACL LIST line ("user alice on #... ~k* resetchannels -@all
 * +get") appended to out. */
void acl_describe(const struct acl_user *u, struct rbuf *out);
/* ACL GETUSER's fields: each call appends one field's text to out:
 * "commands", "keys", "channels". */
void acl_describe_commands(const struct acl_user *u, struct rbuf *out);
void acl_describe_keys(const struct acl_user *u, struct rbuf *out);
void acl_describe_channels(const struct acl_user *u, struct rbuf *out);
/* Flags as GETUSER lists them (on|off, nopass, sanitize flags): fills up to
 * max names, returns how many. */
int acl_user_flags(const struct acl_user *u, const char **names, int max);
/* Password digests: the i-th as 64 hex digits (NULL past the end). */
bool acl_user_password(const struct acl_user *u, int i, char hex[65]);

/* Users in name order: calls fn for each. */
void acl_each(const struct acl *a, acl_user_fn *fn, void *arg);
size_t acl_count(const struct acl *a);

/* Reads an aclfile (Redis's format: "user <name> <rules...>" lines, blank
 * lines ignored) into a new table, with the default user as new unless the
 * file says otherwise. Returns it, or NULL with the reason (and line
 * number) in err. Blocks on file I/O (administrator commands and start-up
 * only). */
struct acl *acl_load_file(const char *path, char *err, size_t errlen);
/* Makes a's users those of fresh (consumed): users absent from fresh are
 * passed to gone (the caller closes their connections) and freed; the
 * others keep their address and take fresh's permissions. */
void acl_replace(struct acl *a, struct acl *fresh, acl_user_fn *gone, void *arg);
/* Writes every user as an aclfile (to a temporary file renamed over path).
 * Returns 0 or -errno. */
SH_MUST_CHECK int acl_save_file(const struct acl *a, const char *path);
