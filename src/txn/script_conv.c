/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * script_conv.c: the conversions between RESP and Lua values, with Redis
 * 7.0's rules (its redisProtocolToLuaType and luaReplyToRedisReply):
 *
 *   RESP -> Lua (a command's reply, for redis.call):
 *     integer -> number            bulk -> string       null bulk -> false
 *     array -> table 1..n          null array -> false
 *     status -> {ok=s}             error -> {err=s}
 *     RESP3: map -> {map={k=v}}    set -> {set={k=true}}    null -> nil
 *            boolean -> boolean    double -> {double=n}
 *            big number -> {big_number=s}   blob error -> {err=s}
 *            verbatim -> {verbatim_string={format=f, string=s}}
 *            attributes are skipped; a push reads as an array
 *
 *   Lua -> RESP (the script's reply):
 *     string -> bulk               number -> integer (truncated as (long long))
 *     true -> 1 and false -> null, or RESP3 booleans after redis.setresp(3)
 *     table, first match of: err (string) -> error, ok (string) -> status,
 *       double (number) -> double, big_number (string) -> big number,
 *       verbatim_string (table) -> verbatim, map (table) -> map,
 *       set (table) -> set, else an array of t[1], t[2] ... up to the
 *       first nil
 *     nil and anything else -> null
 *   Map and set fall back to arrays in RESP2, doubles and big numbers to
 *   bulk strings (the reply writer does it). CR and LF in statuses, errors
 *   and big numbers become spaces, as Redis does.
 *
 * Both walk their value recursively; the Lua stack bounds the depth (a table
 * that contains itself ends in "ERR reached lua stack limit", as in Redis).
 * Table fields are read raw: no metamethod runs while a reply is written.
 */
#include "script_internal.h"
#include "shardis/reply.h"

#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Nesting of a command's reply that we accept; real replies are a few
 * levels deep. */
#define CONV_MAX_DEPTH 512

long long script_conv_num_to_ll(double d)
{
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) {
        return LLONG_MIN;
    }
    return (long long)d;
}

/* ---- RESP -> Lua ---- */

struct rd {
    const char *p;
    size_t len;
    size_t pos;
    bool bad;
    char top_type; /* of the reply itself, past its attributes */
};

/* The line after the type byte: [*s, *s + *n), without its CRLF. */
static bool rd_line(struct rd *r, const char **s, size_t *n)
{
    const char *start = r->p + r->pos;
    const char *cr = memchr(start, '\r', r->len - r->pos);

    if (cr == NULL || (size_t)(cr - r->p) + 1 >= r->len || cr[1] != '\n') {
        r->bad = true;
        return false;
    }
    *s = start;
    *n = (size_t)(cr - start);
    r->pos = (size_t)(cr - r->p) + 2;
    return true;
}

static bool rd_ll(struct rd *r, long long *v)
{
    const char *s;
    size_t n;
    char tmp[32], *end;

    if (!rd_line(r, &s, &n)) {
        return false;
    }
    if (n == 0 || n >= sizeof(tmp)) {
        r->bad = true;
        return false;
    }
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    errno = 0;
    *v = strtoll(tmp, &end, 10);
    if (errno != 0 || *end != '\0') {
        r->bad = true;
        return false;
    }
    return true;
}

/* A bulk payload of length n and its CRLF. */
static bool rd_bulk(struct rd *r, long long n, const char **s)
{
    if (n < 0 || (size_t)n > r->len - r->pos || r->len - r->pos - (size_t)n < 2 ||
        r->p[r->pos + (size_t)n] != '\r' || r->p[r->pos + (size_t)n + 1] != '\n') {
        r->bad = true;
        return false;
    }
    *s = r->p + r->pos;
    r->pos += (size_t)n + 2;
    return true;
}

/* Pushes {name = <the value on top>}, replacing the value. */
static void wrap_field(lua_State *L, const char *name)
{
    lua_createtable(L, 0, 1);
    lua_pushstring(L, name);
    lua_pushvalue(L, -3);
    lua_rawset(L, -3);
    lua_remove(L, -2);
}

static void push_value(lua_State *L, struct rd *r, int depth);

/* An error reply as Redis hands it to a script: its luaPushError form, and a
 * mark that the error was counted already (Redis's error stats). */
static void push_reply_error(lua_State *L, const char *s, size_t n)
{
    script_lib_push_error(L, s, n, true);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "ignore_error_stats_update");
}

