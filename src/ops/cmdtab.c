/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmdtab.c: lookup, binding and key finding over the generated command table
 * (cmdtab_gen.c).
 *
 * Index: one open-addressing table (linear probing, power-of-two size, load
 * below 1/2) over the lower-case full names of every command and subcommand
 * ("get", "client|kill"). A lookup lower-cases the name into a stack buffer,
 * zero-padded to whole words, and hashes it 8 bytes at a time, so it
 * allocates nothing; names longer than the longest command are refused
 * before any probe. A subcommand is found by hashing "container|sub" in the
 * same way, so both cost one short probe sequence.
 *
 *     slot: { first 8 bytes of the name, hash, len, spec }, or empty
 *           (spec NULL); 24 bytes, 1024 slots
 *
 * Key finding follows Redis 7.0's getKeysFromCommandWithSpecs: key specs
 * first, and where they give up (unknown specs, a bad numkeys, flags that
 * vary) the command's getkeys_proc, emulated by cmd_spec.getkeys, including
 * its quirks (atoi for numkeys, ZUNIONSTORE's destination listed last).
 *
 * Threading: cmdtab_init, cmdtab_bind* and cmdtab_fini run in main before the
 * shards start or after they stop; afterwards everything here only reads, so
 * any core may call lookups and cmdtab_get_keys without locks.
 */
#include "shardis/cmdtab_internal.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

const char *const cmdtab_acl_names[] = {
    "keyspace", "read",   "write",       "set",       "sortedset",  "list",        "hash",
    "string",   "bitmap", "hyperloglog", "geo",       "stream",     "pubsub",      "admin",
    "fast",     "slow",   "blocking",    "dangerous", "connection", "transaction", "scripting",
};
const int cmdtab_acl_count = CMDTAB_ACL_COUNT;
static_assert(SH_ARRAY_LEN(cmdtab_acl_names) == CMDTAB_ACL_COUNT, "one name per ACL bit");

#define INDEX_SIZE 1024 /* > 2x the 388 commands and subcommands of Redis 7.0 */

struct index_slot {
    uint64_t head; /* first 8 bytes of the name, zero-padded */
    uint32_t hash; /* low bits of key_hash */
    uint32_t len;
    struct cmd_spec *spec; /* NULL: empty slot; the name is spec->fullname */
};

/* A name as the index sees it: lower case, zero-padded to whole 8-byte words
 * so that it hashes a word at a time. */
#define KEY_BUF (CMDTAB_NAME_MAX + 8)

static struct index_slot cmdtab_index[INDEX_SIZE];
static size_t cmdtab_name_max; /* longest full name in the table */

/* Lower-cases src[0..n) into dst and zero-pads the word that follows. */
static void key_put(char *dst, const char *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        dst[i] = (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
    }
    memset(dst + n, 0, 8);
}

/* Hash of key[0..len), read as zero-padded 64-bit words. */
static uint64_t key_hash(const char *key, size_t len)
{
    uint64_t h = (uint64_t)len * UINT64_C(0x9e3779b97f4a7c15);
    for (size_t i = 0; i < len; i += 8) {
        uint64_t w;
        memcpy(&w, key + i, sizeof(w));
        h = (h ^ w) * UINT64_C(0xff51afd7ed558ccd);
        h ^= h >> 29;
    }
    return h ^ (h >> 32);
}

static uint64_t key_head(const char *key)
{
    uint64_t w;
    memcpy(&w, key, sizeof(w));
    return w;
}

/* The spec whose full name is exactly key[0..len) (lower case, padded as
 * key_put leaves it), bound or not. Most names fit in the head word, so the
 * common case compares no bytes beyond it. */
static struct cmd_spec *index_find(const char *key, size_t len)
{
    uint32_t h = (uint32_t)key_hash(key, len);
    uint64_t head = key_head(key);
    for (uint32_t i = h & (INDEX_SIZE - 1);; i = (i + 1) & (INDEX_SIZE - 1)) {
        const struct index_slot *s = &cmdtab_index[i];
        if (!s->spec) {
            return NULL;
        }
        if (s->hash == h && s->len == len && s->head == head &&
            (len <= 8 || memcmp(s->spec->fullname + 8, key + 8, len - 8) == 0)) {
            return s->spec;
        }
    }
}

static void index_add(struct cmd_spec *c, size_t *used)
{
    char key[KEY_BUF];
    size_t len = strlen(c->fullname);
    SH_ASSERT(len < CMDTAB_NAME_MAX);
    SH_ASSERT(*used < INDEX_SIZE / 2);
    key_put(key, c->fullname, len);
    SH_ASSERT(memcmp(key, c->fullname, len) == 0); /* the table is lower case */
    SH_ASSERT(!index_find(key, len));
    uint32_t h = (uint32_t)key_hash(key, len);
    uint32_t i = h & (INDEX_SIZE - 1);
    while (cmdtab_index[i].spec) {
        i = (i + 1) & (INDEX_SIZE - 1);
    }
    cmdtab_index[i] = (struct index_slot){
        .head = key_head(key), .hash = h, .len = (uint32_t)len, .spec = c
    };
    (*used)++;
    if (len > cmdtab_name_max) {
        cmdtab_name_max = len;
    }
}

/* id -> command, for statistics; set by cmdtab_init, read-only after. */
static const struct cmd_spec *cmdtab_ids[1024];
static int cmdtab_next_id;

static void assign_id(struct cmd_spec *c)
{
    SH_ASSERT(cmdtab_next_id < (int)SH_ARRAY_LEN(cmdtab_ids));
    c->id = cmdtab_next_id;
    cmdtab_ids[cmdtab_next_id++] = c;
}

void cmdtab_init(void)
{
    size_t used = 0;
    memset(cmdtab_index, 0, sizeof(cmdtab_index));
    cmdtab_name_max = 0;
    cmdtab_next_id = 1;
    for (int i = 0; i < cmdtab_ncommands; i++) {
        struct cmd_spec *c = &cmdtab_commands[i];
        c->parent = NULL;
        index_add(c, &used);
        assign_id(c);
        for (int j = 0; j < c->nsubcmds; j++) {
            c->subcmds[j].parent = c;
            index_add(&c->subcmds[j], &used);
            assign_id(&c->subcmds[j]);
        }
    }
}

int cmdtab_nids(void)
{
    return cmdtab_next_id;
}

const struct cmd_spec *cmdtab_by_id(int id)
{
    return id > 0 && id < cmdtab_next_id ? cmdtab_ids[id] : NULL;
}

static void unbind(struct cmd_spec *c)
{
    c->proc = NULL;
    c->route = CMD_ROUTE_NONE;
    c->gather = NULL;
    c->visible = false;
}

void cmdtab_fini(void)
{
    for (int i = 0; i < cmdtab_ncommands; i++) {
        struct cmd_spec *c = &cmdtab_commands[i];
        unbind(c);
        for (int j = 0; j < c->nsubcmds; j++) {
            unbind(&c->subcmds[j]);
        }
    }
    memset(cmdtab_index, 0, sizeof(cmdtab_index));
    cmdtab_name_max = 0;
}

/* Any command or subcommand by full name, bound or not; NULL if unknown. */
static struct cmd_spec *find_any(const char *fullname)
{
    char key[KEY_BUF];
    size_t len = strlen(fullname);
    if (len > cmdtab_name_max) {
        return NULL;
    }
    key_put(key, fullname, len);
    return index_find(key, len);
}

int cmdtab_bind(const char *fullname, cmd_fn *proc, enum cmd_route route)
{
    struct cmd_spec *c = find_any(fullname);
    if (!c) {
        return -ENOENT;
    }
    c->proc = proc;
    c->route = route;
    c->visible = true;
    if (c->parent) {
        /* The parent lives in cmdtab_commands, which is ours to write. */
        struct cmd_spec *p = find_any(c->parent->fullname);
        SH_ASSERT(p == c->parent);
        p->visible = true;
    }
    return 0;
}

int cmdtab_bind_gather(const char *fullname, const struct gather *g)
{
    struct cmd_spec *c = find_any(fullname);
    if (!c || !c->proc) {
        return -ENOENT; /* unknown or not bound */
    }
    c->gather = g;
    return 0;
}

bool cmdtab_is_bound(const struct cmd_spec *c)
{
    return c->visible;
}

const struct cmd_spec *cmdtab_lookup(const char *name, size_t len)
{
    char key[KEY_BUF];
    if (len == 0 || len > cmdtab_name_max) {
        return NULL;
    }
    key_put(key, name, len);
    const struct cmd_spec *c = index_find(key, len);
    /* "client|kill" is in the index too, but is no top-level name. */
    return (c && !c->parent && c->visible) ? c : NULL;
}

const struct cmd_spec *cmdtab_lookup_sub(const struct cmd_spec *parent, const char *name,
                                         size_t len)
{
    char key[KEY_BUF];
    size_t plen = strlen(parent->fullname);
    if (parent->nsubcmds == 0 || len == 0 || plen + 1 + len > cmdtab_name_max) {
        return NULL;
    }
    memcpy(key, parent->fullname, plen);
    key[plen] = '|';
    key_put(key + plen + 1, name, len);
    const struct cmd_spec *c = index_find(key, plen + 1 + len);
    return (c && c->parent == parent && c->visible) ? c : NULL;
}

const struct cmd_spec *cmdtab_lookup_fullname(const char *name, size_t len)
{
    const char *bar = memchr(name, '|', len);
    if (!bar) {
        return cmdtab_lookup(name, len);
    }
    const struct cmd_spec *base = cmdtab_lookup(name, (size_t)(bar - name));
    size_t sublen = len - (size_t)(bar - name) - 1;
    /* Redis splits on every '|' and accepts exactly two parts. */
    if (!base || base->nsubcmds == 0 || memchr(bar + 1, '|', sublen)) {
        return NULL;
    }
    return cmdtab_lookup_sub(base, bar + 1, sublen);
}

/* ---- key finding ---- */

/* Where keys are collected: positions beyond cap are counted, not written. */
struct keys_out {
    int *pos;
    uint32_t *kflags; /* or NULL: the key spec flags of each key */
    uint32_t cur;     /* the flags of the keys being added */
    int cap;
    int n;
};

static void keys_add(struct keys_out *k, int pos)
{
    if (k->n < k->cap) {
        k->pos[k->n] = pos;
        if (k->kflags) {
            k->kflags[k->n] = k->cur;
        }
    }
    k->n++;
}

static bool arg_is(const struct sh_slice *a, const char *word)
{
    return sh_slice_eq_nocase(*a, word);
}

/* Redis's string2ll: the whole slice is a canonical 64-bit decimal. */
static bool parse_ll(const struct sh_slice *a, long long *out)
{
    const char *p = a->ptr;
    size_t n = a->len;
    bool neg = false;
    unsigned long long v = 0;
    if (n == 0 || n > 20) {
        return false;
    }
    if (n == 1 && p[0] == '0') {
        *out = 0;
        return true;
    }
    if (p[0] == '-') {
        neg = true;
        p++;
        n--;
    }
    if (n == 0 || p[0] < '1' || p[0] > '9') {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9' || v > (ULLONG_MAX - 9) / 10) {
            return false;
        }
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    if (neg ? v > (unsigned long long)LLONG_MAX + 1 : v > (unsigned long long)LLONG_MAX) {
        return false;
    }
    *out = neg ? (long long)(0 - v) : (long long)v;
    return true;
}

/* C's atoi as Redis's getkeys procs use it: leading blanks, sign, digits,
 * anything after ignored; saturated instead of undefined on overflow. */
static long long parse_atoi(const struct sh_slice *a)
{
    size_t i = 0;
    bool neg = false;
    long long v = 0;
    while (i < a->len && (a->ptr[i] == ' ' || (a->ptr[i] >= '\t' && a->ptr[i] <= '\r'))) {
        i++;
    }
    if (i < a->len && (a->ptr[i] == '-' || a->ptr[i] == '+')) {
        neg = a->ptr[i++] == '-';
    }
    for (; i < a->len && a->ptr[i] >= '0' && a->ptr[i] <= '9'; i++) {
        if (v < LLONG_MAX / 10) {
            v = v * 10 + (a->ptr[i] - '0');
        }
    }
    return neg ? -v : v;
}

/* First key position of a spec, 0 when its keyword is absent, -1 when the
 * spec cannot say. */
static int spec_begin(const struct cmd_keyspec *ks, const struct sh_slice *argv, int argc)
{
    if (ks->bs_type == CMD_BS_INDEX) {
        return ks->bs_index;
    }
    if (ks->bs_type != CMD_BS_KEYWORD) {
        return -1;
    }
    int from = ks->bs_startfrom;
    int start = from > 0 ? from : argc + from;
    int end = from > 0 ? argc - 1 : 1;
    /* The end index itself is never searched, as in Redis. */
    for (int i = start; i != end; i = start <= end ? i + 1 : i - 1) {
        if (i >= argc || i < 1) {
            break;
        }
        if (arg_is(&argv[i], ks->bs_keyword)) {
            return i + 1;
        }
    }
    return 0;
}

/* Adds the keys of one spec; false when the spec cannot be applied. */
static bool spec_keys(const struct cmd_keyspec *ks, const struct sh_slice *argv, int argc,
                      struct keys_out *k)
{
    int first = spec_begin(ks, argv, argc), last, step;
    if (first <= 0) {
        return first == 0;
    }
    if (ks->fk_type == CMD_FK_RANGE) {
        step = ks->fk_step;
        if (ks->fk_lastkey >= 0) {
            last = first + ks->fk_lastkey;
        } else if (!ks->fk_limit) {
            last = argc + ks->fk_lastkey;
        } else {
            last = first + ((argc - first) / ks->fk_limit + ks->fk_lastkey);
        }
    } else if (ks->fk_type == CMD_FK_KEYNUM) {
        long long numkeys;
        step = ks->fk_keystep;
        if (ks->fk_keynumidx >= argc - first ||
            !parse_ll(&argv[first + ks->fk_keynumidx], &numkeys) || numkeys < 0 || numkeys > argc) {
            return false;
        }
        first += ks->fk_firstkey;
        last = first + (int)numkeys - 1;
    } else {
        return false;
    }
    if (ks->fk_type == CMD_FK_RANGE && ks->fk_lastkey < 0 && first == argc) {
        return true; /* a variadic range with no argument: no key (PFMERGE dst) */
    }
    if (last >= argc || last < first || first >= argc || step <= 0) {
        return false;
    }
    for (int i = first; i <= last; i += step) {
        keys_add(k, i);
    }
    /* An incomplete spec that applied hands over to the getkeys proc. */
    return !(ks->flagbits & CMD_KEY_INCOMPLETE);
}

static bool specs_keys(const struct cmd_spec *c, const struct sh_slice *argv, int argc,
                       unsigned flags, struct keys_out *k)
{
    for (int j = 0; j < c->nkeyspecs; j++) {
        const struct cmd_keyspec *ks = &c->keyspecs[j];
        if ((ks->flagbits & CMD_KEY_NOT_KEY) && !(flags & CMDTAB_KEYS_INCLUDE_NOT_KEYS)) {
            continue;
        }
        k->cur = ks->flagbits;
        if (!spec_keys(ks, argv, argc, k)) {
            k->n = 0;
            return false;
        }
    }
    return true;
}

/* Redis's genericGetKeys: numkeys by atoi, nothing when it is out of range;
 * the destination (if any) comes after the sources. */
static void numkeys_keys(int store, int count, int first, const struct sh_slice *argv, int argc,
                         struct keys_out *k)
{
    if (count >= argc) {
        return;
    }
    long long num = parse_atoi(&argv[count]);
    if (num < 1 || num > argc - first) {
        return;
    }
    for (int i = 0; i < num; i++) {
        keys_add(k, first + i);
    }
    if (store) {
        keys_add(k, store);
    }
}

/* sortGetKeys: the sorted key, then the last STORE's destination. */
static void sort_keys(const struct sh_slice *argv, int argc, struct keys_out *k)
{
    int store = 0;
    keys_add(k, 1);
    for (int i = 2; i < argc; i++) {
        if (arg_is(&argv[i], "limit")) {
            i += 2;
        } else if (arg_is(&argv[i], "get") || arg_is(&argv[i], "by")) {
            i += 1;
        } else if (arg_is(&argv[i], "store") && i + 1 < argc) {
            store = i + 1;
        }
    }
    if (store) {
        keys_add(k, store);
    }
}

/* migrateGetKeys: argv[3], or the keys after KEYS when argv[3] is empty. */
static void migrate_keys(const struct sh_slice *argv, int argc, struct keys_out *k)
{
    int first = 3, num = 1;
    for (int i = 6; i < argc; i++) {
        if (arg_is(&argv[i], "keys")) {
            if (argv[3].len > 0) {
                return;
            }
            first = i + 1;
            num = argc - first;
            break;
        }
        if (arg_is(&argv[i], "auth")) {
            i += 1;
        } else if (arg_is(&argv[i], "auth2")) {
            i += 2;
        }
    }
    for (int i = 0; i < num; i++) {
        keys_add(k, first + i);
    }
}

/* georadiusGetKeys: argv[1], then the last STORE/STOREDIST destination. */
static void georadius_keys(const struct sh_slice *argv, int argc, struct keys_out *k)
{
    int stored = 0;
    for (int i = 5; i < argc; i++) {
        if ((arg_is(&argv[i], "store") || arg_is(&argv[i], "storedist")) && i + 1 < argc) {
            stored = i + 1;
            i++;
        }
    }
    keys_add(k, 1);
    if (stored) {
        keys_add(k, stored);
    }
}

/* xreadGetKeys: the first half of what follows STREAMS. */
static void xread_keys(const struct sh_slice *argv, int argc, struct keys_out *k)
{
    int streams = -1;
    for (int i = 1; i < argc; i++) {
        if (arg_is(&argv[i], "block") || arg_is(&argv[i], "count")) {
            i++;
        } else if (arg_is(&argv[i], "group")) {
            i += 2;
        } else if (arg_is(&argv[i], "noack")) {
            continue;
        } else {
            if (arg_is(&argv[i], "streams")) {
                streams = i;
            }
            break;
        }
    }
    int num = argc - streams - 1;
    if (streams == -1 || num == 0 || num % 2 != 0) {
        return;
    }
    for (int i = streams + 1; i < argc - num / 2; i++) {
        keys_add(k, i);
    }
}

static void proc_keys(const struct cmd_spec *c, const struct sh_slice *argv, int argc,
                      struct keys_out *k)
{
    switch (c->getkeys) {
    case CMD_GETKEYS_NONE:
        break;
    case CMD_GETKEYS_KEY1:
        keys_add(k, 1);
        break;
    case CMD_GETKEYS_NUMKEYS1:
        numkeys_keys(0, 1, 2, argv, argc, k);
        break;
    case CMD_GETKEYS_NUMKEYS2:
        numkeys_keys(0, 2, 3, argv, argc, k);
        break;
    case CMD_GETKEYS_NUMKEYS_STORE:
        numkeys_keys(1, 2, 3, argv, argc, k);
        break;
    case CMD_GETKEYS_SORT:
        sort_keys(argv, argc, k);
        break;
    case CMD_GETKEYS_SORT_RO:
        keys_add(k, 1);
        break;
    case CMD_GETKEYS_MIGRATE:
        migrate_keys(argv, argc, k);
        break;
    case CMD_GETKEYS_GEORADIUS:
        georadius_keys(argv, argc, k);
        break;
    case CMD_GETKEYS_XREAD:
        xread_keys(argv, argc, k);
        break;
    }
}

/* OR of the flags of every spec (inverted first when inv). */
static uint32_t specs_flags(const struct cmd_spec *c, bool inv)
{
    uint32_t f = 0;
    for (int j = 0; j < c->nkeyspecs; j++) {
        f |= inv ? ~c->keyspecs[j].flagbits : c->keyspecs[j].flagbits;
    }
    return f;
}

bool cmdtab_has_keys(const struct cmd_spec *c)
{
    return c->getkeys != CMD_GETKEYS_NONE || (specs_flags(c, true) & CMD_KEY_NOT_KEY);
}

/* Redis's setGetKeys: SET only writes its key unless it has GET. */
static uint32_t proc_key_flags(const struct cmd_spec *c, const struct sh_slice *argv, int argc)
{
    if (!strcmp(c->fullname, "set")) {
        for (int i = 3; i < argc; i++) {
            if (arg_is(&argv[i], "get")) {
                return CMD_KEY_RW | CMD_KEY_ACCESS | CMD_KEY_UPDATE;
            }
        }
        return CMD_KEY_OW | CMD_KEY_UPDATE;
    }
    return specs_flags(c, false);
}

int cmdtab_get_keys_flags(const struct cmd_spec *c, const struct sh_slice *argv, int argc,
                          unsigned flags, int *pos, uint32_t *kflags, int maxpos)
{
    struct keys_out k = { .pos = pos, .kflags = kflags, .cap = maxpos, .n = 0 };
    if ((c->arity > 0 && argc != c->arity) || argc < -c->arity) {
        return 0; /* every position below assumes the arity holds */
    }
    bool has_spec = (flags & CMDTAB_KEYS_INCLUDE_NOT_KEYS)
                            ? c->nkeyspecs > 0
                            : (specs_flags(c, true) & CMD_KEY_NOT_KEY);
    bool varflags = specs_flags(c, false) & CMD_KEY_VARIABLE_FLAGS;

    if (has_spec && !varflags && specs_keys(c, argv, argc, flags, &k)) {
        return k.n;
    }
    k.n = 0;
    /* the procs do not say which spec a key came from: every flag applies,
     * except where Redis's proc works the flags out per call (SET) */
    k.cur = varflags ? proc_key_flags(c, argv, argc) : specs_flags(c, false);
    proc_keys(c, argv, argc, &k);
    return k.n;
}

int cmdtab_get_keys(const struct cmd_spec *c, const struct sh_slice *argv, int argc, unsigned flags,
                    int *pos, int maxpos)
{
    return cmdtab_get_keys_flags(c, argv, argc, flags, pos, NULL, maxpos);
}
