/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * acl.c: Redis 7.0's users and permissions (without selectors).
 *
 * A user is a name, flags, SHA-256 digests of its passwords, a bitmap with
 * one bit per command id of the command table (subcommands have their own
 * ids), and lists of key and channel patterns:
 *
 *   struct acl --users (sorted by name)--> acl_user -> acl_user -> ...
 *   acl_user: flags | pass[npass][32] | bits[words] | keys[] | chans[]
 *
 * Rules apply as Redis applies them: +cmd sets the command's bit and those
 * of all its subcommands, +@cat sets the bits of every command and
 * subcommand in the category, +@all also marks the user as allowed "future"
 * commands (which decides whether its description starts with +@all).
 *
 * A rule list is applied to a copy of the user; only when every rule is
 * valid does the copy's content move into the user, whose address never
 * changes while it exists (connections point at it).
 *
 * The description of the commands (ACL LIST, GETUSER) is rebuilt from the
 * bitmap with Redis's method: start from +@all or -@all, add the category
 * that best matches the remaining differences while one matches more than it
 * misses, then emit single commands for whatever still differs. Single
 * commands come in table order (Redis's follow its hash table's order).
 *
 * Threading: each shard owns its struct acl; nothing here is shared.
 */
#include "shardis/acl.h"

#include "shardis/cmdtab.h"
#include "shardis/glob.h"
#include "shardis/reply.h"
#include "shardis/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    U_ON = 1u << 0,
    U_NOPASS = 1u << 1,
    U_SANITIZE = 1u << 2,
    U_SKIP_SANITIZE = 1u << 3,
    U_ALLKEYS = 1u << 4,
    U_ALLCHANNELS = 1u << 5,
    U_ALLCMDS = 1u << 6,     /* +@all: future commands too */
    U_UNRESTRICTED = 1u << 7 /* derived: every bit, key and channel */
};

enum { PERM_R = 1, PERM_W = 2 };

struct acl_pat {
    char *pat;
    size_t len;
    int perm; /* PERM_R | PERM_W (keys); channels use PERM_R|PERM_W */
};

struct acl_user {
    struct acl_user *next;
    char *name;
    uint32_t flags;
    int npass;
    uint8_t (*pass)[SHA256_LEN];
    uint64_t *bits;
    struct acl_pat *keys;
    int nkeys;
    struct acl_pat *chans;
    int nchans;
};

struct acl {
    struct acl_user *users;
    size_t n;
};

static size_t nwords(void)
{
    return ((size_t)cmdtab_nids() + 63) / 64;
}

static bool bit_get(const uint64_t *b, int id)
{
    return (b[id / 64] >> (id % 64)) & 1;
}

static void bit_put(uint64_t *b, int id, bool on)
{
    if (on) {
        b[id / 64] |= 1ull << (id % 64);
    } else {
        b[id / 64] &= ~(1ull << (id % 64));
    }
}

/* ---- users ---- */

static struct acl_user *user_new(const char *name, size_t len)
{
    struct acl_user *u = sh_calloc(1, sizeof(*u));

    u->name = sh_malloc(len + 1);
    memcpy(u->name, name, len);
    u->name[len] = '\0';
    u->bits = sh_calloc(nwords(), sizeof(uint64_t));
    return u;
}

static void pats_free(struct acl_pat *p, int n)
{
    for (int i = 0; i < n; i++) {
        sh_free(p[i].pat);
    }
    sh_free(p);
}

/* Frees what the user holds besides its name and link. */
static void user_clear(struct acl_user *u)
{
    sh_free(u->pass);
    sh_free(u->bits);
    pats_free(u->keys, u->nkeys);
    pats_free(u->chans, u->nchans);
    u->pass = NULL;
    u->bits = NULL;
    u->keys = u->chans = NULL;
    u->npass = u->nkeys = u->nchans = 0;
}

static void user_free(struct acl_user *u)
{
    user_clear(u);
    sh_free(u->name);
    sh_free(u);
}

static struct acl_pat *pats_copy(const struct acl_pat *p, int n)
{
    struct acl_pat *q = n ? sh_malloc(sizeof(*q) * (size_t)n) : NULL;

    for (int i = 0; i < n; i++) {
        q[i] = p[i];
        q[i].pat = sh_malloc(p[i].len + 1);
        memcpy(q[i].pat, p[i].pat, p[i].len + 1);
    }
    return q;
}

