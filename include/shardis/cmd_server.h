/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_server.h: what cmd_server.c (connection and server commands) lends
 * the other command families.
 */
#pragma once

#include "shardis/sh.h"

struct conn;
struct rbuf;

/* One line of CLIENT LIST / CLIENT INFO (Redis 7.0's fields) for c, appended
 * to b, with a newline when nl (ACL LOG's client-info has none). */
void cmd_client_line(struct rbuf *b, const struct conn *c, int64_t now_ms, bool nl);
