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
    struct latency_hist **hists; /* by command id, NULL until its first call */
    int nhists;
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
    if (l) {
        latency_hist_reset(l);
        sh_free(l->hists);
    }
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

/* ---- per-command histograms: HdrHistogram's arithmetic for lowest 1,
 * highest 1e9, 2 significant digits (sub_bucket_count 256, half 128,
 * unit_magnitude 0) ---- */

int64_t latency_hist_value_at(int idx)
{
    int bucket = (idx >> 7) - 1;
    int sub = (idx & 127) + 128;

    if (bucket < 0) {
        sub -= 128;
        bucket = 0;
    }
    return (int64_t)sub << bucket;
}

int64_t latency_hist_lowest(int64_t v)
{
    int bucket = 64 - __builtin_clzll((uint64_t)v | 255u) - 8;

    return (v >> bucket) << bucket;
}

int64_t latency_hist_highest(int64_t v)
{
    int bucket = 64 - __builtin_clzll((uint64_t)v | 255u) - 8;
    int64_t sub = v >> bucket;

    /* size_of_equivalent_value_range: the next bucket past the last sub */
    return latency_hist_lowest(v) + (INT64_C(1) << (sub >= 256 ? bucket + 1 : bucket)) - 1;
}

int64_t latency_hist_percentile(const struct latency_hist *h, double p)
{
    double req = p < 100.0 ? p : 100.0;
    int64_t want = (int64_t)(req / 100 * (double)h->total + 0.5);
    uint64_t seen = 0;
    int64_t v = 0;

    want = want > 0 ? want : 1;
    for (int i = 0; i < LATENCY_HIST_LEN; i++) {
        seen += h->counts[i];
        if (seen >= (uint64_t)want) {
            v = latency_hist_value_at(i);
            break;
        }
    }
    return p == 0.0 ? latency_hist_lowest(v) : latency_hist_highest(v);
}

int latency_hist_cdf(const struct latency_hist *h, int64_t *usec, uint64_t *cum, int max)
{
    uint64_t seen = 0, prev = 0;
    int n = 0, i = 0;

    for (int64_t level = 1024; n < max && prev < h->total; level *= 2) {
        int at = latency_hist_index(level);
        int64_t label = latency_hist_highest(level);

        if (at >= LATENCY_HIST_LEN) {
            /* past the counters (above 541 ms): hdr's iterator reports
             * its last counter, 1073741 us, and ends */
            at = LATENCY_HIST_LEN - 1;
            label = latency_hist_highest(latency_hist_value_at(at));
        }
        for (; i <= at; i++) {
            seen += h->counts[i];
        }
        if (seen > prev) {
            usec[n] = label / 1000;
            cum[n++] = seen;
        }
        if (at == LATENCY_HIST_LEN - 1) {
            break;
        }
        prev = seen;
    }
    return n;
}

void latency_track(struct latency *l, int id, int nids, int64_t us)
{
    struct latency_hist *h;

    if (SH_UNLIKELY(id >= l->nhists)) {
        if (id >= nids) {
            return;
        }
        l->hists = sh_realloc(l->hists, sizeof(*l->hists) * (size_t)nids);
        memset(l->hists + l->nhists, 0, sizeof(*l->hists) * (size_t)(nids - l->nhists));
        l->nhists = nids;
    }
    h = l->hists[id];
    if (SH_UNLIKELY(!h)) {
        h = l->hists[id] = sh_calloc(1, sizeof(*h));
    }
    latency_hist_record(h, us);
}

const struct latency_hist *latency_hist_of(const struct latency *l, int id)
{
    return l && id >= 0 && id < l->nhists ? l->hists[id] : NULL;
}

void latency_hist_reset(struct latency *l)
{
    if (!l) {
        return;
    }
    for (int i = 0; i < l->nhists; i++) {
        sh_free(l->hists[i]);
        l->hists[i] = NULL;
    }
}
