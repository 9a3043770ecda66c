/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lua_cmsgpack.c: the cmsgpack library of Redis's Lua (MessagePack:
 * cmsgpack.pack, unpack, unpack_one, unpack_limit), written here because
 * Debian does not package it. It follows lua-cmsgpack 0.4.0 as Redis 7.0
 * ships it, checked byte for byte against a real redis-server:
 *
 * pack(v1, v2, ...) concatenates the encoding of each value:
 *   nil and functions, threads, userdata -> nil (0xc0); booleans;
 *   numbers that are whole in the int64 range -> the shortest integer
 *   (fixint, uint8..uint64, negative fixint, int8..int64), other numbers ->
 *   float32 when exact, else float64; strings -> fixstr, str8, str16, str32;
 *   tables whose keys are exactly 1..n -> arrays of n (fixarray, array16,
 *   array32), other tables -> maps in lua_next order (fixmap, map16, map32);
 *   a table nested 16 deep is written as nil.
 * unpack(s) returns every value of s; unpack_one(s [, offset]) and
 * unpack_limit(s, limit [, offset]) return first the 0-based offset of the
 * next value (-1 at the end), then at most 1 or limit values. Binary and
 * extension types are "Bad data format in input."; a truncated value is
 * "Missing bytes in input."
 */
#include "script_internal.h"
#include "shardis/reply.h"

#include <float.h>
#include <lauxlib.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#define CMSGPACK_MAX_NESTING 16

/* ---- encoding ---- */

static void put_be(struct rbuf *b, uint8_t type, uint64_t v, int bytes)
{
    uint8_t out[9];

    out[0] = type;
    for (int i = 0; i < bytes; i++) {
        out[1 + i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    }
    rbuf_append(b, out, (size_t)bytes + 1);
}

static void encode_int(struct rbuf *b, int64_t n)
{
    uint8_t c;

    if (n >= 0) {
        if (n <= 127) {
            c = (uint8_t)n;
            rbuf_append(b, &c, 1);
        } else if (n <= 0xff) {
            put_be(b, 0xcc, (uint64_t)n, 1);
        } else if (n <= 0xffff) {
            put_be(b, 0xcd, (uint64_t)n, 2);
        } else if (n <= 0xffffffffLL) {
            put_be(b, 0xce, (uint64_t)n, 4);
        } else {
            put_be(b, 0xcf, (uint64_t)n, 8);
        }
    } else if (n >= -32) {
        c = (uint8_t)(int8_t)n;
        rbuf_append(b, &c, 1);
    } else if (n >= -128) {
        put_be(b, 0xd0, (uint64_t)n, 1);
    } else if (n >= -32768) {
        put_be(b, 0xd1, (uint64_t)n, 2);
    } else if (n >= -2147483648LL) {
        put_be(b, 0xd2, (uint64_t)n, 4);
    } else {
        put_be(b, 0xd3, (uint64_t)n, 8);
    }
}

static void encode_number(struct rbuf *b, lua_Number n)
{
    if (n >= -9223372036854775808.0 && n < 9223372036854775808.0 && (double)(int64_t)n == n) {
        encode_int(b, (int64_t)n);
    } else if (!(fabs(n) > FLT_MAX && isfinite(n)) && (double)(float)n == n) {
        float f = (float)n;
        uint32_t bits;

        memcpy(&bits, &f, sizeof(bits));
        put_be(b, 0xca, bits, 4);
    } else {
        uint64_t bits;

        memcpy(&bits, &n, sizeof(bits));
        put_be(b, 0xcb, bits, 8);
    }
}

static void encode_string(struct rbuf *b, const char *s, size_t n)
{
    uint8_t c;

    if (n < 32) {
        c = (uint8_t)(0xa0 | n);
        rbuf_append(b, &c, 1);
    } else if (n <= 0xff) {
        put_be(b, 0xd9, n, 1);
    } else if (n <= 0xffff) {
        put_be(b, 0xda, n, 2);
    } else {
        put_be(b, 0xdb, n, 4);
    }
    rbuf_append(b, s, n);
}

/* Array and map headers: fix form under 16, then 16 and 32 bits. */
static void encode_count(struct rbuf *b, size_t n, uint8_t fix, uint8_t type16)
{
    uint8_t c;

    if (n < 16) {
        c = (uint8_t)(fix | n);
        rbuf_append(b, &c, 1);
    } else if (n <= 0xffff) {
        put_be(b, type16, n, 2);
    } else {
        put_be(b, (uint8_t)(type16 + 1), n, 4);
    }
}

/* Whether the table on top has exactly the keys 1..n (numbers, or strings
 * that read as numbers, as the original's lua_isnumber allows). */
static bool table_is_array(lua_State *L)
{
    lua_Number n;
    int count = 0, max = 0;

    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        n = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : 0;
        if (!(n > 0 && n <= INT_MAX && floor(n) == n)) {
            lua_pop(L, 1);
            return false;
        }
        max = (int)n > max ? (int)n : max;
        count++;
    }
    return max == count;
}