/* Deep copy of src's permissions into dst (whose own are cleared first). */
static void user_copy(struct acl_user *dst, const struct acl_user *src)
{
    user_clear(dst);
    dst->flags = src->flags;
    dst->npass = src->npass;
    if (src->npass) {
        dst->pass = sh_malloc(SHA256_LEN * (size_t)src->npass);
        memcpy(dst->pass, src->pass, SHA256_LEN * (size_t)src->npass);
    }
    dst->bits = sh_malloc(nwords() * sizeof(uint64_t));
    memcpy(dst->bits, src->bits, nwords() * sizeof(uint64_t));
    dst->keys = pats_copy(src->keys, src->nkeys);
    dst->nkeys = src->nkeys;
    dst->chans = pats_copy(src->chans, src->nchans);
    dst->nchans = src->nchans;
}

/* Moves src's permissions into dst; src is left empty. */
static void user_move(struct acl_user *dst, struct acl_user *src)
{
    user_clear(dst);
    dst->flags = src->flags;
    dst->pass = src->pass;
    dst->npass = src->npass;
    dst->bits = src->bits;
    dst->keys = src->keys;
    dst->nkeys = src->nkeys;
    dst->chans = src->chans;
    dst->nchans = src->nchans;
    src->pass = NULL;
    src->bits = NULL;
    src->keys = src->chans = NULL;
    src->npass = src->nkeys = src->nchans = 0;
}

static void update_unrestricted(struct acl_user *u)
{
    bool all = (u->flags & U_ALLKEYS) && (u->flags & U_ALLCHANNELS);

    for (int id = 1; all && id < cmdtab_nids(); id++) {
        all = bit_get(u->bits, id);
    }
    u->flags = all ? u->flags | U_UNRESTRICTED : u->flags & ~U_UNRESTRICTED;
}

static void acl_insert(struct acl *a, struct acl_user *u)
{
    struct acl_user **pp = &a->users;

    while (*pp && strcmp((*pp)->name, u->name) < 0) {
        pp = &(*pp)->next;
    }
    u->next = *pp;
    *pp = u;
    a->n++;
}

struct acl_user *acl_find(struct acl *a, const char *name, size_t len)
{
    for (struct acl_user *u = a->users; u; u = u->next) {
        if (strlen(u->name) == len && !memcmp(u->name, name, len)) {
            return u;
        }
    }
    return NULL;
}

struct acl_user *acl_default(struct acl *a)
{
    struct acl_user *u = acl_find(a, "default", 7);

    SH_ASSERT(u != NULL);
    return u;
}

static struct acl_user *default_user(void)
{
    struct acl_user *u = user_new("default", 7);
    char err[128];
    static const struct sh_slice rules[] = {
        { "on", 2 }, { "nopass", 6 }, { "~*", 2 }, { "&*", 2 }, { "+@all", 5 }
    };
    struct acl tmp = { 0 };

    acl_insert(&tmp, u);
    if (acl_setuser(&tmp, "default", 7, (int)SH_ARRAY_LEN(rules), rules, err, sizeof(err)) != 0) {
        sh_panic("default user: %s", err);
    }
    return u;
}

struct acl *acl_create(const char *requirepass)
{
    struct acl *a = sh_calloc(1, sizeof(*a));

    acl_insert(a, default_user());
    acl_set_requirepass(a, requirepass);
    return a;
}

struct acl *acl_copy(const struct acl *src)
{
    struct acl *a = sh_calloc(1, sizeof(*a));

    for (const struct acl_user *s = src->users; s; s = s->next) {
        struct acl_user *u = user_new(s->name, strlen(s->name));

        user_copy(u, s);
        acl_insert(a, u);
    }
    return a;
}

void acl_destroy(struct acl *a)
{
    if (!a) {
        return;
    }
    while (a->users) {
        struct acl_user *u = a->users;

        a->users = u->next;
        user_free(u);
    }
    sh_free(a);
}

void acl_delete(struct acl *a, struct acl_user *u)
{
    struct acl_user **pp = &a->users;

    SH_ASSERT(strcmp(u->name, "default") != 0);
    while (*pp != u) {
        pp = &(*pp)->next;
    }
    *pp = u->next;
    a->n--;
    user_free(u);
}

const char *acl_user_name(const struct acl_user *u)
{
    return u->name;
}

bool acl_user_is_open(const struct acl_user *u)
{
    return (u->flags & U_ON) && (u->flags & U_NOPASS);
}

bool acl_user_has_nopass(const struct acl_user *u)
{
    return u->flags & U_NOPASS;
}

