/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * latency.h: one shard's latency monitor, as Redis 7.0's LATENCY keeps it:
 * per event, the LATENCY_TS_LEN most recent samples at one-second
 * granularity (the largest latency seen in each second), and the all-time
 * maximum. An event has no series until its first sample, and LATENCY RESET
 * removes it again.
 *
 * Events are a fixed set (enum latency_event) named as Redis names them.
 *
 * Threading: a monitor belongs to one shard and is touched by that shard's
 * thread only. A NULL monitor reads as one with no events, so a shard creates
 * its monitor at its first sample.
 */
#pragma once

#include "shardis/sh.h"

struct latency;

#define LATENCY_TS_LEN 160 /* Redis's LATENCY_TS_LEN */

enum latency_event {
    LATENCY_COMMAND = 0,      /* "command": a slow command that is not @fast */
    LATENCY_FAST_COMMAND = 1, /* "fast-command": a slow @fast command */
    LATENCY_NEVENTS = 2,
};

struct latency_sample {
    int64_t time; /* unix seconds */
    int64_t ms;   /* latency in milliseconds */
};

/* A monitor with no events. Never fails (aborts when out of memory). */
struct latency *latency_create(void);
/* NULL is a no-op. */
void latency_destroy(struct latency *l);

/* Redis's name of event ev ("command", "fast-command"). */
const char *latency_event_name(int ev);
/* The event named name[0..len), compared exactly (LATENCY HISTORY) or
 * ignoring case (LATENCY RESET), or -1 when there is none. */
int latency_event_find(const char *name, size_t len, bool nocase);

/* Records ms milliseconds for event ev at unix second now: a new sample, or
 * the larger of the two when the newest sample is of the same second. O(1).
 * l must not be NULL. */
void latency_add(struct latency *l, int ev, int64_t now, int64_t ms);
/* Removes event ev's series; returns whether it had one. NULL: false. */
bool latency_reset(struct latency *l, int ev);
/* Event ev's newest sample and all-time maximum; false when ev has no
 * series (NULL included). */
bool latency_latest(const struct latency *l, int ev, struct latency_sample *latest, int64_t *max);
/* Copies event ev's samples, oldest first, into out (LATENCY_TS_LEN of room)
 * and returns how many there are (0 when none, NULL included). */
int latency_history(const struct latency *l, int ev, struct latency_sample *out);

/* ---- per-command latency histograms (LATENCY HISTOGRAM, INFO latencystats)
 *
 * Redis 7.0's HdrHistogram of each command's call durations, rebuilt with
 * the same layout: values in nanoseconds from 1 to 1e9 (a duration of us
 * microseconds is recorded as us * 1000, clamped), 2 significant digits, so
 * 23 buckets of 128 sub-buckets: LATENCY_HIST_LEN counters, each value
 * within 1/128 of its counter's range. Recording is a few shifts and one
 * increment; two histograms merge by adding their counters, exactly. */

#define LATENCY_HIST_LEN    3072
#define LATENCY_HIST_MAX_NS 1000000000LL

struct latency_hist {
    uint64_t total;
    uint64_t counts[LATENCY_HIST_LEN];
};

/* The counter of a value in nanoseconds (1 .. LATENCY_HIST_MAX_NS). */
static inline int latency_hist_index(int64_t ns)
{
    int pow2ceiling = 64 - __builtin_clzll((uint64_t)ns | 255u);
    int bucket = pow2ceiling - 8;
    int sub = (int)(ns >> bucket);

    return ((bucket + 1) << 7) + sub - 128;
}

static inline void latency_hist_record(struct latency_hist *h, int64_t us)
{
    int64_t ns = us < LATENCY_HIST_MAX_NS / 1000 ? us * 1000 : LATENCY_HIST_MAX_NS;

    h->counts[latency_hist_index(ns < 1 ? 1 : ns)]++;
    h->total++;
}

/* HdrHistogram's value of counter idx, and the lowest and highest values
 * that share v's counter. */
int64_t latency_hist_value_at(int idx);
int64_t latency_hist_lowest(int64_t v);
int64_t latency_hist_highest(int64_t v);
/* hdr_value_at_percentile (p in 0 .. 100), in nanoseconds; 0 when empty. */
int64_t latency_hist_percentile(const struct latency_hist *h, double p);
/* LATENCY HISTOGRAM's histogram_usec: the cumulative count at each
 * power-of-two level from 1024 ns (hdr_iter_log_init(1024, 2)), labelled by
 * the level's highest equivalent value in microseconds, only where the
 * count grew. Writes up to max pairs; returns how many. */
int latency_hist_cdf(const struct latency_hist *h, int64_t *usec, uint64_t *cum, int max);

/* Records us microseconds for command id (1 .. nids - 1), allocating the
 * command's histogram at its first call. l must not be NULL. */
void latency_track(struct latency *l, int id, int nids, int64_t us);
/* Command id's histogram, NULL when it has none (NULL l included). */
const struct latency_hist *latency_hist_of(const struct latency *l, int id);
/* Drops every command's histogram (CONFIG RESETSTAT). NULL: no-op. */
void latency_hist_reset(struct latency *l);
