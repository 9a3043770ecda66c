/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * metrics_text.h: the exposition text of a scrape (metrics_text.c), private
 * to core/metrics.c.
 */
#pragma once

#include "shardis/reply.h"
#include "shardis/sh.h"

struct latency_hist;

/* A rendered response body, shared by the HTTP connections it answers;
 * freed when its last reference goes. */
struct metrics_body {
    int refs;
    struct rbuf text;
};

/* The text of one scrape: info is INFO everything's reply (a RESP2 bulk
 * string), hist the merged histograms ([cmdtab_nids()], NULL entries for
 * commands never timed; hist itself may be NULL), both borrowed; now_ms the
 * unix time. Returns a body with one reference. Cost: O(INFO's lines x the
 * field table) and O(commands x buckets). */
struct metrics_body *metrics_text_render(int64_t now_ms, const struct rbuf *info,
                                         struct latency_hist **hist);
/* Drops a reference; NULL is a no-op. */
void metrics_body_unref(struct metrics_body *b);