bool acl_user_auth(const struct acl_user *u, const char *pass, size_t len)
{
    uint8_t d[SHA256_LEN];
    unsigned match = 0;

    if (!(u->flags & U_ON)) {
        return false;
    }
    if (u->flags & U_NOPASS) {
        return true;
    }
    sha256(pass, len, d);
    /* every stored digest is compared in full: the time does not say which
     * one, or how much of one, matched */
    for (int i = 0; i < u->npass; i++) {
        unsigned diff = 0;

        for (int j = 0; j < SHA256_LEN; j++) {
            diff |= (unsigned)(u->pass[i][j] ^ d[j]);
        }
        match |= diff == 0;
    }
    return match != 0;
}

size_t acl_count(const struct acl *a)
{
    return a->n;
}

void acl_each(const struct acl *a, acl_user_fn *fn, void *arg)
{
    for (const struct acl_user *u = a->users; u; u = u->next) {
        fn(arg, u);
    }
}

/* ---- rules ---- */

/* The table command with that full name ("get", "config|get"), bound or
 * not, case-insensitive; NULL when Redis has no such command. */
static const struct cmd_spec *find_command(const char *name, size_t len)
{
    for (int id = 1; id < cmdtab_nids(); id++) {
        const struct cmd_spec *c = cmdtab_by_id(id);

        if (c && strlen(c->fullname) == len && !strncasecmp(c->fullname, name, len)) {
            return c;
        }
    }
    return NULL;
}

static int find_category(const char *name, size_t len)
{
    for (int i = 0; i < cmdtab_acl_count; i++) {
        if (strlen(cmdtab_acl_names[i]) == len && !strncasecmp(cmdtab_acl_names[i], name, len)) {
            return i;
        }
    }
    return -1;
}

/* Redis's ACLChangeSelectorPerm: the command and all its subcommands. */
static void change_perm(uint64_t *bits, const struct cmd_spec *c, bool on)
{
    bit_put(bits, c->id, on);
    for (int i = 0; i < c->nsubcmds; i++) {
        change_perm(bits, &c->subcmds[i], on);
    }
}

/* Redis's ACLSetSelectorCommandBitsForCategory. */
static void change_category(uint64_t *bits, int cat, bool on)
{
    for (int id = 1; id < cmdtab_nids(); id++) {
        const struct cmd_spec *c = cmdtab_by_id(id);

        if (c && (c->acl >> cat) & 1) {
            change_perm(bits, c, on);
        }
    }
}

static void change_all(struct acl_user *u, bool on)
{
    memset(u->bits, on ? 0xff : 0, nwords() * sizeof(uint64_t));
    u->flags = on ? u->flags | U_ALLCMDS : u->flags & ~U_ALLCMDS;
}

/* +cmd -cmd +@cat -@cat; false when the name is unknown. */
static bool rule_command(struct acl_user *u, const char *r, size_t len)
{
    bool on = r[0] == '+';

    if (len > 1 && r[1] == '@') {
        int cat;

        if (len == 5 && !strncasecmp(r + 2, "all", 3)) {
            change_all(u, on);
            return true;
        }
        cat = find_category(r + 2, len - 2);
        if (cat < 0) {
            return false;
        }
        change_category(u->bits, cat, on);
        return true;
    }
    const struct cmd_spec *c = find_command(r + 1, len - 1);

    if (!c) {
        return false;
    }
    change_perm(u->bits, c, on);
    return true;
}

static bool is_hex_digest(const char *p, size_t len)
{
    if (len != 2 * SHA256_LEN) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) {
            return false;
        }
    }
    return true;
}

static void hex_to_digest(const char *p, uint8_t d[SHA256_LEN])
{
    for (int i = 0; i < SHA256_LEN; i++) {
        int hi = p[2 * i] <= '9' ? p[2 * i] - '0' : p[2 * i] - 'a' + 10;
        int lo = p[2 * i + 1] <= '9' ? p[2 * i + 1] - '0' : p[2 * i + 1] - 'a' + 10;

        d[i] = (uint8_t)(hi << 4 | lo);
    }
}

static int find_pass(const struct acl_user *u, const uint8_t d[SHA256_LEN])
{
    for (int i = 0; i < u->npass; i++) {
        if (!memcmp(u->pass[i], d, SHA256_LEN)) {
            return i;
        }
    }
    return -1;
}

static void pass_add(struct acl_user *u, const uint8_t d[SHA256_LEN])
{
    u->flags &= ~U_NOPASS;
    if (find_pass(u, d) >= 0) {
        return;
    }
    u->pass = sh_realloc(u->pass, SHA256_LEN * (size_t)(u->npass + 1));
    memcpy(u->pass[u->npass++], d, SHA256_LEN);
}

