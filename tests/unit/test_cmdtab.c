/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_cmdtab.c: the command table through its public header: lookup and
 * binding, the facts generated from Redis 7.0's JSON (arity, flags, legacy
 * key range, ACL categories), key finding, and the COMMAND replies, whose
 * expected bytes were taken from a real redis-server 7.0.15.
 *
 * Each test starts from a fresh table (cmdtab_init) with the same handful of
 * commands bound, and unbinds everything afterwards (cmdtab_fini).
 */
#include "shardis/cmd.h"
#include "shardis/cmdtab.h"
#include "shardis/reply.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void noop_handler(struct cmd_ctx *ctx)
{
    (void)ctx;
}

static const char *const bound_names[] = {
    "get",          "set",           "mset",         "eval",
    "zunionstore",  "sort",          "xread",        "spublish",
    "client|kill",  "client|list",   "command",      "command|info",
    "command|docs", "command|count", "command|list", "command|getkeys",
};

static int setup(void **state)
{
    (void)state;
    cmdtab_init();
    for (size_t i = 0; i < sizeof(bound_names) / sizeof(bound_names[0]); i++) {
        if (cmdtab_bind(bound_names[i], noop_handler, CMD_ROUTE_CONN) != 0) {
            return -1;
        }
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cmdtab_fini();
    return 0;
}

static const struct cmd_spec *lookup(const char *name)
{
    return cmdtab_lookup(name, strlen(name));
}

/* ---- lookup and binding ---- */

static void test_lookup_finds_a_bound_command(void **state)
{
    (void)state;
    const struct cmd_spec *c = lookup("get");
    assert_non_null(c);
    assert_string_equal(c->name, "get");
    assert_string_equal(c->fullname, "get");
    assert_ptr_equal(c->proc, noop_handler);
    assert_int_equal(c->route, CMD_ROUTE_CONN);
    assert_true(cmdtab_is_bound(c));
}

static void test_lookup_is_case_insensitive(void **state)
{
    (void)state;
    assert_ptr_equal(lookup("GET"), lookup("get"));
    assert_ptr_equal(lookup("gEt"), lookup("get"));
    assert_ptr_equal(lookup("ZUnionStore"), lookup("zunionstore"));
}

static void test_lookup_of_an_unknown_name_is_null(void **state)
{
    (void)state;
    assert_null(lookup("nosuchcommand"));
    assert_null(lookup("ge"));
    assert_null(lookup("gett"));
    assert_null(cmdtab_lookup("get", 0));
}

static void test_lookup_of_an_unbound_command_is_null(void **state)
{
    (void)state;
    assert_null(lookup("hset"));
    assert_null(lookup("ping"));
}

static void test_lookup_refuses_names_longer_than_any_command(void **state)
{
    (void)state;
    char name[4096];
    memset(name, 'a', sizeof(name));
    assert_null(cmdtab_lookup(name, sizeof(name)));
}

static void test_lookup_does_not_take_a_subcommand_full_name(void **state)
{
    (void)state;
    assert_null(lookup("client|kill"));
}

static void test_lookup_reads_only_the_given_length(void **state)
{
    (void)state;
    assert_ptr_equal(cmdtab_lookup("getrange", 3), lookup("get"));
}

static void test_bind_of_an_unknown_name_fails_with_enoent(void **state)
{
    (void)state;
    assert_int_equal(cmdtab_bind("nosuchcommand", noop_handler, CMD_ROUTE_CONN), -ENOENT);
    assert_int_equal(cmdtab_bind("client|nosuch", noop_handler, CMD_ROUTE_CONN), -ENOENT);
}

static void test_bind_takes_any_case_and_sets_the_route(void **state)
{
    (void)state;
    assert_int_equal(cmdtab_bind("HSET", noop_handler, CMD_ROUTE_KEY), 0);
    const struct cmd_spec *c = lookup("hset");
    assert_non_null(c);
    assert_int_equal(c->route, CMD_ROUTE_KEY);
}

static void test_a_container_is_visible_once_a_subcommand_is_bound(void **state)
{
    (void)state;
    const struct cmd_spec *client = lookup("client");
    assert_non_null(client);
    assert_null(client->proc);
    assert_true(cmdtab_is_bound(client));
    assert_null(lookup("config"));
    assert_int_equal(cmdtab_bind("config|get", noop_handler, CMD_ROUTE_CONN), 0);
    assert_non_null(lookup("config"));
}

static void test_lookup_sub_finds_bound_subcommands_in_any_case(void **state)
{
    (void)state;
    const struct cmd_spec *client = lookup("client");
    const struct cmd_spec *kill = cmdtab_lookup_sub(client, "KILL", 4);
    assert_non_null(kill);
    assert_string_equal(kill->name, "kill");
    assert_string_equal(kill->fullname, "client|kill");
    assert_ptr_equal(kill->parent, client);
    assert_ptr_equal(cmdtab_lookup_sub(client, "kill", 4), kill);
}

static void test_lookup_sub_of_an_unbound_or_unknown_subcommand_is_null(void **state)
{
    (void)state;
    const struct cmd_spec *client = lookup("client");
    assert_null(cmdtab_lookup_sub(client, "id", 2));
    assert_null(cmdtab_lookup_sub(client, "nosuch", 6));
    assert_null(cmdtab_lookup_sub(client, "", 0));
    assert_null(cmdtab_lookup_sub(lookup("get"), "kill", 4));
}

static void test_lookup_fullname_splits_on_exactly_one_bar(void **state)
{
    (void)state;
    const struct cmd_spec *kill = cmdtab_lookup_fullname("CLIENT|Kill", 11);
    assert_non_null(kill);
    assert_string_equal(kill->fullname, "client|kill");
    assert_ptr_equal(cmdtab_lookup_fullname("get", 3), lookup("get"));
    assert_null(cmdtab_lookup_fullname("get|x", 5));
    assert_null(cmdtab_lookup_fullname("client|", 7));
    assert_null(cmdtab_lookup_fullname("client|kill|x", 13));
    assert_null(cmdtab_lookup_fullname("|get", 4));
}

static void test_fini_unbinds_everything(void **state)
{
    (void)state;
    cmdtab_fini();
    cmdtab_init();
    assert_null(lookup("get"));
    assert_null(lookup("client"));
}

/* ---- facts from the JSON ---- */

static void test_get_takes_one_key_at_position_one(void **state)
{
    (void)state;
    const struct cmd_spec *c = lookup("get");
    assert_int_equal(c->arity, 2);
    assert_int_equal(c->flags, CMD_READONLY | CMD_FAST);
    assert_int_equal(c->first_key, 1);
    assert_int_equal(c->last_key, 1);
    assert_int_equal(c->key_step, 1);
    assert_string_equal(c->group, "string");
    assert_string_equal(c->since, "1.0.0");
    assert_int_equal(c->nkeyspecs, 1);
    assert_int_equal(c->keyspecs[0].flagbits, CMD_KEY_RO | CMD_KEY_ACCESS);
}

static void test_set_has_arity_minus_3_and_variable_key_flags(void **state)
{
    (void)state;
    const struct cmd_spec *c = lookup("set");
    assert_int_equal(c->arity, -3);
    assert_int_equal(c->flags, CMD_WRITE | CMD_DENYOOM);
    assert_int_equal(c->first_key, 1);
    assert_int_equal(c->last_key, 1);
    assert_int_equal(c->key_step, 1);
    assert_true(c->keyspecs[0].flagbits & CMD_KEY_VARIABLE_FLAGS);
    assert_int_equal(c->nhistory, 4);
    assert_string_equal(c->history[3][0], "7.0.0");
}

static void test_mset_keys_run_from_one_to_the_end_in_steps_of_two(void **state)
{
    (void)state;
    const struct cmd_spec *c = lookup("mset");
    assert_int_equal(c->arity, -3);
    assert_int_equal(c->first_key, 1);
    assert_int_equal(c->last_key, -1);
    assert_int_equal(c->key_step, 2);
    assert_false(c->flags & CMD_MOVABLE_KEYS);
    assert_int_equal(c->ntips, 2);
    assert_string_equal(c->tips[0], "request_policy:multi_shard");
}

static void test_eval_finds_keys_by_keynum_so_they_are_movable(void **state)
{
    (void)state;
    const struct cmd_spec *c = lookup("eval");
    assert_int_equal(c->arity, -3);
    assert_true(c->flags & CMD_MOVABLE_KEYS);
    assert_true(c->flags & CMD_NO_MANDATORY_KEYS);
    assert_int_equal(c->first_key, 0);
    assert_int_equal(c->last_key, 0);
    assert_int_equal(c->key_step, 0);
    assert_int_equal(c->keyspecs[0].fk_type, CMD_FK_KEYNUM);
}

static void test_sort_is_movable_with_a_legacy_range_of_one_key(void **state)
{
    (void)state;
    const struct cmd_spec *c = lookup("sort");
    assert_true(c->flags & CMD_MOVABLE_KEYS);
    assert_int_equal(c->first_key, 1);
    assert_int_equal(c->last_key, 1);
    assert_int_equal(c->key_step, 1);
}

static void test_acl_categories_include_the_implicit_ones(void **state)
{
    (void)state;
    uint64_t want = 0;
    for (int i = 0; i < cmdtab_acl_count; i++) {
        const char *n = cmdtab_acl_names[i];
        if (!strcmp(n, "read") || !strcmp(n, "string") || !strcmp(n, "fast")) {
            want |= UINT64_C(1) << i;
        }
    }
    assert_int_equal(lookup("get")->acl, want);
}

/* ---- key finding ---- */

static struct sh_slice args_v[16];

static const struct sh_slice *make_argv(int argc, const char *const *words)
{
    for (int i = 0; i < argc; i++) {
        args_v[i] = (struct sh_slice){ .ptr = words[i], .len = strlen(words[i]) };
    }
    return args_v;
}

/* Keys of the command line given as words, into pos (room for 16). */
#define KEYS_OF(pos, ...)                                                                          \
    keys_of((const char *const[]){ __VA_ARGS__ },                                                  \
            (int)(sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *)), pos, 0)

