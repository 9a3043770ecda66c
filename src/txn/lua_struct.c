/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lua_struct.c: the struct library of Redis's Lua (struct.pack,
 * struct.unpack, struct.size), written here because Debian does not package
 * it. It follows the behaviour of the library Redis 7.0 ships (Roberto
 * Ierusalimschy's struct 0.2 with Redis's fixes), checked against a real
 * redis-server, errors and quirks included.
 *
 * A format is a string of options read left to right:
 *   >  <       big / little endian (default: the machine's)
 *   ![n]       maximum alignment n (a power of 2; default 1, "!" alone 8)
 *   b B        signed / unsigned char      h H   short
 *   l L        long                        T     size_t
 *   i[n] I[n]  integer of n bytes (default sizeof(int), at most 32)
 *   f d        float, double               x     a zero byte of padding
 *   s          zero-terminated string      c[n]  n chars (c0: pack the whole
 *              string; unpack the length read by the option before)
 *   ' '        ignored
 * Integers travel as Lua numbers (doubles); an n-byte integer is the low n
 * bytes of its 64-bit two's complement, and sizes past 8 keep x86-64's
 * shift behaviour (what Redis returns on that machine), without C's
 * undefined behaviour for shifts and out-of-range conversions.
 */
#include "script_internal.h"

#include <ctype.h>
#include <float.h>
#include <lauxlib.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#define STRUCT_MAXINTSIZE 32
/* the alignment of a double, a pointer and a lua_Number */
#define STRUCT_MAXALIGN   8

struct header {
    bool little;
    int align;
};

static bool machine_little(void)
{
    const uint16_t one = 1;
    uint8_t first;

    memcpy(&first, &one, 1);
    return first == 1;
}

static void default_header(struct header *h)
{
    h->little = machine_little();
    h->align = 1;
}

static int getnum(lua_State *L, const char **fmt, int df)
{
    int a = 0;

    if (!isdigit((unsigned char)**fmt)) {
        return df;
    }
    do {
        if (a > INT_MAX / 10 || a * 10 > INT_MAX - (**fmt - '0')) {
            luaL_error(L, "integral size overflow");
        }
        a = a * 10 + *((*fmt)++) - '0';
    } while (isdigit((unsigned char)**fmt));
    return a;
}

static size_t optsize(lua_State *L, char opt, const char **fmt)
{
    int sz;

    switch (opt) {
    case 'B':
    case 'b':
    case 'x':
        return 1;
    case 'H':
    case 'h':
        return sizeof(short);
    case 'L':
    case 'l':
        return sizeof(long);
    case 'T':
        return sizeof(size_t);
    case 'f':
        return sizeof(float);
    case 'd':
        return sizeof(double);
    case 'c':
        return (size_t)getnum(L, fmt, 1);
    case 'i':
    case 'I':
        sz = getnum(L, fmt, sizeof(int));
        if (sz > STRUCT_MAXINTSIZE) {
            luaL_error(L, "integral size %d is larger than limit of %d", sz, STRUCT_MAXINTSIZE);
        }
        return (size_t)sz;
    default:
        return 0;
    }
}

/* Padding before an item of size at len; kept as the original computes it,
 * also for sizes that are not powers of two. */
static size_t gettoalign(size_t len, const struct header *h, char opt, size_t size)
{
    if (size == 0 || opt == 'c') {
        return 0;
    }
    if (size > (size_t)h->align) {
        size = (size_t)h->align;
    }
    return (size - (len & (size - 1))) & (size - 1);
}

static void controloptions(lua_State *L, char opt, const char **fmt, struct header *h)
{
    int a;

    switch (opt) {
    case ' ':
        return;
    case '>':
        h->little = false;
        return;
    case '<':
        h->little = true;
        return;
    case '!':
        a = getnum(L, fmt, STRUCT_MAXALIGN);
        if (a <= 0 || (a & (a - 1)) != 0) {
            luaL_error(L, "alignment %d is not a power of 2", a);
        }
        h->align = a;
        return;
    default:
        luaL_argerror(L, 1, lua_pushfstring(L, "invalid format option '%c'", opt));
    }
}

/* The 64-bit pattern of a Lua number: (uint64)(int64)n when negative,
 * (uint64)n otherwise; out of range as x86-64 converts (0x8000...). */
static uint64_t number_bits(lua_Number n)
{
    if (n < 0) {
        return n >= -9223372036854775808.0 ? (uint64_t)(int64_t)n : 0x8000000000000000ULL;
    }
    return n < 18446744073709551616.0 ? (uint64_t)n : 0;
}

static void putinteger(lua_State *L, luaL_Buffer *b, int arg, bool little, size_t size)
{
    uint64_t value = number_bits(luaL_checknumber(L, arg));
    char buff[STRUCT_MAXINTSIZE];

    for (size_t i = 0; i < size; i++) {
        buff[little ? i : size - 1 - i] = (char)(value & 0xff);
        value >>= 8;
    }
    luaL_addlstring(b, buff, size);
}

/* Puts a float's or double's bytes in the asked order. */
static void correctbytes(char *p, size_t size, bool little)
{
    if (little != machine_little()) {
        for (size_t i = 0; i < size / 2; i++) {
            char t = p[i];

            p[i] = p[size - 1 - i];
            p[size - 1 - i] = t;
        }
    }
}

static float to_float(double d)
{
    if (d > FLT_MAX) {
        return INFINITY;
    }
    if (d < -FLT_MAX) {
        return -INFINITY;
    }
    return (float)d;
}

/* One option of struct.pack; returns the bytes it added. */
static size_t pack_one(lua_State *L, luaL_Buffer *b, char opt, size_t size, int *arg,
                       struct header *h, const char **fmt)
{
    switch (opt) {
    case 'b':
    case 'B':
    case 'h':
    case 'H':
    case 'l':
    case 'L':
    case 'T':
    case 'i':
    case 'I':
        putinteger(L, b, (*arg)++, h->little, size);
        return size;
    case 'x':
        luaL_addchar(b, '\0');
        return size;
    case 'f': {
        float f = to_float(luaL_checknumber(L, (*arg)++));

        correctbytes((char *)&f, size, h->little);
        luaL_addlstring(b, (char *)&f, size);
        return size;
    }
    case 'd': {
        double d = luaL_checknumber(L, (*arg)++);

        correctbytes((char *)&d, size, h->little);
        luaL_addlstring(b, (char *)&d, size);
        return size;
    }
    case 'c':
    case 's': {
        size_t l;
        const char *s = luaL_checklstring(L, (*arg)++, &l);

        if (size == 0) {
            size = l;
        }
        /* the original reports the argument after the string */
        luaL_argcheck(L, l >= size, *arg, "string too short");
        luaL_addlstring(b, s, size);
        if (opt == 's') {
            luaL_addchar(b, '\0');
            size++;
        }
        return size;
    }
    default:
        controloptions(L, opt, fmt, h);
        return size;
    }
}

static int struct_pack(lua_State *L)
{
    luaL_Buffer b;
    const char *fmt = luaL_checkstring(L, 1);
    struct header h;
    int arg = 2;
    size_t total = 0;

    default_header(&h);
    lua_pushnil(L); /* keeps the arguments below the buffer's pieces */
    luaL_buffinit(L, &b);
    while (*fmt != '\0') {
        char opt = *fmt++;
        size_t size = optsize(L, opt, &fmt);
        size_t toalign = gettoalign(total, &h, opt, size);

        total += toalign;
        while (toalign-- > 0) {
            luaL_addchar(&b, '\0');
        }
        total += pack_one(L, &b, opt, size, &arg, &h, &fmt);
    }
    luaL_pushresult(&b);
    return 1;
}

static lua_Number getinteger(const char *buff, bool little, bool is_signed, size_t size)
{
    uint64_t l = 0, mask;

    for (size_t i = 0; i < size; i++) {
        l <<= 8;
        l |= (unsigned char)buff[little ? size - 1 - i : i];
    }
    if (!is_signed) {
        return (lua_Number)l;
    }
    /* x86-64 takes shift counts modulo 64 */
    mask = ~(uint64_t)0 << ((size * 8 - 1) & 63);
    if (l & mask) {
        l |= mask;
    }
    return (lua_Number)(int64_t)l;
}

/* One option of struct.unpack at pos; returns its size (c0 may change it)
 * and counts the values it pushed in *n. */
static size_t unpack_one(lua_State *L, char opt, size_t size, const char *data, size_t ld,
                         size_t pos, int *n, struct header *h, const char **fmt)
{
    switch (opt) {
    case 'b':
    case 'B':
    case 'h':
    case 'H':
    case 'l':
    case 'L':
    case 'T':
    case 'i':
    case 'I':
        lua_pushnumber(L, getinteger(data + pos, h->little, islower((unsigned char)opt), size));
        (*n)++;
        return size;
    case 'x':
        return size;
    case 'f': {
        float f;

        memcpy(&f, data + pos, size);
        correctbytes((char *)&f, sizeof(f), h->little);
        lua_pushnumber(L, f);
        (*n)++;
        return size;
    }
    case 'd': {
        double d;

        memcpy(&d, data + pos, size);
        correctbytes((char *)&d, sizeof(d), h->little);
        lua_pushnumber(L, d);
        (*n)++;
        return size;
    }
    case 'c':
        if (size == 0) {
            lua_Number prev;

            if (*n == 0 || !lua_isnumber(L, -1)) {
                luaL_error(L, "format 'c0' needs a previous size");
            }
            prev = lua_tonumber(L, -1);
            size = prev >= 0 && prev < 9007199254740992.0 ? (size_t)prev : SIZE_MAX;
            lua_pop(L, 1);
            (*n)--;
            luaL_argcheck(L, size <= ld && pos <= ld - size, 2, "data string too short");
        }
        lua_pushlstring(L, data + pos, size);
        (*n)++;
        return size;
    case 's': {
        const char *e = memchr(data + pos, '\0', ld - pos);

        if (e == NULL) {
            luaL_error(L, "unfinished string in data");
        }
        size = (size_t)(e - (data + pos)) + 1;
        lua_pushlstring(L, data + pos, size - 1);
        (*n)++;
        return size;
    }
    default:
        controloptions(L, opt, fmt, h);
        return size;
    }
}

static int struct_unpack(lua_State *L)
{
    struct header h;
    const char *fmt = luaL_checkstring(L, 1);
    size_t ld;
    const char *data = luaL_checklstring(L, 2, &ld);
    /* a negative offset wraps, as in the original, and fails below */
    size_t pos = (size_t)luaL_optinteger(L, 3, 1);
    int n = 0;

    luaL_argcheck(L, pos > 0, 3, "offset must be 1 or greater");
    pos--;
    default_header(&h);
    while (*fmt != '\0') {
        char opt = *fmt++;
        size_t size = optsize(L, opt, &fmt);

        pos += gettoalign(pos, &h, opt, size);
        luaL_argcheck(L, size <= ld && pos <= ld - size, 2, "data string too short");
        luaL_checkstack(L, 2, "too many results");
        pos += unpack_one(L, opt, size, data, ld, pos, &n, &h, &fmt);
    }
    lua_pushinteger(L, (lua_Integer)pos + 1);
    return n + 1;
}

static int struct_size(lua_State *L)
{
    struct header h;
    const char *fmt = luaL_checkstring(L, 1);
    size_t pos = 0;

    default_header(&h);
    while (*fmt != '\0') {
        char opt = *fmt++;
        size_t size = optsize(L, opt, &fmt);

        pos += gettoalign(pos, &h, opt, size);
        if (opt == 's') {
            luaL_argerror(L, 1, "option 's' has no fixed size");
        } else if (opt == 'c' && size == 0) {
            luaL_argerror(L, 1, "option 'c0' has no fixed size");
        }
        /* the original ignores unknown letters here, and only here */
        if (!isalnum((unsigned char)opt)) {
            controloptions(L, opt, &fmt, &h);
        }
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)pos);
    return 1;
}

int lua_struct_open(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        { "pack", struct_pack },
        { "unpack", struct_unpack },
        { "size", struct_size },
        { NULL, NULL },
    };

    lua_newtable(L);
    luaL_register(L, NULL, funcs);
    return 1;
}
