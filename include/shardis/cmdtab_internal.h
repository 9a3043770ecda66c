/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmdtab_internal.h: what the generated table (cmdtab_gen.c) shares with
 * cmdtab.c and cmd_command.c, and nothing else should need: the table itself
 * and the ACL category bits it is written with.
 */
#pragma once

#include "shardis/cmdtab.h"

#include <stdint.h>

/* Bit i of cmd_spec.acl is the category cmdtab_acl_names[i]; the order is
 * Redis's ACLCommandCategories, which is also the order COMMAND INFO lists
 * them in. tools/gencmd.py uses the same list. */
#define CMDTAB_ACL_KEYSPACE    (UINT64_C(1) << 0)
#define CMDTAB_ACL_READ        (UINT64_C(1) << 1)
#define CMDTAB_ACL_WRITE       (UINT64_C(1) << 2)
#define CMDTAB_ACL_SET         (UINT64_C(1) << 3)
#define CMDTAB_ACL_SORTEDSET   (UINT64_C(1) << 4)
#define CMDTAB_ACL_LIST        (UINT64_C(1) << 5)
#define CMDTAB_ACL_HASH        (UINT64_C(1) << 6)
#define CMDTAB_ACL_STRING      (UINT64_C(1) << 7)
#define CMDTAB_ACL_BITMAP      (UINT64_C(1) << 8)
#define CMDTAB_ACL_HYPERLOGLOG (UINT64_C(1) << 9)
#define CMDTAB_ACL_GEO         (UINT64_C(1) << 10)
#define CMDTAB_ACL_STREAM      (UINT64_C(1) << 11)
#define CMDTAB_ACL_PUBSUB      (UINT64_C(1) << 12)
#define CMDTAB_ACL_ADMIN       (UINT64_C(1) << 13)
#define CMDTAB_ACL_FAST        (UINT64_C(1) << 14)
#define CMDTAB_ACL_SLOW        (UINT64_C(1) << 15)
#define CMDTAB_ACL_BLOCKING    (UINT64_C(1) << 16)
#define CMDTAB_ACL_DANGEROUS   (UINT64_C(1) << 17)
#define CMDTAB_ACL_CONNECTION  (UINT64_C(1) << 18)
#define CMDTAB_ACL_TRANSACTION (UINT64_C(1) << 19)
#define CMDTAB_ACL_SCRIPTING   (UINT64_C(1) << 20)
#define CMDTAB_ACL_COUNT       21

/* Longest full name ("container|sub") the table may hold, NUL included;
 * cmdtab_init checks it. Lookups of longer names fail without a probe. */
#define CMDTAB_NAME_MAX 48

/* The generated table: top-level commands sorted by name; subcommands hang
 * off their container. Mutable only for cmdtab_init/cmdtab_bind. */
extern struct cmd_spec cmdtab_commands[];
extern const int cmdtab_ncommands;