static int keys_of(const char *const *words, int argc, int *pos, unsigned flags)
{
    const struct cmd_spec *c = lookup(words[0]);
    assert_non_null(c);
    return cmdtab_get_keys(c, make_argv(argc, words), argc, flags, pos, 16);
}

static void test_get_keys_of_mset_are_every_other_argument(void **state)
{
    (void)state;
    int pos[16];
    assert_int_equal(KEYS_OF(pos, "mset", "a", "1", "b", "2", "c", "3"), 3);
    assert_int_equal(pos[0], 1);
    assert_int_equal(pos[1], 3);
    assert_int_equal(pos[2], 5);
}

static void test_get_keys_of_eval_follow_numkeys(void **state)
{
    (void)state;
    int pos[16];
    assert_int_equal(KEYS_OF(pos, "eval", "s", "2", "a", "b", "arg"), 2);
    assert_int_equal(pos[0], 3);
    assert_int_equal(pos[1], 4);
    assert_int_equal(KEYS_OF(pos, "eval", "s", "0"), 0);
    assert_int_equal(KEYS_OF(pos, "eval", "s", "3", "a"), 0);
}

static void test_get_keys_of_zunionstore_list_the_destination_first(void **state)
{
    (void)state;
    int pos[16];
    assert_int_equal(KEYS_OF(pos, "zunionstore", "d", "2", "a", "b"), 3);
    assert_int_equal(pos[0], 1);
    assert_int_equal(pos[1], 3);
    assert_int_equal(pos[2], 4);
}

