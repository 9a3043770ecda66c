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