/* false when the digest is not one of the user's passwords */
static bool pass_del(struct acl_user *u, const uint8_t d[SHA256_LEN])
{
    int i = find_pass(u, d);

    u->flags &= ~U_NOPASS;
    if (i < 0) {
        return false;
    }
    memmove(u->pass[i], u->pass[i + 1], SHA256_LEN * (size_t)(u->npass - i - 1));
    u->npass--;
    return true;
}

static void pats_reset(struct acl_pat **p, int *n)
{
    pats_free(*p, *n);
    *p = NULL;
    *n = 0;
}

static void pat_add(struct acl_pat **p, int *n, const char *pat, size_t len, int perm)
{
    for (int i = 0; i < *n; i++) {
        if ((*p)[i].len == len && !memcmp((*p)[i].pat, pat, len)) {
            (*p)[i].perm |= perm;
            return;
        }
    }
    *p = sh_realloc(*p, sizeof(**p) * (size_t)(*n + 1));
    (*p)[*n].pat = sh_malloc(len + 1);
    memcpy((*p)[*n].pat, pat, len);
    (*p)[*n].pat[len] = '\0';
    (*p)[*n].len = len;
    (*p)[*n].perm = perm;
    (*n)++;
}

static const char err_syntax[] = "Syntax error";
static const char err_keys_after_all[] =
        "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does "
        "not have any effect. Try 'resetkeys' to start with an empty list of patterns";
static const char err_chans_after_all[] =
        "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and "
        "does not have any effect. Try 'resetchannels' to start with an empty list of channels";

/* ~pat %R~pat %W~pat %RW~pat; NULL or the error. */
static const char *rule_keys(struct acl_user *u, const char *r, size_t len)
{
    int perm = PERM_R | PERM_W;
    size_t i = 0;

    if (r[0] == '%') {
        perm = 0;
        for (i = 1; i < len && r[i] != '~'; i++) {
            if (r[i] == 'R' || r[i] == 'r') {
                perm |= PERM_R;
            } else if (r[i] == 'W' || r[i] == 'w') {
                perm |= PERM_W;
            } else {
                return err_syntax;
            }
        }
        if (i == len || perm == 0) {
            return err_syntax;
        }
    }
    if (u->flags & U_ALLKEYS) {
        return err_keys_after_all;
    }
    i++; /* past '~' */
    if (perm == (PERM_R | PERM_W) && len - i == 1 && r[i] == '*') {
        pats_reset(&u->keys, &u->nkeys);
        u->flags |= U_ALLKEYS;
        return NULL;
    }
    pat_add(&u->keys, &u->nkeys, r + i, len - i, perm);
    return NULL;
}

static const char *rule_channels(struct acl_user *u, const char *r, size_t len)
{
    if (u->flags & U_ALLCHANNELS) {
        return err_chans_after_all;
    }
    if (len == 2 && r[1] == '*') {
        pats_reset(&u->chans, &u->nchans);
        u->flags |= U_ALLCHANNELS;
        return NULL;
    }
    pat_add(&u->chans, &u->nchans, r + 1, len - 1, PERM_R | PERM_W);
    return NULL;
}

/* Rules that are a single word; true when r was one. */
static bool rule_word(struct acl_user *u, struct sh_slice w)
{
    if (sh_slice_eq_nocase(w, "on")) {
        u->flags |= U_ON;
    } else if (sh_slice_eq_nocase(w, "off")) {
        u->flags &= ~U_ON;
    } else if (sh_slice_eq_nocase(w, "nopass")) {
        u->flags |= U_NOPASS;
        sh_free(u->pass);
        u->pass = NULL;
        u->npass = 0;
    } else if (sh_slice_eq_nocase(w, "resetpass")) {
        u->flags &= ~U_NOPASS;
        sh_free(u->pass);
        u->pass = NULL;
        u->npass = 0;
    } else if (sh_slice_eq_nocase(w, "allkeys")) {
        pats_reset(&u->keys, &u->nkeys);
        u->flags |= U_ALLKEYS;
    } else if (sh_slice_eq_nocase(w, "resetkeys")) {
        pats_reset(&u->keys, &u->nkeys);
        u->flags &= ~U_ALLKEYS;
    } else if (sh_slice_eq_nocase(w, "allchannels")) {
        pats_reset(&u->chans, &u->nchans);
        u->flags |= U_ALLCHANNELS;
    } else if (sh_slice_eq_nocase(w, "resetchannels")) {
        pats_reset(&u->chans, &u->nchans);
        u->flags &= ~U_ALLCHANNELS;
    } else if (sh_slice_eq_nocase(w, "allcommands")) {
        change_all(u, true);
    } else if (sh_slice_eq_nocase(w, "nocommands")) {
        change_all(u, false);
    } else if (sh_slice_eq_nocase(w, "sanitize-payload")) {
        u->flags = (u->flags & ~U_SKIP_SANITIZE) | U_SANITIZE;
    } else if (sh_slice_eq_nocase(w, "skip-sanitize-payload")) {
        u->flags = (u->flags & ~U_SANITIZE) | U_SKIP_SANITIZE;
    } else if (sh_slice_eq_nocase(w, "reset")) {
        static const char *const seq[] = { "resetpass", "resetkeys", "resetchannels", "off",
                                           "nocommands" };

        for (size_t i = 0; i < SH_ARRAY_LEN(seq); i++) {
            rule_word(u, (struct sh_slice){ seq[i], strlen(seq[i]) });
        }
        u->flags = (u->flags & ~U_SKIP_SANITIZE) | U_SANITIZE;
    } else {
        return false;
    }
    return true;
}