static void test_get_keys_of_sort_include_the_store_destination(void **state)
{
    (void)state;
    int pos[16];
    assert_int_equal(KEYS_OF(pos, "sort", "k", "by", "store", "STORE", "d"), 2);
    assert_int_equal(pos[0], 1);
    assert_int_equal(pos[1], 5);
}

static void test_get_keys_of_xread_are_the_first_half_after_streams(void **state)
{
    (void)state;
    int pos[16];
    assert_int_equal(KEYS_OF(pos, "xread", "count", "1", "streams", "a", "b", "0", "0"), 2);
    assert_int_equal(pos[0], 4);
    assert_int_equal(pos[1], 5);
}

static void test_get_keys_skips_not_key_specs_unless_asked(void **state)
{
    (void)state;
    int pos[16];
    const char *const words[] = { "spublish", "chan", "msg" };
    assert_int_equal(keys_of(words, 3, pos, 0), 0);
    assert_false(cmdtab_has_keys(lookup("spublish")));
    assert_int_equal(keys_of(words, 3, pos, CMDTAB_KEYS_INCLUDE_NOT_KEYS), 1);
    assert_int_equal(pos[0], 1);
}

static void test_get_keys_counts_past_maxpos_without_writing_there(void **state)
{
    (void)state;
    int pos[3] = { -1, -1, -1 };
    const char *const words[] = { "mset", "a", "1", "b", "2", "c", "3" };
    assert_int_equal(cmdtab_get_keys(lookup("mset"), make_argv(7, words), 7, 0, pos, 2), 3);
    assert_int_equal(pos[0], 1);
    assert_int_equal(pos[1], 3);
    assert_int_equal(pos[2], -1);
}

