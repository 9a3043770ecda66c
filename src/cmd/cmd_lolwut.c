/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_lolwut.c: LOLWUT [VERSION v] [args ...], as Redis 7.0's lolwut.c,
 * lolwut5.c and lolwut6.c have it.
 *
 * The server's own version (7) answers "Redis ver. 7.0.15\n"; VERSION 5
 * draws Georg Nees's "Schotter" (squares rotated more as they go down) in
 * Braille characters, VERSION 6 a city skyline in ANSI gray levels. Every
 * reply is a verbatim "txt" string in RESP3 and a bulk string in RESP2.
 *
 * Canvas: width x height pixels, one byte each (colors 0..3); v5's canvas
 * (up to 2000 x 399204 pixels at Redis's limits) keeps one bit a pixel.
 * The random numbers come from a per-call xorshift generator instead of
 * libc's rand(), so cores share no state; the drawing is random in Redis
 * too.
 *
 * Threading: runs on the client's core (CMD_ROUTE_CONN), touches no shard
 * data.
 */
#include "shardis/cmd.h"
#include "shardis/cmd_bind.h"
#include "shardis/cmdtab.h"
#include "shardis/reply.h"
#include "shardis/util.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOLWUT_REDIS_VERSION "7.0.15"
#define LOLWUT_RAND_MAX      0x7fffffff

struct lw_canvas {
    int width;
    int height;
    int bits; /* bits per pixel: 1 or 8 */
    uint8_t *pixels;
};

/* A 31-bit generator standing in for rand() (xorshift64*). */
static uint64_t lw_seed(void)
{
    struct timespec ts;
    static _Thread_local uint64_t calls;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ((uint64_t)ts.tv_sec * 1000000007u) ^ (uint64_t)ts.tv_nsec ^ (++calls << 32) ^ 1u;
}

static int lw_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (int)((*s * UINT64_C(2685821657736338717)) >> 33);
}

/* Returns 0, or -ENOMEM when the client-sized canvas cannot be allocated. */
static int lw_canvas_init(struct lw_canvas *c, int width, int height, int bits, int bgcolor)
{
    size_t n = (size_t)width * (size_t)height;
    size_t bytes = bits == 1 ? (n + 7) / 8 : n;

    c->width = width;
    c->height = height;
    c->bits = bits;
    c->pixels = sh_try_malloc(bytes ? bytes : 1);
    if (!c->pixels) {
        return -ENOMEM;
    }
    memset(c->pixels, bits == 1 ? (bgcolor ? 0xff : 0) : bgcolor, bytes);
    return 0;
}

static void lw_canvas_fini(struct lw_canvas *c)
{
    sh_free(c->pixels);
    c->pixels = NULL;
}

static void lw_draw_pixel(struct lw_canvas *c, int x, int y, int color)
{
    if (x < 0 || x >= c->width || y < 0 || y >= c->height) {
        return;
    }
    size_t i = (size_t)x + (size_t)y * (size_t)c->width;
    if (c->bits == 8) {
        c->pixels[i] = (uint8_t)color;
    } else if (color) {
        c->pixels[i / 8] |= (uint8_t)(1u << (i % 8));
    } else {
        c->pixels[i / 8] &= (uint8_t) ~(1u << (i % 8));
    }
}

static int lw_get_pixel(const struct lw_canvas *c, int x, int y)
{
    if (x < 0 || x >= c->width || y < 0 || y >= c->height) {
        return 0;
    }
    size_t i = (size_t)x + (size_t)y * (size_t)c->width;
    return c->bits == 8 ? c->pixels[i] : (c->pixels[i / 8] >> (i % 8)) & 1;
}

/* Bresenham, as lwDrawLine. */
static void lw_draw_line(struct lw_canvas *c, int x1, int y1, int x2, int y2, int color)
{
    int dx = abs(x2 - x1);
    int dy = abs(y2 - y1);
    int sx = x1 < x2 ? 1 : -1;
    int sy = y1 < y2 ? 1 : -1;
    int err = dx - dy;

    for (;;) {
        lw_draw_pixel(c, x1, y1, color);
        if (x1 == x2 && y1 == y2) {
            break;
        }
        int e2 = err * 2;
        if (e2 > -dy) {
            err -= dy;
            x1 += sx;
        }
        if (e2 < dx) {
            err += dx;
            y1 += sy;
        }
    }
}

/* lwDrawSquare: centered at x,y, rotated by angle. */
static void lw_draw_square(struct lw_canvas *c, int x, int y, float size, float angle)
{
    int px[4], py[4];

    size /= 1.4142135623f;
    size = roundf(size);
    float k = (float)M_PI / 4 + angle;
    for (int j = 0; j < 4; j++) {
        px[j] = (int)round(sin(k) * size + x);
        py[j] = (int)round(cos(k) * size + y);
        k += (float)M_PI / 2;
    }
    for (int j = 0; j < 4; j++) {
        lw_draw_line(c, px[j], py[j], px[(j + 1) % 4], py[(j + 1) % 4], 1);
    }
}

static float lw_rand_signed(uint64_t *s, int per_col, int y)
{
    return (float)lw_rand(s) / (float)LOLWUT_RAND_MAX / (float)per_col * (float)y;
}