/* One rule; NULL or Redis's reason. */
static const char *apply_rule(struct acl_user *u, const char *r, size_t len)
{
    uint8_t d[SHA256_LEN];

    if (len == 0) {
        return NULL; /* as Redis: an empty rule changes nothing */
    }
    if (rule_word(u, (struct sh_slice){ r, len })) {
        return NULL;
    }
    switch (r[0]) {
    case '>':
        sha256(r + 1, len - 1, d);
        pass_add(u, d);
        return NULL;
    case '<':
        sha256(r + 1, len - 1, d);
        return pass_del(u, d) ? NULL
                              : "The password you are trying to remove from the user does "
                                "not exist";
    case '#':
    case '!':
        if (!is_hex_digest(r + 1, len - 1)) {
            return "The password hash must be exactly 64 characters and contain only "
                   "lowercase hexadecimal characters";
        }
        hex_to_digest(r + 1, d);
        if (r[0] == '#') {
            pass_add(u, d);
            return NULL;
        }
        return pass_del(u, d) ? NULL
                              : "The password you are trying to remove from the user does "
                                "not exist";
    case '~':
    case '%':
        return rule_keys(u, r, len);
    case '&':
        return rule_channels(u, r, len);
    case '+':
    case '-':
        return rule_command(u, r, len) ? NULL : "Unknown command or category name in ACL";
    default:
        return err_syntax;
    }
}

int acl_setuser(struct acl *a, const char *name, size_t len, int nrules,
                const struct sh_slice *rules, char *err, size_t errlen)
{
    struct acl_user *u = acl_find(a, name, len);
    struct acl_user *trial = user_new(name, len);

    if (u) {
        user_copy(trial, u);
    }
    for (int i = 0; i < nrules; i++) {
        const char *why = apply_rule(trial, rules[i].ptr, rules[i].len);

        if (why) {
            snprintf(err, errlen, "Error in ACL SETUSER modifier '%.*s': %s",
                     (int)(rules[i].len > 128 ? 128 : rules[i].len), rules[i].ptr, why);
            user_free(trial);
            return -EINVAL;
        }
    }
    update_unrestricted(trial);
    if (u) {
        user_move(u, trial);
        user_free(trial);
    } else {
        acl_insert(a, trial);
    }
    return 0;
}

void acl_set_requirepass(struct acl *a, const char *pass)
{
    struct acl_user *u = acl_default(a);
    uint8_t d[SHA256_LEN];

    sh_free(u->pass);
    u->pass = NULL;
    u->npass = 0;
    if (!pass || !pass[0]) {
        u->flags |= U_NOPASS;
        return;
    }
    u->flags &= ~U_NOPASS;
    sha256(pass, strlen(pass), d);
    pass_add(u, d);
}

/* ---- checks ---- */

static bool pats_match(const struct acl_pat *p, int n, const char *s, size_t len, int need)
{
    for (int i = 0; i < n; i++) {
        if ((p[i].perm & need) == need && glob_match(p[i].pat, p[i].len, s, len, false)) {
            return true;
        }
    }
    return false;
}

/* Redis's ACLSelectorCheckKey: the permission a key spec's flags need. */
static int key_need(uint32_t kflags)
{
    int need = 0;

    if (kflags & CMD_KEY_ACCESS) {
        need |= PERM_R;
    }
    if (kflags & (CMD_KEY_INSERT | CMD_KEY_DELETE | CMD_KEY_UPDATE)) {
        need |= PERM_W;
    }
    return need;
}

