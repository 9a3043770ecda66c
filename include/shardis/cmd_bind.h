/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_bind.h: the command families of cmd/ and the one call that binds them
 * all into the command table (cmdtab_bind), in main before the shards start.
 * Only main and tests name this header: core/ reaches handlers through the
 * table alone.
 */
#pragma once

#include <stdbool.h>

/* Binds every family, the runtime's own commands (blocking, pub/sub,
 * MONITOR) included. Panics if the table and the code disagree. */
void cmd_bind_all(void);

void cmd_string_bind(void);
void cmd_keys_bind(void);
void cmd_server_bind(void);
void cmd_info_bind(void); /* INFO; called by cmd_server_bind */
void cmd_diag_bind(void); /* SLOWLOG LATENCY */
void cmd_acl_bind(void);
void cmd_hash_bind(void);
void cmd_set_bind(void);
void cmd_zset_bind(void);
void cmd_list_bind(void);
void cmd_object_bind(void);
void cmd_bitmap_bind(void);  /* SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD */
void cmd_hll_bind(void);     /* PFADD PFCOUNT PFMERGE PFDEBUG PFSELFTEST */
void cmd_geo_bind(void);     /* GEO* */
void cmd_sort_bind(void);    /* SORT SORT_RO */
void cmd_lcs_bind(void);     /* LCS */
void cmd_debug_bind(void);   /* DEBUG */
void cmd_lolwut_bind(void);  /* LOLWUT */
void cmd_command_bind(void); /* COMMAND GETKEYSANDFLAGS HELP (cmd_command.c) */
void cmd_dump_bind(void);    /* DUMP RESTORE */
void cmd_stream_bind(void);  /* X* (cmd_stream.c) */
void cmd_persist_bind(void); /* SAVE BGSAVE LASTSAVE (cmd_persist.c) */
void cmd_migrate_bind(void); /* MIGRATE (cmd_migrate.c) */
struct cmd_ctx;
struct gather;
/* DEBUG RELOAD [NOSAVE] (save: not NOSAVE), and SHUTDOWN's save: snapshot
 * coordinators of cmd_persist.c for ctx's client. */
void cmd_persist_reload(struct cmd_ctx *ctx, bool save);
void cmd_persist_shutdown(struct cmd_ctx *ctx, bool force);
/* FLUSHALL's gather: the flush on every shard, then the save when save
 * points are set (Redis's flushAllDataAndResetRDB). */
extern const struct gather cmd_persist_gather_flushall;
