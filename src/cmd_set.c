/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_set.c: placeholder until the set command family lands (issue #3).
 */
#include "shardis/cmd.h"

void cmd_set_bind(void)
{
}