static bool keys_allowed(const struct acl_user *u, const struct cmd_spec *cmd, int argc,
                         const struct sh_slice *argv, int *bad)
{
    int stack_pos[64];
    uint32_t stack_flags[64];
    int *pos = stack_pos;
    uint32_t *kf = stack_flags;
    int n = cmdtab_get_keys_flags(cmd, argv, argc, 0, pos, kf, 64);
    bool ok = true;

    if (n > 64) {
        pos = sh_malloc(sizeof(*pos) * (size_t)n);
        kf = sh_malloc(sizeof(*kf) * (size_t)n);
        n = cmdtab_get_keys_flags(cmd, argv, argc, 0, pos, kf, n);
    }
    for (int i = 0; i < n && ok; i++) {
        ok = pats_match(u->keys, u->nkeys, argv[pos[i]].ptr, argv[pos[i]].len, key_need(kf[i]));
        *bad = pos[i];
    }
    if (pos != stack_pos) {
        sh_free(pos);
        sh_free(kf);
    }
    return ok;
}

/* A pattern subscription must name an allowed pattern literally. */
static bool channel_allowed(const struct acl_user *u, struct sh_slice ch, bool literal)
{
    for (int i = 0; i < u->nchans; i++) {
        const struct acl_pat *p = &u->chans[i];

        if (literal ? p->len == ch.len && !memcmp(p->pat, ch.ptr, ch.len)
                    : glob_match(p->pat, p->len, ch.ptr, ch.len, false)) {
            return true;
        }
    }
    return false;
}

static bool channels_allowed(const struct acl_user *u, const struct cmd_spec *cmd, int argc,
                             const struct sh_slice *argv, int *bad)
{
    const char *n = cmd->fullname;
    bool literal = !strcmp(n, "psubscribe");
    int last = argc - 1;

    if (!strcmp(n, "publish") || !strcmp(n, "spublish")) {
        last = 1;
    } else if (!literal && strcmp(n, "subscribe") && strcmp(n, "ssubscribe")) {
        return true;
    }
    for (int i = 1; i <= last; i++) {
        if (!channel_allowed(u, argv[i], literal)) {
            *bad = i;
            return false;
        }
    }
    return true;
}

enum acl_verdict acl_check_at(const struct acl_user *u, const struct cmd_spec *cmd, int argc,
                              const struct sh_slice *argv, int *bad)
{
    *bad = 0;
    if (u->flags & U_UNRESTRICTED) {
        return ACL_OK;
    }
    if (!(cmd->flags & CMD_NO_AUTH) && cmd->id > 0 && !bit_get(u->bits, cmd->id)) {
        return ACL_DENIED_CMD;
    }
    if (!(u->flags & U_ALLKEYS) && !keys_allowed(u, cmd, argc, argv, bad)) {
        return ACL_DENIED_KEY;
    }
    if (!(u->flags & U_ALLCHANNELS) && (cmd->flags & CMD_PUBSUB) &&
        !channels_allowed(u, cmd, argc, argv, bad)) {
        return ACL_DENIED_CHANNEL;
    }
    return ACL_OK;
}

enum acl_verdict acl_check(const struct acl_user *u, const struct cmd_spec *cmd, int argc,
                           const struct sh_slice *argv)
{
    int bad;

    return acl_check_at(u, cmd, argc, argv, &bad);
}

void acl_denied_message(enum acl_verdict v, const struct cmd_spec *cmd, char *buf, size_t len)
{
    switch (v) {
    case ACL_DENIED_KEY:
        snprintf(buf, len,
                 "NOPERM this user has no permissions to access one of the keys used "
                 "as arguments");
        break;
    case ACL_DENIED_CHANNEL:
        snprintf(buf, len,
                 "NOPERM this user has no permissions to access one of the channels "
                 "used as arguments");
        break;
    case ACL_DENIED_CMD:
    case ACL_OK:
    default:
        snprintf(buf, len, "NOPERM this user has no permissions to run the '%s' command",
                 cmd->fullname);
        break;
    }
}

/* ---- descriptions ---- */

static void out_str(struct rbuf *out, const char *s)
{
    rbuf_append(out, s, strlen(s));
}

/* Commands (and subcommands) of category cat whose bit is on / off. */
static void count_category(const uint64_t *bits, int cat, long *on, long *off)
{
    *on = *off = 0;
    for (int id = 1; id < cmdtab_nids(); id++) {
        const struct cmd_spec *c = cmdtab_by_id(id);

        if (c && (c->acl >> cat) & 1) {
            if (bit_get(bits, id)) {
                (*on)++;
            } else {
                (*off)++;
            }
        }
    }
}

