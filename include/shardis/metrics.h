/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * metrics.h: GET /metrics, the server's figures in the Prometheus text
 * exposition format (version 0.0.4), over HTTP/1.0 and HTTP/1.1 on
 * metrics-port (0: off) at metrics-bind, served by shard 0's ring.
 *
 * The figures are INFO's (named as redis_exporter names them), INFO's
 * "shards" section with a shard label, and the per-command latency
 * histograms of LATENCY HISTOGRAM; see metrics.c.
 *
 * Threading: shard 0's thread only; the other shards answer through their
 * mailboxes, as for INFO.
 */
#pragma once

#include "shardis/sh.h"

struct shard;

/* At the shard's start, once its ring exists: on shard 0 with a
 * metrics-port, binds the listener and arms its accept; elsewhere a no-op.
 * Returns 0, or -errno when the port cannot be bound (the start fails). */
SH_MUST_CHECK int metrics_setup(struct shard *sh);
/* At the shard's teardown, after its ring is gone (no completion will come):
 * closes the listener and every HTTP connection and frees them. No-op where
 * metrics_setup did nothing. */
void metrics_fini(struct shard *sh);
