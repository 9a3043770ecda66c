/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * function.h: FUNCTION LOAD, DELETE, FLUSH, RESTORE, DUMP, LIST, STATS,
 * KILL, HELP (Redis 7.0's functions; FCALL and FCALL_RO are eval.h's). Every
 * shard holds every library: the commands that change them run on every
 * shard before they reply.
 */
#pragma once

/* Binds the FUNCTION subcommands (called by eval_bind). */
void function_bind(void);