/* The category that best describes the differences left in tmp, or -1. */
static int best_category(const uint64_t *tmp, bool additive, const bool *applied)
{
    long mindiff = 1L << 30, maxsame = 0;
    int best = -1;

    for (int j = 0; j < cmdtab_acl_count; j++) {
        long on, off, diff, same;

        if (applied[j]) {
            continue;
        }
        count_category(tmp, j, &on, &off);
        diff = additive ? off : on;
        same = additive ? on : off;
        if (same > diff && (diff < mindiff || (diff == mindiff && same > maxsame))) {
            best = j;
            mindiff = diff;
            maxsame = same;
        }
    }
    return best;
}

void acl_describe_commands(const struct acl_user *u, struct rbuf *out)
{
    size_t w = nwords() * sizeof(uint64_t);
    uint64_t *fake = sh_malloc(w), *tmp = sh_malloc(w);
    bool additive = !(u->flags & U_ALLCMDS);
    bool applied[64] = { false };
    int best;

    memset(fake, additive ? 0 : 0xff, w);
    memcpy(tmp, u->bits, w);
    out_str(out, additive ? "-@all" : "+@all");
    while ((best = best_category(tmp, additive, applied)) >= 0) {
        out_str(out, additive ? " +@" : " -@");
        out_str(out, cmdtab_acl_names[best]);
        change_category(fake, best, additive);
        change_category(tmp, best, !additive);
        applied[best] = true;
    }
    for (int id = 1; id < cmdtab_nids(); id++) {
        const struct cmd_spec *c = cmdtab_by_id(id);
        bool want = bit_get(u->bits, id);

        if (c && want != bit_get(fake, id)) {
            out_str(out, want ? " +" : " -");
            out_str(out, c->fullname);
            change_perm(fake, c, want);
        }
    }
    sh_free(fake);
    sh_free(tmp);
}

void acl_describe_keys(const struct acl_user *u, struct rbuf *out)
{
    if (u->flags & U_ALLKEYS) {
        out_str(out, "~*");
        return;
    }
    for (int i = 0; i < u->nkeys; i++) {
        static const char *const prefix[] = { "", "%R~", "%W~", "~" };

        if (i) {
            out_str(out, " ");
        }
        out_str(out, prefix[u->keys[i].perm]);
        rbuf_append(out, u->keys[i].pat, u->keys[i].len);
    }
}

void acl_describe_channels(const struct acl_user *u, struct rbuf *out)
{
    if (u->flags & U_ALLCHANNELS) {
        out_str(out, "&*");
        return;
    }
    for (int i = 0; i < u->nchans; i++) {
        out_str(out, i ? " &" : "&");
        rbuf_append(out, u->chans[i].pat, u->chans[i].len);
    }
}

int acl_user_flags(const struct acl_user *u, const char **names, int max)
{
    int n = 0;

    if (n < max) {
        names[n++] = (u->flags & U_ON) ? "on" : "off";
    }
    if ((u->flags & U_NOPASS) && n < max) {
        names[n++] = "nopass";
    }
    if ((u->flags & U_SKIP_SANITIZE) && n < max) {
        names[n++] = "skip-sanitize-payload";
    }
    if ((u->flags & U_SANITIZE) && n < max) {
        names[n++] = "sanitize-payload";
    }
    return n;
}

bool acl_user_password(const struct acl_user *u, int i, char hex[65])
{
    if (i < 0 || i >= u->npass) {
        return false;
    }
    sha256_hex(u->pass[i], hex);
    return true;
}

void acl_describe(const struct acl_user *u, struct rbuf *out)
{
    const char *flags[4];
    int nflags = acl_user_flags(u, flags, 4);
    char hex[65];

    out_str(out, "user ");
    out_str(out, u->name);
    for (int i = 0; i < nflags; i++) {
        out_str(out, " ");
        out_str(out, flags[i]);
    }
    for (int i = 0; acl_user_password(u, i, hex); i++) {
        out_str(out, " #");
        out_str(out, hex);
    }
    if ((u->flags & U_ALLKEYS) || u->nkeys) {
        out_str(out, " ");
        acl_describe_keys(u, out);
    }
    if (u->flags & U_ALLCHANNELS) {
        out_str(out, " &*");
    } else {
        out_str(out, " resetchannels");
        if (u->nchans) {
            out_str(out, " ");
            acl_describe_channels(u, out);
        }
    }
    out_str(out, " ");
    acl_describe_commands(u, out);
}

/* ---- aclfile ---- */

#define MAX_LINE_WORDS 1024

