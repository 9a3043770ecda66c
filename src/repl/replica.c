/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * replica.c: the replica's side (see replica.h). Not built yet: this server
 * is never a replica.
 */
#include "shardis/replica.h"

#include "shardis/cmd.h"
#include "shardis/shard.h"

void replica_init(struct server *srv)
{
    (void)srv;
}

void replica_fini(struct server *srv)
{
    (void)srv;
}

void replica_bind(void)
{
}

bool replica_active(const struct server *srv)
{
    (void)srv;
    return false;
}

void replica_info(struct shard *sh, struct rbuf *out)
{
    (void)sh;
    (void)out;
}

void replica_role(struct cmd_ctx *ctx)
{
    (void)ctx;
}

void replica_cron(struct shard *sh)
{
    (void)sh;
}