/* Aggregates: n elements (arrays, pushes, sets) or n pairs (maps,
 * attributes) into a new table on top. */
static void push_array(lua_State *L, struct rd *r, long long n, int depth)
{
    lua_createtable(L, n < 64 ? (int)n : 64, 0);
    for (long long i = 1; i <= n && !r->bad; i++) {
        push_value(L, r, depth + 1);
        lua_rawseti(L, -2, (int)i);
    }
}

static void push_map(lua_State *L, struct rd *r, long long n, int depth, bool set)
{
    lua_createtable(L, 0, n < 64 ? (int)n : 64);
    for (long long i = 0; i < n && !r->bad; i++) {
        push_value(L, r, depth + 1);
        if (set) {
            lua_pushboolean(L, 1);
        } else {
            push_value(L, r, depth + 1);
        }
        /* a nil or NaN key cannot be stored: Redis would raise there */
        if (r->bad || lua_isnil(L, -2) ||
            (lua_type(L, -2) == LUA_TNUMBER && lua_tonumber(L, -2) != lua_tonumber(L, -2))) {
            lua_pop(L, 2);
            continue;
        }
        lua_rawset(L, -3);
    }
    wrap_field(L, set ? "set" : "map");
}

static void push_verbatim(lua_State *L, struct rd *r, long long n)
{
    const char *s;

    if (!rd_bulk(r, n, &s) || n < 4 || s[3] != ':') {
        r->bad = true;
        lua_pushnil(L);
        return;
    }
    lua_createtable(L, 0, 2);
    lua_pushlstring(L, s, 3);
    lua_setfield(L, -2, "format");
    lua_pushlstring(L, s + 4, (size_t)n - 4);
    lua_setfield(L, -2, "string");
    wrap_field(L, "verbatim_string");
}

static void push_line_typed(lua_State *L, struct rd *r, char type)
{
    const char *s;
    size_t n;

    if (!rd_line(r, &s, &n)) {
        lua_pushnil(L);
        return;
    }
    switch (type) {
    case '-':
        push_reply_error(L, s, n);
        break;
    case '+':
    case '(':
        lua_pushlstring(L, s, n);
        wrap_field(L, type == '+' ? "ok" : "big_number");
        break;
    case ',': {
        char tmp[64];

        if (n >= sizeof(tmp)) {
            r->bad = true;
            lua_pushnil(L);
            break;
        }
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        lua_pushnumber(L, strtod(tmp, NULL));
        wrap_field(L, "double");
        break;
    }
    case '#':
        lua_pushboolean(L, n == 1 && s[0] == 't');
        break;
    default: /* '_' */
        lua_pushnil(L);
        break;
    }
}

/* Attributes describe the reply that follows them; Redis drops them. */
static void skip_attributes(lua_State *L, struct rd *r, int depth)
{
    long long n;

    while (!r->bad && r->pos < r->len && r->p[r->pos] == '|') {
        r->pos++;
        if (!rd_ll(r, &n)) {
            return;
        }
        push_map(L, r, n, depth, false);
        lua_pop(L, 1);
    }
}

/* Lengths and counts: bulk strings, verbatim strings and aggregates. */
static void push_counted(lua_State *L, struct rd *r, char type, int depth)
{
    long long n;
    const char *s;

    if (!rd_ll(r, &n) || n < -1 || (n == -1 && type != '$' && type != '*' && type != '>')) {
        r->bad = true;
        lua_pushnil(L);
        return;
    }
    switch (type) {
    case '$':
    case '!':
        if (n == -1 && type == '$') {
            lua_pushboolean(L, 0);
        } else if (!rd_bulk(r, n, &s)) {
            lua_pushnil(L);
        } else if (type == '!') {
            push_reply_error(L, s, (size_t)n);
        } else {
            lua_pushlstring(L, s, (size_t)n);
        }
        return;
    case '=':
        push_verbatim(L, r, n);
        return;
    case '*':
    case '>':
        if (n == -1) {
            lua_pushboolean(L, 0);
        } else {
            push_array(L, r, n, depth);
        }
        return;
    default: /* '%', '~' */
        push_map(L, r, n, depth, type == '~');
        return;
    }
}

