"""String commands: Redis 7 behaviour and exact error strings."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, Status  # noqa: E402

INVALID_SET_EXPIRE = "ERR invalid expire time in 'set' command"
NOT_INTEGER = "ERR value is not an integer or out of range"
NOT_FLOAT = "ERR value is not a valid float"
OVERFLOW = "ERR increment or decrement would overflow"
SYNTAX = "ERR syntax error"


def arity(cmd):
    return "ERR wrong number of arguments for '%s' command" % cmd


class TestGetSet(ServerTestCase):

    def test_get_of_missing_key_is_nil(self):
        self.assertIsNone(self.r.cmd("GET", "nokey"))
        self.assertEqual(self.r.last_raw, b"$-1\r\n")

    def test_set_replies_simple_ok_and_get_returns_bulk(self):
        self.assertEqual(self.r.raw("SET", "k", "v"), b"+OK\r\n")
        self.assertEqual(self.r.raw("GET", "k"), b"$1\r\nv\r\n")

    def test_set_overwrites_existing_value(self):
        self.r.cmd("SET", "k", "one")
        self.assertOK(self.r.cmd("SET", "k", "two"))
        self.assertEqual(self.r.cmd("GET", "k"), b"two")

    def test_values_are_binary_safe(self):
        value = bytes(range(256)) + b"\r\n$3\r\n*1\r\n\x00"
        self.assertOK(self.r.cmd("SET", b"bin\x00key\r\n", value))
        self.assertEqual(self.r.cmd("GET", b"bin\x00key\r\n"), value)

    def test_empty_value_is_a_real_empty_string(self):
        self.assertOK(self.r.cmd("SET", "k", ""))
        self.assertEqual(self.r.raw("GET", "k"), b"$0\r\n\r\n")
        self.assertEqual(self.r.cmd("EXISTS", "k"), 1)
        self.assertEqual(self.r.cmd("STRLEN", "k"), 0)

    def test_large_value_round_trips(self):
        value = os.urandom(1 << 20)
        self.assertOK(self.r.cmd("SET", "big", value))
        self.assertEqual(self.r.cmd("GET", "big"), value)
        self.assertEqual(self.r.cmd("STRLEN", "big"), 1 << 20)

    def test_set_with_nx_does_not_overwrite(self):
        self.r.cmd("SET", "k", "old")
        self.assertIsNone(self.r.cmd("SET", "k", "new", "NX"))
        self.assertEqual(self.r.cmd("GET", "k"), b"old")

    def test_set_with_nx_creates_missing_key(self):
        self.assertOK(self.r.cmd("SET", "k", "v", "NX"))
        self.assertEqual(self.r.cmd("GET", "k"), b"v")

    def test_set_with_xx_does_not_create_missing_key(self):
        self.assertIsNone(self.r.cmd("SET", "k", "v", "XX"))
        self.assertEqual(self.r.cmd("EXISTS", "k"), 0)

    def test_set_with_xx_overwrites_existing_key(self):
        self.r.cmd("SET", "k", "old")
        self.assertOK(self.r.cmd("SET", "k", "new", "xx"))
        self.assertEqual(self.r.cmd("GET", "k"), b"new")

    def test_set_options_are_case_insensitive(self):
        self.assertOK(self.r.cmd("set", "k", "v", "nX", "eX", "100"))
        self.assertTrue(0 < self.r.cmd("TTL", "k") <= 100)

    def test_set_with_ex_sets_ttl_in_seconds(self):
        self.assertOK(self.r.cmd("SET", "k", "v", "EX", "100"))
        self.assertTrue(98 <= self.r.cmd("TTL", "k") <= 100)

    def test_set_with_px_sets_ttl_in_milliseconds(self):
        self.assertOK(self.r.cmd("SET", "k", "v", "PX", "100000"))
        self.assertTrue(98000 <= self.r.cmd("PTTL", "k") <= 100000)

    def test_set_with_exat_sets_absolute_expire_time(self):
        at = int(time.time()) + 1000
        self.assertOK(self.r.cmd("SET", "k", "v", "EXAT", at))
        self.assertEqual(self.r.cmd("EXPIRETIME", "k"), at)

    def test_set_with_pxat_sets_absolute_expire_time_in_ms(self):
        at = int(time.time() * 1000) + 1000000
        self.assertOK(self.r.cmd("SET", "k", "v", "PXAT", at))
        self.assertEqual(self.r.cmd("PEXPIRETIME", "k"), at)

    def test_set_with_keepttl_keeps_ttl(self):
        self.r.cmd("SET", "k", "v", "EX", "100")
        self.assertOK(self.r.cmd("SET", "k", "v2", "KEEPTTL"))
        self.assertTrue(98 <= self.r.cmd("TTL", "k") <= 100)
        self.assertEqual(self.r.cmd("GET", "k"), b"v2")

    def test_set_without_keepttl_clears_ttl(self):
        self.r.cmd("SET", "k", "v", "EX", "100")
        self.r.cmd("SET", "k", "v2")
        self.assertEqual(self.r.cmd("TTL", "k"), -1)

    def test_set_with_get_returns_old_value(self):
        self.r.cmd("SET", "k", "old")
        self.assertEqual(self.r.cmd("SET", "k", "new", "GET"), b"old")
        self.assertEqual(self.r.cmd("GET", "k"), b"new")

    def test_set_with_get_on_missing_key_returns_nil_and_sets(self):
        self.assertIsNone(self.r.cmd("SET", "k", "new", "GET"))
        self.assertEqual(self.r.cmd("GET", "k"), b"new")

    def test_set_with_nx_and_get_returns_old_value_without_writing(self):
        self.r.cmd("SET", "k", "old")
        self.assertEqual(self.r.cmd("SET", "k", "new", "NX", "GET"), b"old")
        self.assertEqual(self.r.cmd("GET", "k"), b"old")

    def test_set_with_xx_and_get_on_missing_key_returns_nil_without_writing(self):
        self.assertIsNone(self.r.cmd("SET", "k", "new", "XX", "GET"))
        self.assertEqual(self.r.cmd("EXISTS", "k"), 0)

    def test_set_with_get_and_ex_sets_ttl(self):
        self.r.cmd("SET", "k", "old")
        self.assertEqual(self.r.cmd("SET", "k", "new", "GET", "EX", "50"), b"old")
        self.assertTrue(0 < self.r.cmd("TTL", "k") <= 50)

    def test_set_with_nx_and_xx_is_a_syntax_error(self):
        self.assertError(self.r.cmd("SET", "k", "v", "NX", "XX"), SYNTAX)
        self.assertEqual(self.r.cmd("EXISTS", "k"), 0)

    def test_set_with_two_expire_options_is_a_syntax_error(self):
        self.assertError(self.r.cmd("SET", "k", "v", "EX", "10", "PX", "100"), SYNTAX)
        self.assertError(self.r.cmd("SET", "k", "v", "EXAT", "10", "PXAT", "100"), SYNTAX)
        self.assertError(self.r.cmd("SET", "k", "v", "KEEPTTL", "EX", "10"), SYNTAX)
        self.assertError(self.r.cmd("SET", "k", "v", "PX", "10", "KEEPTTL"), SYNTAX)

    def test_set_with_missing_expire_value_is_a_syntax_error(self):
        self.assertError(self.r.cmd("SET", "k", "v", "EX"), SYNTAX)
        self.assertError(self.r.cmd("SET", "k", "v", "PX"), SYNTAX)

    def test_set_with_unknown_option_is_a_syntax_error(self):
        self.assertError(self.r.cmd("SET", "k", "v", "FOO"), SYNTAX)
        self.assertEqual(self.r.cmd("EXISTS", "k"), 0)

    def test_set_with_non_integer_expire_is_not_an_integer(self):
        self.assertError(self.r.cmd("SET", "k", "v", "EX", "abc"), NOT_INTEGER)
        self.assertError(self.r.cmd("SET", "k", "v", "PX", "1.5"), NOT_INTEGER)

    def test_set_with_zero_or_negative_expire_is_invalid_expire_time(self):
        for opt, val in (("EX", "0"), ("EX", "-1"), ("PX", "0"), ("PX", "-100"),
                         ("EXAT", "0"), ("PXAT", "0"), ("EXAT", "-5")):
            with self.subTest(opt=opt, val=val):
                self.assertError(self.r.cmd("SET", "k", "v", opt, val), INVALID_SET_EXPIRE)
        self.assertEqual(self.r.cmd("EXISTS", "k"), 0)

    def test_set_with_ex_overflowing_milliseconds_is_invalid_expire_time(self):
        self.assertError(self.r.cmd("SET", "k", "v", "EX", "9999999999999999"),
                         INVALID_SET_EXPIRE)

    def test_set_and_get_wrong_arity(self):
        self.assertError(self.r.cmd("SET", "k"), arity("set"))
        self.assertError(self.r.cmd("GET"), arity("get"))
        self.assertError(self.r.cmd("GET", "a", "b"), arity("get"))


class TestSetVariants(ServerTestCase):

    def test_setnx_sets_only_missing_keys(self):
        self.assertEqual(self.r.cmd("SETNX", "k", "a"), 1)
        self.assertEqual(self.r.cmd("SETNX", "k", "b"), 0)
        self.assertEqual(self.r.cmd("GET", "k"), b"a")

    def test_setex_sets_value_and_ttl(self):
        self.assertOK(self.r.cmd("SETEX", "k", "100", "v"))
        self.assertEqual(self.r.cmd("GET", "k"), b"v")
        self.assertTrue(98 <= self.r.cmd("TTL", "k") <= 100)

    def test_psetex_sets_value_and_ttl_in_ms(self):
        self.assertOK(self.r.cmd("PSETEX", "k", "100000", "v"))
        self.assertEqual(self.r.cmd("GET", "k"), b"v")
        self.assertTrue(98000 <= self.r.cmd("PTTL", "k") <= 100000)

    def test_setex_with_bad_expire_errors(self):
        self.assertError(self.r.cmd("SETEX", "k", "0", "v"),
                         "ERR invalid expire time in 'setex' command")
        self.assertError(self.r.cmd("SETEX", "k", "-1", "v"),
                         "ERR invalid expire time in 'setex' command")
        self.assertError(self.r.cmd("PSETEX", "k", "-5", "v"),
                         "ERR invalid expire time in 'psetex' command")
        self.assertError(self.r.cmd("SETEX", "k", "abc", "v"), NOT_INTEGER)
        self.assertEqual(self.r.cmd("EXISTS", "k"), 0)

    def test_setex_wrong_arity(self):
        self.assertError(self.r.cmd("SETEX", "k", "10"), arity("setex"))
        self.assertError(self.r.cmd("SETNX", "k"), arity("setnx"))

    def test_getset_returns_old_value_and_sets_new(self):
        self.assertIsNone(self.r.cmd("GETSET", "k", "a"))
        self.assertEqual(self.r.cmd("GETSET", "k", "b"), b"a")
        self.assertEqual(self.r.cmd("GET", "k"), b"b")

    def test_getset_clears_ttl(self):
        self.r.cmd("SET", "k", "a", "EX", "100")
        self.r.cmd("GETSET", "k", "b")
        self.assertEqual(self.r.cmd("TTL", "k"), -1)

    def test_getdel_returns_value_and_deletes_key(self):
        self.r.cmd("SET", "k", "v")
        self.assertEqual(self.r.cmd("GETDEL", "k"), b"v")
        self.assertEqual(self.r.cmd("EXISTS", "k"), 0)
        self.assertIsNone(self.r.cmd("GETDEL", "k"))


class TestGetex(ServerTestCase):

    def setUp(self):
        super().setUp()
        self.r.cmd("SET", "k", "v")

    def test_getex_without_options_is_get(self):
        self.assertEqual(self.r.cmd("GETEX", "k"), b"v")
        self.assertEqual(self.r.cmd("TTL", "k"), -1)

    def test_getex_on_missing_key_is_nil(self):
        self.assertIsNone(self.r.cmd("GETEX", "nokey"))
        self.assertIsNone(self.r.cmd("GETEX", "nokey", "EX", "10"))
        self.assertEqual(self.r.cmd("EXISTS", "nokey"), 0)

    def test_getex_with_ex_sets_ttl(self):
        self.assertEqual(self.r.cmd("GETEX", "k", "EX", "100"), b"v")
        self.assertTrue(98 <= self.r.cmd("TTL", "k") <= 100)

    def test_getex_with_px_sets_ttl(self):
        self.assertEqual(self.r.cmd("GETEX", "k", "PX", "100000"), b"v")
        self.assertTrue(98000 <= self.r.cmd("PTTL", "k") <= 100000)

    def test_getex_with_exat_and_pxat_set_absolute_time(self):
        at = int(time.time()) + 1000
        self.assertEqual(self.r.cmd("GETEX", "k", "EXAT", at), b"v")
        self.assertEqual(self.r.cmd("EXPIRETIME", "k"), at)
        pat = int(time.time() * 1000) + 2000000
        self.assertEqual(self.r.cmd("GETEX", "k", "PXAT", pat), b"v")
        self.assertEqual(self.r.cmd("PEXPIRETIME", "k"), pat)

    def test_getex_with_persist_removes_ttl(self):
        self.r.cmd("EXPIRE", "k", "100")
        self.assertEqual(self.r.cmd("GETEX", "k", "PERSIST"), b"v")
        self.assertEqual(self.r.cmd("TTL", "k"), -1)

    def test_getex_with_invalid_expire_time_errors(self):
        for opt in ("EX", "PX", "EXAT", "PXAT"):
            with self.subTest(opt=opt):
                self.assertError(self.r.cmd("GETEX", "k", opt, "0"),
                                 "ERR invalid expire time in 'getex' command")
        self.assertError(self.r.cmd("GETEX", "k", "EX", "-10"),
                         "ERR invalid expire time in 'getex' command")
        self.assertError(self.r.cmd("GETEX", "k", "EX", "abc"), NOT_INTEGER)
        self.assertEqual(self.r.cmd("TTL", "k"), -1)

    def test_getex_with_conflicting_or_unknown_options_is_a_syntax_error(self):
        self.assertError(self.r.cmd("GETEX", "k", "PERSIST", "EX", "10"), SYNTAX)
        self.assertError(self.r.cmd("GETEX", "k", "EX", "10", "PX", "10"), SYNTAX)
        self.assertError(self.r.cmd("GETEX", "k", "FOO"), SYNTAX)
        self.assertError(self.r.cmd("GETEX", "k", "EX"), SYNTAX)


class TestMultiKeyStrings(ServerTestCase):

    def test_mget_returns_values_in_order_with_nil_for_missing(self):
        self.r.cmd("SET", "a", "1")
        self.r.cmd("SET", "c", "3")
        self.assertEqual(self.r.cmd("MGET", "a", "b", "c"), [b"1", None, b"3"])
        self.assertEqual(self.r.last_raw, b"*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n3\r\n")

    def test_mset_sets_all_pairs(self):
        self.assertOK(self.r.cmd("MSET", "a", "1", "b", "2"))
        self.assertEqual(self.r.cmd("MGET", "a", "b"), [b"1", b"2"])

    def test_mset_last_duplicate_wins(self):
        self.assertOK(self.r.cmd("MSET", "a", "1", "a", "2"))
        self.assertEqual(self.r.cmd("GET", "a"), b"2")

    def test_mset_clears_ttl(self):
        self.r.cmd("SET", "a", "1", "EX", "100")
        self.r.cmd("MSET", "a", "2")
        self.assertEqual(self.r.cmd("TTL", "a"), -1)

    def test_mset_with_odd_arguments_is_wrong_arity(self):
        self.assertError(self.r.cmd("MSET", "a"), arity("mset"))
        self.assertError(self.r.cmd("MSET", "a", "1", "b"), arity("mset"))
        self.assertEqual(self.r.cmd("EXISTS", "a"), 0)

    def test_msetnx_sets_all_when_none_exist(self):
        self.assertEqual(self.r.cmd("MSETNX", "a", "1", "b", "2"), 1)
        self.assertEqual(self.r.cmd("MGET", "a", "b"), [b"1", b"2"])

    def test_msetnx_sets_nothing_when_any_exists(self):
        self.r.cmd("SET", "b", "old")
        self.assertEqual(self.r.cmd("MSETNX", "a", "1", "b", "2"), 0)
        self.assertEqual(self.r.cmd("MGET", "a", "b"), [None, b"old"])

    def test_msetnx_wrong_arity(self):
        self.assertError(self.r.cmd("MSETNX", "a"), arity("msetnx"))
        self.assertError(self.r.cmd("MSETNX", "a", "1", "b"), arity("msetnx"))

    def test_mget_wrong_arity(self):
        self.assertError(self.r.cmd("MGET"), arity("mget"))


class TestAppendStrlen(ServerTestCase):

    def test_append_creates_key_and_returns_length(self):
        self.assertEqual(self.r.cmd("APPEND", "k", "Hello"), 5)
        self.assertEqual(self.r.cmd("APPEND", "k", " World"), 11)
        self.assertEqual(self.r.cmd("GET", "k"), b"Hello World")

    def test_append_keeps_ttl(self):
        self.r.cmd("SET", "k", "a", "EX", "100")
        self.r.cmd("APPEND", "k", "b")
        self.assertTrue(0 < self.r.cmd("TTL", "k") <= 100)

    def test_append_empty_string_creates_empty_key(self):
        self.assertEqual(self.r.cmd("APPEND", "k", ""), 0)
        self.assertEqual(self.r.cmd("EXISTS", "k"), 1)

    def test_strlen_of_missing_key_is_zero(self):
        self.assertEqual(self.r.cmd("STRLEN", "nokey"), 0)

    def test_strlen_counts_bytes(self):
        self.r.cmd("SET", "k", "h\xe9llo")  # é is two bytes in UTF-8
        self.assertEqual(self.r.cmd("STRLEN", "k"), 6)


class TestCounters(ServerTestCase):

    def test_incr_on_missing_key_starts_at_zero(self):
        self.assertEqual(self.r.cmd("INCR", "n"), 1)
        self.assertEqual(self.r.cmd("INCR", "n"), 2)
        self.assertEqual(self.r.cmd("GET", "n"), b"2")

    def test_decr_on_missing_key_goes_negative(self):
        self.assertEqual(self.r.cmd("DECR", "n"), -1)
        self.assertEqual(self.r.raw("DECR", "n"), b":-2\r\n")

    def test_incrby_and_decrby(self):
        self.r.cmd("SET", "n", "10")
        self.assertEqual(self.r.cmd("INCRBY", "n", "5"), 15)
        self.assertEqual(self.r.cmd("INCRBY", "n", "-20"), -5)
        self.assertEqual(self.r.cmd("DECRBY", "n", "3"), -8)
        self.assertEqual(self.r.cmd("DECRBY", "n", "-10"), 2)
        self.assertEqual(self.r.cmd("GET", "n"), b"2")

    def test_incr_keeps_ttl(self):
        self.r.cmd("SET", "n", "1", "EX", "100")
        self.r.cmd("INCR", "n")
        self.assertTrue(0 < self.r.cmd("TTL", "n") <= 100)

    def test_incr_of_non_integer_value_errors(self):
        for value in ("abc", "1.5", " 1", "1 ", "", "+1", "01x", "99999999999999999999"):
            with self.subTest(value=value):
                self.r.cmd("SET", "n", value)
                self.assertError(self.r.cmd("INCR", "n"), NOT_INTEGER)
                self.assertEqual(self.r.cmd("GET", "n"), value.encode())

    def test_incrby_with_non_integer_increment_errors(self):
        self.assertError(self.r.cmd("INCRBY", "n", "abc"), NOT_INTEGER)
        self.assertError(self.r.cmd("INCRBY", "n", "1.0"), NOT_INTEGER)
        self.assertError(self.r.cmd("DECRBY", "n", "x"), NOT_INTEGER)
        self.assertEqual(self.r.cmd("EXISTS", "n"), 0)

    def test_incr_at_int64_max_overflows(self):
        self.r.cmd("SET", "n", "9223372036854775807")
        self.assertError(self.r.cmd("INCR", "n"), OVERFLOW)
        self.assertError(self.r.cmd("INCRBY", "n", "1"), OVERFLOW)
        self.assertError(self.r.cmd("DECRBY", "n", "-1"), OVERFLOW)
        self.assertEqual(self.r.cmd("GET", "n"), b"9223372036854775807")

    def test_decr_at_int64_min_overflows(self):
        self.r.cmd("SET", "n", "-9223372036854775808")
        self.assertError(self.r.cmd("DECR", "n"), OVERFLOW)
        self.assertError(self.r.cmd("INCRBY", "n", "-1"), OVERFLOW)
        self.assertEqual(self.r.cmd("GET", "n"), b"-9223372036854775808")

    def test_int64_extremes_are_reachable(self):
        self.r.cmd("SET", "n", "9223372036854775806")
        self.assertEqual(self.r.cmd("INCR", "n"), 9223372036854775807)
        self.r.cmd("SET", "m", "-9223372036854775807")
        self.assertEqual(self.r.cmd("DECR", "m"), -9223372036854775808)

    def test_decrby_int64_min_is_rejected(self):
        # DECRBY cannot negate LLONG_MIN; Redis has its own message for it.
        self.assertError(self.r.cmd("DECRBY", "n", "-9223372036854775808"),
                         "ERR decrement would overflow")

    def test_incr_wrong_arity(self):
        self.assertError(self.r.cmd("INCR"), arity("incr"))
        self.assertError(self.r.cmd("INCRBY", "n"), arity("incrby"))


class TestIncrbyfloat(ServerTestCase):

    def test_incrbyfloat_documented_examples(self):
        self.r.cmd("SET", "k", "10.50")
        self.assertEqual(self.r.cmd("INCRBYFLOAT", "k", "0.1"), b"10.6")
        self.assertEqual(self.r.cmd("INCRBYFLOAT", "k", "-5"), b"5.6")
        self.r.cmd("SET", "k", "5.0e3")
        self.assertEqual(self.r.cmd("INCRBYFLOAT", "k", "2.0e2"), b"5200")
        self.assertEqual(self.r.cmd("GET", "k"), b"5200")

    def test_incrbyfloat_replies_with_bulk_string(self):
        self.assertEqual(self.r.raw("INCRBYFLOAT", "k", "1.5"), b"$3\r\n1.5\r\n")
        self.assertEqual(self.r.raw("INCRBYFLOAT", "k", "1.5"), b"$1\r\n3\r\n")

    def test_incrbyfloat_on_integer_value(self):
        self.r.cmd("SET", "k", "3")
        self.assertEqual(self.r.cmd("INCRBYFLOAT", "k", "1.25"), b"4.25")

    def test_incrbyfloat_of_non_float_value_errors(self):
        self.r.cmd("SET", "k", "abc")
        self.assertError(self.r.cmd("INCRBYFLOAT", "k", "1"), NOT_FLOAT)
        self.assertEqual(self.r.cmd("GET", "k"), b"abc")

    def test_incrbyfloat_with_non_float_increment_errors(self):
        self.assertError(self.r.cmd("INCRBYFLOAT", "k", "abc"), NOT_FLOAT)
        self.assertError(self.r.cmd("INCRBYFLOAT", "k", "nan"), NOT_FLOAT)
        self.assertError(self.r.cmd("INCRBYFLOAT", "k", ""), NOT_FLOAT)
        self.assertEqual(self.r.cmd("EXISTS", "k"), 0)

    def test_incrbyfloat_to_infinity_errors(self):
        self.assertError(self.r.cmd("INCRBYFLOAT", "k", "inf"),
                         "ERR increment would produce NaN or Infinity")
        self.assertEqual(self.r.cmd("EXISTS", "k"), 0)

    def test_incrbyfloat_keeps_ttl(self):
        self.r.cmd("SET", "k", "1", "EX", "100")
        self.r.cmd("INCRBYFLOAT", "k", "0.5")
        self.assertTrue(0 < self.r.cmd("TTL", "k") <= 100)


class TestRanges(ServerTestCase):

    def setUp(self):
        super().setUp()
        self.r.cmd("SET", "s", "This is a string")

    def test_getrange_documented_examples(self):
        self.assertEqual(self.r.cmd("GETRANGE", "s", "0", "3"), b"This")
        self.assertEqual(self.r.cmd("GETRANGE", "s", "-3", "-1"), b"ing")
        self.assertEqual(self.r.cmd("GETRANGE", "s", "0", "-1"), b"This is a string")
        self.assertEqual(self.r.cmd("GETRANGE", "s", "10", "100"), b"string")

    def test_getrange_empty_results(self):
        self.assertEqual(self.r.raw("GETRANGE", "s", "5", "1"), b"$0\r\n\r\n")
        self.assertEqual(self.r.cmd("GETRANGE", "s", "100", "200"), b"")
        self.assertEqual(self.r.raw("GETRANGE", "nokey", "0", "-1"), b"$0\r\n\r\n")

    def test_getrange_clamps_negative_start(self):
        self.assertEqual(self.r.cmd("GETRANGE", "s", "-100", "3"), b"This")

    def test_getrange_errors(self):
        self.assertError(self.r.cmd("GETRANGE", "s", "0"), arity("getrange"))
        self.assertError(self.r.cmd("GETRANGE", "s", "a", "1"), NOT_INTEGER)

    def test_setrange_overwrites_part_of_value(self):
        self.r.cmd("SET", "k", "Hello World")
        self.assertEqual(self.r.cmd("SETRANGE", "k", "6", "Redis"), 11)
        self.assertEqual(self.r.cmd("GET", "k"), b"Hello Redis")

    def test_setrange_on_missing_key_pads_with_zero_bytes(self):
        self.assertEqual(self.r.cmd("SETRANGE", "k", "6", "Redis"), 11)
        self.assertEqual(self.r.cmd("GET", "k"), b"\x00" * 6 + b"Redis")

    def test_setrange_extends_value(self):
        self.assertEqual(self.r.cmd("SETRANGE", "s", "16", "!!"), 18)
        self.assertEqual(self.r.cmd("GET", "s"), b"This is a string!!")

    def test_setrange_with_empty_value_on_missing_key_creates_nothing(self):
        self.assertEqual(self.r.cmd("SETRANGE", "k", "5", ""), 0)
        self.assertEqual(self.r.cmd("EXISTS", "k"), 0)

    def test_setrange_with_empty_value_returns_current_length(self):
        self.assertEqual(self.r.cmd("SETRANGE", "s", "100", ""), 16)
        self.assertEqual(self.r.cmd("STRLEN", "s"), 16)

    def test_setrange_negative_offset_is_out_of_range(self):
        self.assertError(self.r.cmd("SETRANGE", "s", "-1", "x"), "ERR offset is out of range")

    def test_setrange_beyond_max_size_errors(self):
        err = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
        self.assertError(self.r.cmd("SETRANGE", "k", "536870912", "x"), err)
        self.assertError(self.r.cmd("SETRANGE", "s", "536870911", "xy"), err)
        self.assertEqual(self.r.cmd("EXISTS", "k"), 0)
        self.assertEqual(self.r.cmd("GET", "s"), b"This is a string")

    def test_setrange_non_integer_offset_errors(self):
        self.assertError(self.r.cmd("SETRANGE", "s", "x", "v"), NOT_INTEGER)

    def test_setrange_keeps_ttl(self):
        self.r.cmd("EXPIRE", "s", "100")
        self.r.cmd("SETRANGE", "s", "0", "X")
        self.assertTrue(0 < self.r.cmd("TTL", "s") <= 100)


if __name__ == "__main__":
    unittest.main()