static void test_get_keys_finds_nothing_when_arity_is_wrong(void **state)
{
    (void)state;
    int pos[16];
    assert_int_equal(KEYS_OF(pos, "get", "a", "b"), 0);
}

/* ---- COMMAND replies ---- */

static void run_cmd(struct rbuf *buf, cmd_fn *fn, int proto, int argc, const char *const *words)
{
    struct cmd_ctx ctx = {
        .argc = argc,
        .argv = make_argv(argc, words),
        .r = { .buf = buf, .proto = proto },
    };
    rbuf_init(buf);
    fn(&ctx);
}

#define ASSERT_REPLY(fn, proto, expect, ...)                                                       \
    do {                                                                                           \
        const char *const w_[] = { __VA_ARGS__ };                                                  \
        struct rbuf b_;                                                                            \
        run_cmd(&b_, fn, proto, (int)(sizeof(w_) / sizeof(w_[0])), w_);                            \
        assert_int_equal(b_.len, strlen(expect));                                                  \
        assert_memory_equal(b_.data, expect, b_.len);                                              \
        rbuf_fini(&b_);                                                                            \
    } while (0)

static void test_command_info_of_get_matches_redis(void **state)
{
    (void)state;
    ASSERT_REPLY(cmd_command_info, 2,
                 "*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n"
                 "*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n"
                 "+RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n"
                 "$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n"
                 "$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n"
                 "$5\r\nlimit\r\n:0\r\n*0\r\n",
                 "command", "info", "get");
}

static void test_command_info_of_mset_in_resp3_matches_redis(void **state)
{
    (void)state;
    ASSERT_REPLY(
            cmd_command_info, 3,
            "*1\r\n*10\r\n$4\r\nmset\r\n:-3\r\n~2\r\n+write\r\n+denyoom\r\n:1\r\n:-1\r\n:2\r\n"
            "~3\r\n+@write\r\n+@string\r\n+@slow\r\n~2\r\n$26\r\nrequest_policy:multi_shard\r\n"
            "$29\r\nresponse_policy:all_succeeded\r\n~1\r\n%3\r\n$5\r\nflags\r\n~2\r\n+OW\r\n"
            "+update\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n"
            "%1\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n"
            "$4\r\nspec\r\n%3\r\n$7\r\nlastkey\r\n:-1\r\n$7\r\nkeystep\r\n:2\r\n$5\r\nlimit\r\n"
            ":0\r\n~0\r\n",
            "command", "info", "mset");
}

static void test_command_info_gives_null_for_unknown_names(void **state)
{
    (void)state;
    ASSERT_REPLY(
            cmd_command_info, 2,
            "*2\r\n$-1\r\n*10\r\n$11\r\nclient|kill\r\n:-3\r\n*4\r\n+admin\r\n+noscript\r\n"
            "+loading\r\n+stale\r\n:0\r\n:0\r\n:0\r\n*4\r\n+@admin\r\n+@slow\r\n+@dangerous\r\n"
            "+@connection\r\n*0\r\n*0\r\n*0\r\n",
            "command", "info", "hset", "client|kill");
    ASSERT_REPLY(cmd_command_info, 3, "*1\r\n_\r\n", "command", "info", "nosuch");
}

static void test_command_docs_of_get_matches_redis(void **state)
{
    (void)state;
    ASSERT_REPLY(
            cmd_command_docs, 2,
            "*2\r\n$3\r\nget\r\n*10\r\n$7\r\nsummary\r\n$22\r\nGet the value of a key\r\n"
            "$5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n$10\r\ncomplexity\r\n"
            "$4\r\nO(1)\r\n$9\r\narguments\r\n*1\r\n*6\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\n"
            "type\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n",
            "command", "docs", "get", "nosuch");
}

