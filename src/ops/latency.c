/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * latency.c: one shard's latency monitor (see latency.h).
 *
 * Each event's series is a ring of LATENCY_TS_LEN samples: `idx` is where
 * the next new second goes, `n` how many slots hold a sample, so the samples
 * oldest to newest are idx - n .. idx - 1 (mod LATENCY_TS_LEN):
 *
 *   samples: [ s160 s1 s2 ... s159 ]   after 161 seconds with a sample
 *                   ^idx: s1 is the oldest and is overwritten next
 *
 * A sample is one second: a later sample of the same second only raises it,
 * as in Redis (max per second). `active` is false until the first sample
 * and again after a reset.
 *
 * Threading: one shard's thread only (latency.h).
 */
#include "shardis/latency.h"

#include <string.h>
#include <strings.h>

struct latency_series {
    bool active;
    int idx; /* slot of the next new second */
    int n;   /* slots in use */
    int64_t max;
    struct latency_sample samples[LATENCY_TS_LEN];
};

struct latency {
    struct latency_series ev[LATENCY_NEVENTS];
};

static const char *const event_names[LATENCY_NEVENTS] = {
    [LATENCY_COMMAND] = "command",
    [LATENCY_FAST_COMMAND] = "fast-command",
};

struct latency *latency_create(void)
{
    return sh_calloc(1, sizeof(struct latency));
}

void latency_destroy(struct latency *l)
{
    sh_free(l);
}

const char *latency_event_name(int ev)
{
    return ev >= 0 && ev < LATENCY_NEVENTS ? event_names[ev] : "";
}

int latency_event_find(const char *name, size_t len, bool nocase)
{
    for (int ev = 0; ev < LATENCY_NEVENTS; ev++) {
        const char *e = event_names[ev];

        if (strlen(e) == len &&
            (nocase ? strncasecmp(e, name, len) == 0 : memcmp(e, name, len) == 0)) {
            return ev;
        }
    }
    return -1;
}

void latency_add(struct latency *l, int ev, int64_t now, int64_t ms)
{
    struct latency_series *s = &l->ev[ev];
    int prev = (s->idx + LATENCY_TS_LEN - 1) % LATENCY_TS_LEN;

    if (!s->active || ms > s->max) {
        s->max = ms;
    }
    s->active = true;
    if (s->n && s->samples[prev].time == now) {
        if (ms > s->samples[prev].ms) {
            s->samples[prev].ms = ms;
        }
        return;
    }
    s->samples[s->idx].time = now;
    s->samples[s->idx].ms = ms;
    s->idx = (s->idx + 1) % LATENCY_TS_LEN;
    if (s->n < LATENCY_TS_LEN) {
        s->n++;
    }
}

bool latency_reset(struct latency *l, int ev)
{
    bool had;

    if (!l || ev < 0 || ev >= LATENCY_NEVENTS) {
        return false;
    }
    had = l->ev[ev].active;
    memset(&l->ev[ev], 0, sizeof(l->ev[ev]));
    return had;
}

bool latency_latest(const struct latency *l, int ev, struct latency_sample *latest, int64_t *max)
{
    const struct latency_series *s;

    if (!l || ev < 0 || ev >= LATENCY_NEVENTS || !l->ev[ev].active) {
        return false;
    }
    s = &l->ev[ev];
    *latest = s->samples[(s->idx + LATENCY_TS_LEN - 1) % LATENCY_TS_LEN];
    *max = s->max;
    return true;
}

int latency_history(const struct latency *l, int ev, struct latency_sample *out)
{
    const struct latency_series *s;

    if (!l || ev < 0 || ev >= LATENCY_NEVENTS) {
        return 0;
    }
    s = &l->ev[ev];
    for (int i = 0; i < s->n; i++) {
        out[i] = s->samples[(s->idx - s->n + i + LATENCY_TS_LEN) % LATENCY_TS_LEN];
    }
    return s->n;
}