/* lwDrawSchotter */
static int lw_draw_schotter(struct lw_canvas *c, int cols, int per_row, int per_col)
{
    int width = cols * 2;
    int padding = width > 4 ? 2 : 0;
    float side = (float)(width - padding * 2) / (float)per_row;
    int height = (int)(side * (float)per_col + (float)(padding * 2));
    uint64_t seed = lw_seed();

    if (lw_canvas_init(c, width, height, 1, 0) != 0) {
        return -ENOMEM;
    }
    for (int y = 0; y < per_col; y++) {
        for (int x = 0; x < per_row; x++) {
            int sx = (int)((float)x * side + side / 2 + (float)padding);
            int sy = (int)((float)y * side + side / 2 + (float)padding);
            float angle = 0;
            if (y > 1) {
                float r1 = lw_rand_signed(&seed, per_col, y);
                float r2 = lw_rand_signed(&seed, per_col, y);
                float r3 = lw_rand_signed(&seed, per_col, y);
                r1 = lw_rand(&seed) % 2 ? -r1 : r1;
                r2 = lw_rand(&seed) % 2 ? -r2 : r2;
                r3 = lw_rand(&seed) % 2 ? -r3 : r3;
                angle = r1;
                sx += (int)(r2 * side / 3);
                sy += (int)(r3 * side / 3);
            }
            lw_draw_square(c, sx, sy, side, angle);
        }
    }
    return 0;
}

/* lolwut5.c's renderCanvas: 2x4 pixels per Braille character (U+2800). */
static void lw_render_braille(const struct lw_canvas *c, struct rbuf *out)
{
    static const int dx[8] = { 0, 0, 0, 1, 1, 1, 0, 1 };
    static const int dy[8] = { 0, 1, 2, 0, 1, 2, 3, 3 };

    for (int y = 0; y < c->height; y += 4) {
        for (int x = 0; x < c->width; x += 2) {
            int byte = 0;
            for (int b = 0; b < 8; b++) {
                byte |= lw_get_pixel(c, x + dx[b], y + dy[b]) << b;
            }
            int code = 0x2800 + byte;
            char u[3] = { (char)(0xE0 | (code >> 12)), (char)(0x80 | ((code >> 6) & 0x3F)),
                          (char)(0x80 | (code & 0x3F)) };
            rbuf_append(out, u, 3);
        }
        if (y != c->height - 1) {
            rbuf_append(out, "\n", 1);
        }
    }
}

/* lolwut6.c's renderCanvas: one ANSI-colored space per pixel. */
static void lw_render_ansi(const struct lw_canvas *c, struct rbuf *out)
{
    static const char *const ce[4] = { "0;30;40m", "0;90;100m", "0;37;47m", "0;97;107m" };

    for (int y = 0; y < c->height; y++) {
        for (int x = 0; x < c->width; x++) {
            const char *e = ce[lw_get_pixel(c, x, y) & 3];
            rbuf_append(out, "\033[", 2);
            rbuf_append(out, e, strlen(e));
            rbuf_append(out, " \033[0m", 5);
        }
        if (y != c->height - 1) {
            rbuf_append(out, "\n", 1);
        }
    }
}

struct skyscraper {
    int xoff;
    int width;
    int height;
    int windows;
    int color;
};

/* generateSkyscraper: windows are random grays, two pixels wide. */
static void lw_skyscraper(struct lw_canvas *c, const struct skyscraper *si, uint64_t *seed)
{
    int starty = c->height - 1;
    int endy = starty - si->height + 1;

    for (int y = starty; y >= endy; y--) {
        for (int x = si->xoff; x < si->xoff + si->width; x++) {
            if (y == endy && (x <= si->xoff + 1 || x >= si->xoff + si->width - 2)) {
                continue; /* the roof is four pixels narrower */
            }
            int color = si->color;
            if (si->windows && x > si->xoff + 1 && x < si->xoff + si->width - 2 && y > endy + 1 &&
                y < starty - 1) {
                int relx = x - (si->xoff + 1);
                int rely = y - (endy + 1);
                if (relx / 2 % 2 && rely % 2) {
                    do {
                        color = 1 + lw_rand(seed) % 2;
                    } while (color == si->color);
                    if (relx % 2) {
                        color = lw_get_pixel(c, x - 1, y);
                    }
                }
            }
            lw_draw_pixel(c, x, y, color);
        }
    }
}

/* generateSkyline: two gray background passes, then the windowed front. */
static void lw_skyline(struct lw_canvas *c)
{
    struct skyscraper si;
    uint64_t seed = lw_seed();

    for (int color = 2; color >= 1; color--) {
        si.color = color;
        for (int offset = -10; offset < c->width;) {
            offset += lw_rand(&seed) % 8;
            si.xoff = offset;
            si.width = 10 + lw_rand(&seed) % 9;
            if (color == 2) {
                si.height = c->height / 2 + lw_rand(&seed) % c->height / 2;
            } else {
                si.height = c->height / 2 + lw_rand(&seed) % c->height / 3;
            }
            si.windows = 0;
            lw_skyscraper(c, &si, &seed);
            offset += color == 2 ? si.width / 2 : si.width + 1;
        }
    }
    si.color = 0;
    for (int offset = -10; offset < c->width;) {
        offset += lw_rand(&seed) % 8;
        si.xoff = offset;
        si.width = 5 + lw_rand(&seed) % 14;
        if (si.width % 4) {
            si.width += si.width % 3;
        }
        si.height = c->height / 3 + lw_rand(&seed) % c->height / 2;
        si.windows = 1;
        lw_skyscraper(c, &si, &seed);
        offset += si.width + 5;
    }
}