/* Pushes exactly one value; on malformed input sets r->bad (what was pushed
 * is then dropped by the caller). */
static void push_value(lua_State *L, struct rd *r, int depth)
{
    long long n;
    char type;

    if (depth > CONV_MAX_DEPTH || !lua_checkstack(L, 8)) {
        r->bad = true;
    }
    skip_attributes(L, r, depth);
    if (r->bad || r->pos >= r->len) {
        r->bad = true;
        lua_pushnil(L);
        return;
    }
    type = r->p[r->pos++];
    if (depth == 0) {
        r->top_type = type;
    }
    switch (type) {
    case '+':
    case '-':
    case '(':
    case ',':
    case '#':
    case '_':
        push_line_typed(L, r, type);
        return;
    case ':':
        if (rd_ll(r, &n)) {
            lua_pushnumber(L, (lua_Number)n);
        } else {
            lua_pushnil(L);
        }
        return;
    case '$':
    case '!':
    case '=':
    case '*':
    case '>':
    case '%':
    case '~':
        push_counted(L, r, type, depth);
        return;
    default:
        r->bad = true;
        lua_pushnil(L);
        return;
    }
}

bool script_conv_push_reply(lua_State *L, const char *p, size_t len)
{
    static const char bad[] = "ERR shardis: the command's reply could not be read";
    struct rd r = { .p = p, .len = len };
    int top = lua_gettop(L);

    push_value(L, &r, 0);
    if (r.bad) {
        lua_settop(L, top);
        script_lib_push_error(L, bad, sizeof(bad) - 1, true);
        return true;
    }
    return r.top_type == '-' || r.top_type == '!';
}

/* ---- Lua -> RESP ---- */

/* Writes s[0..n) with CR and LF turned into spaces. */
static void raw_mapped(struct reply *out, const char *s, size_t n)
{
    char *d = rbuf_reserve(out->buf, n);

    for (size_t i = 0; i < n; i++) {
        d[i] = (s[i] == '\r' || s[i] == '\n') ? ' ' : s[i];
    }
    out->buf->len += n;
}

static void write_error_string(struct reply *out, const char *s, size_t n)
{
    /* Redis trims CR and LF at the ends, then maps the rest to spaces */
    while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == '\n')) {
        n--;
    }
    reply_raw(out, "-", 1);
    raw_mapped(out, s, n);
    reply_raw(out, "\r\n", 2);
}

static void write_big_number(struct reply *out, const char *s, size_t n)
{
    if (out->proto != 3) {
        size_t at;

        reply_bulk(out, s, n);
        at = out->buf->len - 2 - n;
        for (size_t i = 0; i < n; i++) {
            if (out->buf->data[at + i] == '\r' || out->buf->data[at + i] == '\n') {
                out->buf->data[at + i] = ' ';
            }
        }
        return;
    }
    reply_raw(out, "(", 1);
    raw_mapped(out, s, n);
    reply_raw(out, "\r\n", 2);
}

static void write_top(lua_State *L, struct reply *out, int resp);

/* Pushes the raw field name of the table at idx (nil when absent); returns
 * its type. */
static int field_type(lua_State *L, int idx, const char *name)
{
    lua_pushstring(L, name);
    lua_rawget(L, idx < 0 ? idx - 1 : idx);
    return lua_type(L, -1);
}

static bool write_verbatim(lua_State *L, struct reply *out)
{
    /* the verbatim_string field's table is on top */
    int t = lua_gettop(L);
    bool done = false;

    if (field_type(L, t, "format") == LUA_TSTRING && field_type(L, t, "string") == LUA_TSTRING) {
        const char *fmt = lua_tostring(L, -2);
        char fmt3[4] = "   ";
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);

        /* Redis pads a short format with spaces and cuts a long one */
        for (int i = 0; i < 3 && fmt[i] != '\0'; i++) {
            fmt3[i] = fmt[i];
        }
        reply_verbatim(out, s, n, fmt3);
        done = true;
    }
    lua_settop(L, t);
    return done;
}

