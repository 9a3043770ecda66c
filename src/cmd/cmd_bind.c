/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_bind.c: binds every command family into the table (see cmd_bind.h).
 */
#include "shardis/cmd_bind.h"

#include "shardis/block.h"
#include "shardis/eval.h"
#include "shardis/monitor.h"
#include "shardis/multi.h"
#include "shardis/pubsub.h"
#include "shardis/repl.h"

void cmd_bind_all(void)
{
    cmd_string_bind();
    cmd_keys_bind();
    cmd_server_bind();
    cmd_diag_bind();
    cmd_acl_bind();
    cmd_hash_bind();
    cmd_set_bind();
    cmd_zset_bind();
    cmd_list_bind();
    cmd_object_bind();
    cmd_bitmap_bind();
    cmd_hll_bind();
    cmd_geo_bind();
    cmd_sort_bind();
    cmd_lcs_bind();
    cmd_debug_bind();
    cmd_lolwut_bind();
    cmd_command_bind();
    cmd_dump_bind();
    cmd_stream_bind();
    cmd_persist_bind();
    cmd_migrate_bind();
    block_bind();
    monitor_bind();
    pubsub_bind();
    multi_bind();
    eval_bind();
    repl_bind();
}
