/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_zset.c: placeholder until the zset command family lands (issue #3).
 */
#include "shardis/cmd.h"

void cmd_zset_bind(void)
{
}