static char *read_file(const char *path, int *res)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t len = 0, cap = 0, got;

    if (!f) {
        *res = -errno;
        return NULL;
    }
    do {
        if (cap - len < 4096) {
            cap = cap ? cap * 2 : 8192;
            buf = sh_realloc(buf, cap);
        }
        got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
    } while (got > 0);
    *res = ferror(f) ? -EIO : 0;
    fclose(f);
    buf[len] = '\0';
    return buf;
}

/* Splits a line on blanks into words (borrowing the line). */
static int split_words(char *line, struct sh_slice *w, int max)
{
    int n = 0;
    char *p = line;

    while (*p && n < max) {
        while (*p == ' ' || *p == '\t' || *p == '\r') {
            p++;
        }
        if (!*p) {
            break;
        }
        w[n].ptr = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r') {
            p++;
        }
        w[n].len = (size_t)(p - w[n].ptr);
        n++;
    }
    return n;
}

/* One "user <name> <rules...>" line into fresh; false with err set. */
static bool load_line(struct acl *fresh, char *line, int lineno, char *err, size_t errlen)
{
    struct sh_slice *w = sh_malloc(sizeof(*w) * MAX_LINE_WORDS);
    int n = split_words(line, w, MAX_LINE_WORDS);
    char why[512];
    bool ok = false;

    if (n == 0) {
        ok = true;
        goto out_free;
    }
    if (!sh_slice_eq_nocase(w[0], "user") || n < 2) {
        snprintf(err, errlen, "line %d should start with user keyword followed by a name", lineno);
        goto out_free;
    }
    /* every line describes a user from scratch, "default" included */
    if (acl_find(fresh, w[1].ptr, w[1].len)) {
        snprintf(err, errlen, "WARNING: Duplicate user '%.*s' found on line %d", (int)w[1].len,
                 w[1].ptr, lineno);
        goto out_free;
    }
    if (acl_setuser(fresh, w[1].ptr, w[1].len, n - 2, w + 2, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "line %d: %s", lineno, why);
        goto out_free;
    }
    ok = true;
out_free:
    sh_free(w);
    return ok;
}

struct acl *acl_load_file(const char *path, char *err, size_t errlen)
{
    int res;
    char *text = read_file(path, &res);
    struct acl *fresh;
    char *line, *save = NULL;
    int lineno = 0;

    if (!text) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(-res));
        return NULL;
    }
    fresh = sh_calloc(1, sizeof(*fresh));
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        if (!load_line(fresh, line, lineno, err, errlen)) {
            acl_destroy(fresh);
            sh_free(text);
            return NULL;
        }
    }
    sh_free(text);
    /* the default user is as new unless the file says otherwise */
    if (!acl_find(fresh, "default", 7)) {
        acl_insert(fresh, default_user());
    }
    return fresh;
}

void acl_replace(struct acl *a, struct acl *fresh, acl_user_fn *gone, void *arg)
{
    struct acl_user **pp = &a->users;

    /* users that no longer exist: their connections go first */
    while (*pp) {
        struct acl_user *u = *pp;

        if (!acl_find(fresh, u->name, strlen(u->name))) {
            if (gone) {
                gone(arg, u);
            }
            *pp = u->next;
            a->n--;
            user_free(u);
        } else {
            pp = &u->next;
        }
    }
    /* the others keep their address and take the file's permissions */
    while (fresh->users) {
        struct acl_user *f = fresh->users;
        struct acl_user *u = acl_find(a, f->name, strlen(f->name));

        fresh->users = f->next;
        if (u) {
            user_move(u, f);
            user_free(f);
        } else {
            acl_insert(a, f);
        }
    }
    sh_free(fresh);
}

int acl_save_file(const struct acl *a, const char *path)
{
    struct rbuf text;
    char tmp[4096];
    int fd, res = 0;

    rbuf_init(&text);
    for (const struct acl_user *u = a->users; u; u = u->next) {
        acl_describe(u, &text);
        rbuf_append(&text, "\n", 1);
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp-%d", path, (int)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        res = -errno;
        goto out_free;
    }
    for (size_t off = 0; off < text.len;) {
        ssize_t w = write(fd, text.data + off, text.len - off);

        if (w < 0) {
            res = -errno;
            break;
        }
        off += (size_t)w;
    }
    if (res == 0 && fsync(fd) != 0) {
        res = -errno;
    }
    close(fd);
    if (res == 0 && rename(tmp, path) != 0) {
        res = -errno;
    }
    if (res != 0) {
        unlink(tmp);
    }
out_free:
    rbuf_fini(&text);
    return res;
}