/* A map or set table on top; writes it, keeps it. */
static void write_map(lua_State *L, struct reply *out, int resp, bool set)
{
    long long n = 0;

    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        n++;
    }
    if (set) {
        reply_set(out, n);
    } else {
        reply_map(out, n);
    }
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pushvalue(L, -2);
        write_top(L, out, resp); /* the key */
        if (set) {
            lua_pop(L, 1);
        } else {
            write_top(L, out, resp); /* the value */
        }
    }
}

static void write_array(lua_State *L, struct reply *out, int resp)
{
    long long n = 0;

    for (;;) {
        lua_rawgeti(L, -1, (int)(n + 1));
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            break;
        }
        lua_pop(L, 1);
        n++;
    }
    reply_array(out, n);
    for (long long i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, (int)i);
        write_top(L, out, resp);
    }
}

/* The special tables of Redis's conversion; returns false for an array. */
static bool write_special(lua_State *L, struct reply *out, int resp)
{
    size_t n;
    const char *s;

    if (field_type(L, -1, "err") == LUA_TSTRING) {
        s = lua_tolstring(L, -1, &n);
        write_error_string(out, s, n);
        goto out_pop;
    }
    lua_pop(L, 1);
    if (field_type(L, -1, "ok") == LUA_TSTRING) {
        s = lua_tolstring(L, -1, &n);
        reply_raw(out, "+", 1);
        raw_mapped(out, s, n);
        reply_raw(out, "\r\n", 2);
        goto out_pop;
    }
    lua_pop(L, 1);
    if (field_type(L, -1, "double") == LUA_TNUMBER) {
        reply_double(out, lua_tonumber(L, -1));
        goto out_pop;
    }
    lua_pop(L, 1);
    if (field_type(L, -1, "big_number") == LUA_TSTRING) {
        s = lua_tolstring(L, -1, &n);
        write_big_number(out, s, n);
        goto out_pop;
    }
    lua_pop(L, 1);
    if (field_type(L, -1, "verbatim_string") == LUA_TTABLE && write_verbatim(L, out)) {
        goto out_pop;
    }
    lua_pop(L, 1);
    if (field_type(L, -1, "map") == LUA_TTABLE) {
        write_map(L, out, resp, false);
        goto out_pop;
    }
    lua_pop(L, 1);
    if (field_type(L, -1, "set") == LUA_TTABLE) {
        write_map(L, out, resp, true);
        goto out_pop;
    }
    lua_pop(L, 1);
    return false;
out_pop:
    lua_pop(L, 1);
    return true;
}

/* Writes the value on top and pops it. */
static void write_top(lua_State *L, struct reply *out, int resp)
{
    size_t n;
    const char *s;

    if (!lua_checkstack(L, 4)) {
        reply_error(out, "ERR reached lua stack limit");
        lua_pop(L, 1);
        return;
    }
    switch (lua_type(L, -1)) {
    case LUA_TSTRING:
        s = lua_tolstring(L, -1, &n);
        reply_bulk(out, s, n);
        break;
    case LUA_TBOOLEAN:
        if (resp == 3) {
            reply_bool(out, lua_toboolean(L, -1));
        } else if (lua_toboolean(L, -1)) {
            reply_int(out, 1);
        } else {
            reply_null(out);
        }
        break;
    case LUA_TNUMBER:
        reply_int(out, script_conv_num_to_ll(lua_tonumber(L, -1)));
        break;
    case LUA_TTABLE:
        if (!write_special(L, out, resp)) {
            write_array(L, out, resp);
        }
        break;
    default:
        reply_null(out);
        break;
    }
    lua_pop(L, 1);
}

void script_conv_write_value(lua_State *L, int idx, struct reply *out, int resp)
{
    lua_pushvalue(L, idx);
    write_top(L, out, resp);
}