static void encode_value(lua_State *L, struct rbuf *b, int level);

static void encode_table(lua_State *L, struct rbuf *b, int level)
{
    size_t n = 0;

    if (!lua_checkstack(L, 3)) {
        rbuf_append(b, "\xc0", 1);
        return;
    }
    if (table_is_array(L)) {
        n = lua_objlen(L, -1);
        encode_count(b, n, 0x90, 0xdc);
        for (size_t j = 1; j <= n; j++) {
            lua_rawgeti(L, -1, (int)j);
            encode_value(L, b, level + 1);
        }
        return;
    }
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        n++;
    }
    encode_count(b, n, 0x80, 0xde);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pushvalue(L, -2);
        encode_value(L, b, level + 1); /* the key */
        encode_value(L, b, level + 1); /* the value */
    }
}

/* Encodes the value on top and pops it. */
static void encode_value(lua_State *L, struct rbuf *b, int level)
{
    size_t n;
    const char *s;

    switch (lua_type(L, -1)) {
    case LUA_TSTRING:
        s = lua_tolstring(L, -1, &n);
        encode_string(b, s, n);
        break;
    case LUA_TBOOLEAN:
        rbuf_append(b, lua_toboolean(L, -1) ? "\xc3" : "\xc2", 1);
        break;
    case LUA_TNUMBER:
        encode_number(b, lua_tonumber(L, -1));
        break;
    case LUA_TTABLE:
        if (level < CMSGPACK_MAX_NESTING) {
            encode_table(L, b, level);
            break;
        }
        rbuf_append(b, "\xc0", 1);
        break;
    default:
        rbuf_append(b, "\xc0", 1);
        break;
    }
    lua_pop(L, 1);
}

static int mp_pack(lua_State *L)
{
    int nargs = lua_gettop(L);
    struct rbuf b;

    if (nargs == 0) {
        return luaL_argerror(L, 0, "MessagePack pack needs input.");
    }
    /* nothing below raises: the buffer is freed on every path */
    rbuf_init(&b);
    for (int i = 1; i <= nargs; i++) {
        if (!lua_checkstack(L, 1)) {
            break;
        }
        lua_pushvalue(L, i);
        encode_value(L, &b, 0);
    }
    lua_pushlstring(L, b.data != NULL ? b.data : "", b.len);
    rbuf_fini(&b);
    return 1;
}

/* ---- decoding ---- */

enum { MP_OK, MP_EOF, MP_BADFMT };

struct mp_cur {
    const uint8_t *p;
    size_t left;
    int err;
};

static bool need(struct mp_cur *c, size_t n)
{
    if (c->left < n) {
        c->err = MP_EOF;
        return false;
    }
    return true;
}