static long clamp(long v, long lo, long hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* getLongFromObjectOrReply for the optional numeric arguments argv[1..]. */
static bool parse_longs(struct cmd_ctx *ctx, const struct sh_slice *argv, int argc, long *out,
                        int n)
{
    for (int i = 0; i < n && i + 1 < argc; i++) {
        long long v;
        if (!util_str2ll(argv[i + 1].ptr, argv[i + 1].len, &v)) {
            reply_err_notint(&ctx->r);
            return false;
        }
        out[i] = (long)v;
    }
    return true;
}

static void reply_rendered(struct cmd_ctx *ctx, struct rbuf *b, const char *trailer)
{
    rbuf_append(b, trailer, strlen(trailer));
    rbuf_append(b, LOLWUT_REDIS_VERSION "\n", strlen(LOLWUT_REDIS_VERSION "\n"));
    reply_verbatim(&ctx->r, b->data, b->len, "txt");
    rbuf_fini(b);
}

/* lolwut5Command: LOLWUT VERSION 5 [cols] [squares-per-row] [squares-per-col] */
static void lolwut5(struct cmd_ctx *ctx, const struct sh_slice *argv, int argc)
{
    long v[3] = { 66, 8, 12 };
    struct lw_canvas c;
    struct rbuf b;

    if (!parse_longs(ctx, argv, argc, v, 3)) {
        return;
    }
    if (lw_draw_schotter(&c, (int)clamp(v[0], 1, 1000), (int)clamp(v[1], 1, 200),
                         (int)clamp(v[2], 1, 200)) != 0) {
        reply_error(&ctx->r, "OOM command not allowed when out of memory");
        return;
    }
    rbuf_init(&b);
    lw_render_braille(&c, &b);
    lw_canvas_fini(&c);
    reply_rendered(ctx, &b, "\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. ");
}

/* lolwut6Command: LOLWUT VERSION 6 [cols] [rows] */
static void lolwut6(struct cmd_ctx *ctx, const struct sh_slice *argv, int argc)
{
    long v[2] = { 80, 20 };
    struct lw_canvas c;
    struct rbuf b;

    if (!parse_longs(ctx, argv, argc, v, 2)) {
        return;
    }
    if (lw_canvas_init(&c, (int)clamp(v[0], 1, 1000), (int)clamp(v[1], 1, 1000), 8, 3) != 0) {
        reply_error(&ctx->r, "OOM command not allowed when out of memory");
        return;
    }
    lw_skyline(&c);
    rbuf_init(&b);
    lw_render_ansi(&c, &b);
    lw_canvas_fini(&c);
    reply_rendered(ctx, &b,
                   "\nDedicated to the 8 bit game developers of past and present.\n"
                   "Original 8 bit image from Plaguemon by hikikomori. Redis ver. ");
}

/* lolwutCommand: VERSION picks the drawing by the "%u.0.0" version string
 * it makes ("5.x" and "4.9" draw v5, "6.x" and "5.9" v6); its two
 * arguments are dropped from what the drawing parses, so argv[0] of the
 * drawing is the version number. Anything else answers the version. */
static void cmd_lolwut(struct cmd_ctx *ctx)
{
    const struct sh_slice *argv = ctx->argv;
    int argc = ctx->argc;
    char ver[32] = LOLWUT_REDIS_VERSION;

    if (argc >= 3 && sh_slice_eq_nocase(argv[1], "version")) {
        long long v;
        if (!util_str2ll(argv[2].ptr, argv[2].len, &v)) {
            reply_err_notint(&ctx->r);
            return;
        }
        snprintf(ver, sizeof(ver), "%u.0.0", (unsigned int)v);
        argv += 2;
        argc -= 2;
    }
    if ((ver[0] == '5' && ver[1] == '.' && ver[2] != '9') ||
        (ver[0] == '4' && ver[1] == '.' && ver[2] == '9')) {
        lolwut5(ctx, argv, argc);
    } else if ((ver[0] == '6' && ver[1] == '.' && ver[2] != '9') ||
               (ver[0] == '5' && ver[1] == '.' && ver[2] == '9')) {
        lolwut6(ctx, argv, argc);
    } else {
        static const char text[] = "Redis ver. " LOLWUT_REDIS_VERSION "\n";
        reply_verbatim(&ctx->r, text, sizeof(text) - 1, "txt");
    }
}

void cmd_lolwut_bind(void)
{
    cmd_must_bind("lolwut", cmd_lolwut, CMD_ROUTE_CONN, NULL);
}
