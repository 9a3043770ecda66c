/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * config_internal.h: the directive table that config.c (loading, CONFIG
 * GET/SET) and config_rewrite.c (CONFIG REWRITE) share. Not a contract.
 */
#pragma once

#include "shardis/config.h"

#include <stddef.h>

enum dir_kind {
    DIR_INT,
    DIR_MEM,
    DIR_STR,
    DIR_LOGLEVEL,
    DIR_BIND,
    DIR_WORDS,     /* any number of words, kept joined by spaces */
    DIR_NOTIFY,    /* notify-keyspace-events flags */
    DIR_COBL,      /* client-output-buffer-limit <class> <hard> <soft> <seconds> ... */
    DIR_BOOL,      /* yes | no, kept as 1 | 0 in a long long */
    DIR_PROTECTED, /* no | yes | local, kept as 0 | 1 | 2 in a long long */
};

struct directive {
    const char *name;
    enum dir_kind kind;
    size_t off;
    long long min, max;
    bool tunable;
};

#define F(field) offsetof(struct config, field)

extern const struct directive config_directives[];
extern const size_t config_ndirectives;
/* client-output-buffer-limit's class names, CONFIG_COBL_* order */
extern const char *const config_cobl_names[];

/* The directive called name (case-insensitive, aliases too), or NULL; with
 * canon, the name it was found under. */
const struct directive *config_find_directive(const char *name, size_t len, const char **canon);
/* d's value in c as CONFIG GET shows it. */
void config_format_value(const struct config *c, const struct directive *d, char *buf, size_t len);