static uint64_t get_be(const uint8_t *p, int bytes)
{
    uint64_t v = 0;

    for (int i = 0; i < bytes; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

static void decode_value(lua_State *L, struct mp_cur *c);

static void decode_string(lua_State *L, struct mp_cur *c, size_t hdr, size_t n)
{
    if (!need(c, hdr + n)) {
        return;
    }
    lua_pushlstring(L, (const char *)c->p + hdr, n);
    c->p += hdr + n;
    c->left -= hdr + n;
}

static void decode_array(lua_State *L, struct mp_cur *c, size_t hdr, uint64_t n)
{
    c->p += hdr;
    c->left -= hdr;
    lua_newtable(L);
    for (uint64_t j = 0; j < n; j++) {
        lua_pushnumber(L, (lua_Number)(j + 1));
        decode_value(L, c);
        if (c->err != MP_OK) {
            return;
        }
        lua_settable(L, -3);
    }
}

static void decode_map(lua_State *L, struct mp_cur *c, size_t hdr, uint64_t n)
{
    c->p += hdr;
    c->left -= hdr;
    lua_newtable(L);
    for (uint64_t j = 0; j < n; j++) {
        decode_value(L, c);
        if (c->err != MP_OK) {
            return;
        }
        decode_value(L, c);
        if (c->err != MP_OK) {
            return;
        }
        lua_settable(L, -3);
    }
}

/* Numbers of fixed size after the type byte. */
static bool decode_fixed(lua_State *L, struct mp_cur *c, uint8_t t)
{
    static const struct {
        uint8_t type;
        int bytes;
        bool is_signed;
    } ints[] = {
        { 0xcc, 1, false }, { 0xcd, 2, false }, { 0xce, 4, false }, { 0xcf, 8, true },
        { 0xd0, 1, true },  { 0xd1, 2, true },  { 0xd2, 4, true },  { 0xd3, 8, true },
    };

    for (size_t i = 0; i < SH_ARRAY_LEN(ints); i++) {
        uint64_t v;
        int shift = 64 - 8 * ints[i].bytes;

        if (ints[i].type != t) {
            continue;
        }
        if (!need(c, 1 + (size_t)ints[i].bytes)) {
            return true;
        }
        v = get_be(c->p + 1, ints[i].bytes);
        if (ints[i].is_signed) {
            /* sign-extend; uint64 (0xcf) is read as int64, as Redis does */
            lua_pushnumber(L, (lua_Number)((int64_t)(v << shift) >> shift));
        } else {
            lua_pushnumber(L, (lua_Number)v);
        }
        c->p += 1 + ints[i].bytes;
        c->left -= 1 + (size_t)ints[i].bytes;
        return true;
    }
    if (t == 0xca || t == 0xcb) {
        int bytes = t == 0xca ? 4 : 8;

        if (need(c, 1 + (size_t)bytes)) {
            uint64_t v = get_be(c->p + 1, bytes);

            if (t == 0xca) {
                uint32_t u = (uint32_t)v;
                float f;

                memcpy(&f, &u, sizeof(f));
                lua_pushnumber(L, f);
            } else {
                double d;

                memcpy(&d, &v, sizeof(d));
                lua_pushnumber(L, d);
            }
            c->p += 1 + bytes;
            c->left -= 1 + (size_t)bytes;
        }
        return true;
    }
    return false;
}

/* Lengths in 1, 2 or 4 bytes after the type byte. */
static void decode_sized(lua_State *L, struct mp_cur *c, uint8_t t)
{
    int bytes = (t == 0xd9) ? 1 : (t == 0xda || t == 0xdc || t == 0xde) ? 2 : 4;
    uint64_t n;

    if (!need(c, 1 + (size_t)bytes)) {
        return;
    }
    n = get_be(c->p + 1, bytes);
    if (t >= 0xd9 && t <= 0xdb) {
        decode_string(L, c, 1 + (size_t)bytes, (size_t)n);
    } else if (t == 0xdc || t == 0xdd) {
        decode_array(L, c, 1 + (size_t)bytes, n);
    } else {
        decode_map(L, c, 1 + (size_t)bytes, n);
    }
}

/* Pushes the next value (nothing when c->err is set). */
static void decode_value(lua_State *L, struct mp_cur *c)
{
    uint8_t t;

    luaL_checkstack(L, 3, "in function mp_decode_to_lua_type");
    if (!need(c, 1)) {
        return;
    }
    t = c->p[0];
    if (t <= 0x7f || t >= 0xe0) { /* positive and negative fixint */
        lua_pushnumber(L, t <= 0x7f ? (lua_Number)t : (lua_Number)(int8_t)t);
        c->p++;
        c->left--;
    } else if (t >= 0xc0 && t <= 0xc3 && t != 0xc1) {
        if (t == 0xc0) {
            lua_pushnil(L);
        } else {
            lua_pushboolean(L, t == 0xc3);
        }
        c->p++;
        c->left--;
    } else if ((t & 0xe0) == 0xa0) {
        decode_string(L, c, 1, t & 0x1f);
    } else if ((t & 0xf0) == 0x90) {
        decode_array(L, c, 1, t & 0x0f);
    } else if ((t & 0xf0) == 0x80) {
        decode_map(L, c, 1, t & 0x0f);
    } else if (decode_fixed(L, c, t)) {
        return;
    } else if (t >= 0xd9 && t <= 0xdf) {
        decode_sized(L, c, t);
    } else {
        c->err = MP_BADFMT;
    }
}

static int unpack_full(lua_State *L, int limit, int offset)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    bool all = limit == 0 && offset == 0;
    struct mp_cur c;
    int cnt;

    if (offset < 0 || limit < 0) {
        return luaL_error(L, "Invalid request to unpack with offset of %d and limit of %d.", offset,
                          (int)len);
    }
    if ((size_t)offset > len) {
        return luaL_error(L, "Start offset %d greater than input length %d.", offset, (int)len);
    }
    if (all) {
        limit = INT_MAX;
    }
    c = (struct mp_cur){ .p = (const uint8_t *)s + offset, .left = len - (size_t)offset };
    for (cnt = 0; c.left > 0 && cnt < limit; cnt++) {
        decode_value(L, &c);
        if (c.err == MP_EOF) {
            return luaL_error(L, "Missing bytes in input.");
        }
        if (c.err == MP_BADFMT) {
            return luaL_error(L, "Bad data format in input.");
        }
    }
    if (all) {
        return cnt;
    }
    luaL_checkstack(L, 1, "in function mp_unpack_full");
    lua_pushinteger(L, c.left == 0 ? -1 : (lua_Integer)(len - c.left));
    lua_insert(L, 2);
    return cnt + 1;
}

static int mp_unpack(lua_State *L)
{
    return unpack_full(L, 0, 0);
}

static int mp_unpack_one(lua_State *L)
{
    int offset = (int)luaL_optinteger(L, 2, 0);

    lua_settop(L, 1);
    return unpack_full(L, 1, offset);
}

static int mp_unpack_limit(lua_State *L)
{
    int limit = (int)luaL_checkinteger(L, 2);
    int offset = (int)luaL_optinteger(L, 3, 0);

    lua_settop(L, 1);
    return unpack_full(L, limit, offset);
}

int lua_cmsgpack_open(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        { "pack", mp_pack },
        { "unpack", mp_unpack },
        { "unpack_one", mp_unpack_one },
        { "unpack_limit", mp_unpack_limit },
        { NULL, NULL },
    };

    lua_newtable(L);
    luaL_register(L, NULL, funcs);
    lua_pushliteral(L, "cmsgpack");
    lua_setfield(L, -2, "_NAME");
    lua_pushliteral(L, "lua-cmsgpack 0.4.0");
    lua_setfield(L, -2, "_VERSION");
    lua_pushliteral(L, "Copyright (C) 2012, Salvatore Sanfilippo");
    lua_setfield(L, -2, "_COPYRIGHT");
    lua_pushliteral(L, "MessagePack C implementation for Lua");
    lua_setfield(L, -2, "_DESCRIPTION");
    return 1;
}
