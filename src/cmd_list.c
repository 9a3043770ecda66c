/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_list.c: placeholder until the list command family lands (issue #3).
 */
#include "shardis/cmd.h"

void cmd_list_bind(void)
{
}