static void test_command_count_counts_visible_top_level_commands(void **state)
{
    (void)state;
    /* get set mset eval zunionstore sort xread spublish client command */
    ASSERT_REPLY(cmd_command_count, 2, ":10\r\n", "command", "count");
}

static void test_command_list_filters_by_pattern_without_case(void **state)
{
    (void)state;
    ASSERT_REPLY(cmd_command_list, 2, "*1\r\n$11\r\nclient|kill\r\n", "command", "list", "filterby",
                 "pattern", "CLIENT|K*");
    ASSERT_REPLY(cmd_command_list, 2, "*0\r\n", "command", "list", "filterby", "aclcat", "nosuch");
    ASSERT_REPLY(cmd_command_list, 2, "-ERR syntax error\r\n", "command", "list", "filterby");
}

static void test_command_list_filters_by_acl_category(void **state)
{
    (void)state;
    ASSERT_REPLY(cmd_command_list, 2, "*2\r\n$4\r\nsort\r\n$11\r\nzunionstore\r\n", "command",
                 "list", "filterby", "aclcat", "SortedSet");
}

static void test_command_getkeys_answers_as_redis(void **state)
{
    (void)state;
    ASSERT_REPLY(cmd_command_getkeys, 2, "*3\r\n$1\r\nd\r\n$1\r\na\r\n$1\r\nb\r\n", "command",
                 "getkeys", "zunionstore", "d", "2", "a", "b");
    ASSERT_REPLY(cmd_command_getkeys, 2, "*0\r\n", "command", "getkeys", "eval", "s", "0");
    ASSERT_REPLY(cmd_command_getkeys, 2, "-ERR Invalid arguments specified for command\r\n",
                 "command", "getkeys", "zunionstore", "d", "0", "a");
    ASSERT_REPLY(cmd_command_getkeys, 2, "-ERR Invalid command specified\r\n", "command", "getkeys",
                 "nosuch", "a");
    ASSERT_REPLY(cmd_command_getkeys, 2, "-ERR The command has no key arguments\r\n", "command",
                 "getkeys", "client", "kill", "a");
    ASSERT_REPLY(cmd_command_getkeys, 2,
                 "-ERR Invalid number of arguments specified for command\r\n", "command", "getkeys",
                 "get", "a", "b");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lookup_finds_a_bound_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookup_is_case_insensitive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookup_of_an_unknown_name_is_null, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookup_of_an_unbound_command_is_null, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookup_refuses_names_longer_than_any_command, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lookup_does_not_take_a_subcommand_full_name, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lookup_reads_only_the_given_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bind_of_an_unknown_name_fails_with_enoent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bind_takes_any_case_and_sets_the_route, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_container_is_visible_once_a_subcommand_is_bound,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookup_sub_finds_bound_subcommands_in_any_case, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lookup_sub_of_an_unbound_or_unknown_subcommand_is_null,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookup_fullname_splits_on_exactly_one_bar, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fini_unbinds_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_takes_one_key_at_position_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_has_arity_minus_3_and_variable_key_flags, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_mset_keys_run_from_one_to_the_end_in_steps_of_two,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_eval_finds_keys_by_keynum_so_they_are_movable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sort_is_movable_with_a_legacy_range_of_one_key, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_acl_categories_include_the_implicit_ones, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_get_keys_of_mset_are_every_other_argument, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_get_keys_of_eval_follow_numkeys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_keys_of_zunionstore_list_the_destination_first,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_keys_of_sort_include_the_store_destination, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_get_keys_of_xread_are_the_first_half_after_streams,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_keys_skips_not_key_specs_unless_asked, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_get_keys_counts_past_maxpos_without_writing_there,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_keys_finds_nothing_when_arity_is_wrong, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_command_info_of_get_matches_redis, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_info_of_mset_in_resp3_matches_redis, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_command_info_gives_null_for_unknown_names, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_command_docs_of_get_matches_redis, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_count_counts_visible_top_level_commands, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_command_list_filters_by_pattern_without_case, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_command_list_filters_by_acl_category, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_getkeys_answers_as_redis, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
