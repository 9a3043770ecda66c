/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_hash.c: placeholder until the hash command family lands (issue #3).
 */
#include "shardis/cmd.h"

void cmd_hash_bind(void)
{
}
