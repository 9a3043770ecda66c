"""CONFIG GET and SET of alias names, and CONFIG SET's answers to the empty
string and to a repeated name (issue 15, fix 1).

Redis 7.0 keeps the ziplist names (hash-max-ziplist-entries ...) as aliases
of the listpack directives. An alias is a name of its own: CONFIG GET of it
answers under the name asked (an exact name comes back as typed, in any
case), a pattern lists every name and alias it matches (both, when it
matches both), CONFIG SET's errors name the alias, and setting a directive
under both names in one CONFIG SET is not a "duplicate parameter". A tool
that saves a value with GET and restores it with SET must work. Redis 7.0's
other aliases (slave-*, lua-time-limit ...) name directives shardis does not
have.

Every test passes against redis-server 7.0 (SHARDIS_REFERENCE=redis).
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase  # noqa: E402

ZIPLIST_ALIASES = {
    "hash-max-ziplist-entries": "hash-max-listpack-entries",
    "hash-max-ziplist-value": "hash-max-listpack-value",
    "list-max-ziplist-size": "list-max-listpack-size",
    "zset-max-ziplist-entries": "zset-max-listpack-entries",
    "zset-max-ziplist-value": "zset-max-listpack-value",
}

FAILED = "ERR CONFIG SET failed (possibly related to argument '%s') - %s"
NOT_INT = "argument couldn't be parsed into an integer"
NOT_MEM = "argument must be a memory value"


class ConfigAliasTests(ServerTestCase):
    """Each test gets a fresh server: they change settings."""

    fresh_server_per_test = True

    def get(self, *args):
        """CONFIG GET as {name: value} (str), checking it lists no name twice."""
        flat = self.r.cmd("CONFIG", "GET", *args)
        self.assertIsInstance(flat, list, flat)
        self.assertEqual(len(flat) % 2, 0, flat)
        names = [flat[i].decode() for i in range(0, len(flat), 2)]
        self.assertEqual(len(names), len(set(names)), "a name listed twice: %r" % flat)
        return {flat[i].decode(): flat[i + 1].decode() for i in range(0, len(flat), 2)}

    # ---- CONFIG GET ----------------------------------------------------

    def test_get_alias_answers_under_the_alias(self):
        for alias, name in ZIPLIST_ALIASES.items():
            value = self.get(name)[name]
            self.assertEqual(self.r.cmd("CONFIG", "GET", alias),
                             [alias.encode(), value.encode()])

    def test_set_through_alias_then_get_under_both_names(self):
        self.assertOK(self.r.cmd("CONFIG", "SET", "hash-max-ziplist-value", "48"))
        self.assertEqual(self.r.cmd("CONFIG", "GET", "hash-max-ziplist-value"),
                         [b"hash-max-ziplist-value", b"48"])
        self.assertEqual(self.r.cmd("CONFIG", "GET", "hash-max-listpack-value"),
                         [b"hash-max-listpack-value", b"48"])

    def test_exact_name_comes_back_as_typed(self):
        self.assertEqual(self.r.cmd("CONFIG", "GET", "HASH-MAX-ZIPLIST-VALUE"),
                         [b"HASH-MAX-ZIPLIST-VALUE", b"64"])
        self.assertEqual(self.r.cmd("CONFIG", "GET", "Hz"), [b"Hz", b"10"])

    def test_pattern_lists_the_aliases(self):
        got = self.get("*ziplist*")
        self.assertEqual(set(got), set(ZIPLIST_ALIASES))
        for alias, name in ZIPLIST_ALIASES.items():
            self.assertEqual(got[alias], self.get(name)[name])

    def test_pattern_matching_name_and_alias_lists_both(self):
        self.assertEqual(self.get("hash-max-*"), {
            "hash-max-listpack-entries": "512", "hash-max-ziplist-entries": "512",
            "hash-max-listpack-value": "64", "hash-max-ziplist-value": "64"})
        self.assertEqual(self.get("ZSET-MAX-*-ENTRIES"), {
            "zset-max-listpack-entries": "128", "zset-max-ziplist-entries": "128"})
        self.assertEqual(self.get("list-max-*"), {
            "list-max-listpack-size": "-2", "list-max-ziplist-size": "-2"})

    def test_several_arguments_list_each_name_once_as_first_asked(self):
        got = self.get("hash-max-*", "hash-max-ziplist-value", "HASH-max-ziplist-value")
        self.assertEqual(set(got), {"hash-max-listpack-entries", "hash-max-ziplist-entries",
                                    "hash-max-listpack-value", "hash-max-ziplist-value"})
        got = self.get("HZ", "h*")
        self.assertEqual(got["HZ"], "10")
        self.assertNotIn("hz", got)
        self.assertIn("hash-max-ziplist-entries", got)
        self.assertEqual(self.get("hash-max-ziplist-value", "hash-max-listpack-value"),
                         {"hash-max-ziplist-value": "64", "hash-max-listpack-value": "64"})

    def test_unknown_name_gives_nothing(self):
        self.assertEqual(self.r.cmd("CONFIG", "GET", "hash-max-ziplist"), [])
        self.assertEqual(self.r.cmd("CONFIG", "GET", "nosuch*"), [])

    def test_save_with_get_and_restore_with_set(self):
        """What the issue's tools do: GET a value, change it, SET it back."""
        saved = self.r.cmd("CONFIG", "GET", "*ziplist*")
        self.assertEqual(len(saved), 2 * len(ZIPLIST_ALIASES))
        for alias in ZIPLIST_ALIASES:
            self.assertOK(self.r.cmd("CONFIG", "SET", alias, "7"))
        self.assertOK(self.r.cmd("CONFIG", "SET", *saved))
        self.assertEqual(self.r.cmd("CONFIG", "GET", "list-max-ziplist-size"),
                         [b"list-max-ziplist-size", b"-2"])
        self.assertEqual(self.get("hash-max-listpack-entries"),
                         {"hash-max-listpack-entries": "512"})

    # ---- CONFIG SET ----------------------------------------------------

    def test_set_errors_name_the_alias(self):
        self.assertError(self.r.cmd("CONFIG", "SET", "list-max-ziplist-size", "abc"),
                         FAILED % ("list-max-ziplist-size", NOT_INT))
        self.assertError(self.r.cmd("CONFIG", "SET", "Hash-Max-Ziplist-Value", "abc"),
                         FAILED % ("hash-max-ziplist-value", NOT_MEM))
        self.assertError(self.r.cmd("CONFIG", "SET", "HZ", "abc"), FAILED % ("hz", NOT_INT))

    def test_listpack_values_are_memory_values(self):
        self.assertOK(self.r.cmd("CONFIG", "SET", "hash-max-ziplist-value", "1kb"))
        self.assertEqual(self.get("hash-max-listpack-value"), {"hash-max-listpack-value": "1024"})
        self.assertOK(self.r.cmd("CONFIG", "SET", "zset-max-listpack-value", "2k"))
        self.assertEqual(self.get("zset-max-ziplist-value"), {"zset-max-ziplist-value": "2000"})
        self.assertError(self.r.cmd("CONFIG", "SET", "zset-max-listpack-value", "-1"),
                         FAILED % ("zset-max-listpack-value", NOT_MEM))
        self.assertError(self.r.cmd("CONFIG", "SET", "client-query-buffer-limit", "x"),
                         FAILED % ("client-query-buffer-limit", NOT_MEM))

    def test_set_empty_string(self):
        r = self.r
        # integers: not a number
        for name in ("hz", "maxclients", "timeout", "list-max-ziplist-size",
                     "hash-max-listpack-entries", "slowlog-log-slower-than"):
            self.assertError(r.cmd("CONFIG", "SET", name, ""), FAILED % (name, NOT_INT))
        # memory values: "" reads as 0, then the bounds decide
        self.assertError(r.cmd("CONFIG", "SET", "client-query-buffer-limit", ""),
                         FAILED % ("client-query-buffer-limit", "argument must be between "
                                   "1048576 and 9223372036854775807 inclusive"))
        self.assertOK(r.cmd("CONFIG", "SET", "hash-max-ziplist-value", ""))
        self.assertEqual(r.cmd("CONFIG", "GET", "hash-max-ziplist-value"),
                         [b"hash-max-ziplist-value", b"0"])
        # booleans
        self.assertError(r.cmd("CONFIG", "SET", "protected-mode", ""),
                         FAILED % ("protected-mode", "argument must be 'yes' or 'no'"))
        # strings and flag sets: empty is a value
        for name in ("requirepass", "notify-keyspace-events", "save"):
            self.assertOK(r.cmd("CONFIG", "SET", name, ""))
            self.assertEqual(r.cmd("CONFIG", "GET", name), [name.encode(), b""])
        # no client class given: nothing changes
        before = r.cmd("CONFIG", "GET", "client-output-buffer-limit")
        self.assertOK(r.cmd("CONFIG", "SET", "client-output-buffer-limit", ""))
        self.assertEqual(r.cmd("CONFIG", "GET", "client-output-buffer-limit"), before)

    def test_set_same_name_twice_is_a_duplicate(self):
        self.assertError(self.r.cmd("CONFIG", "SET", "hz", "11", "HZ", "12"),
                         FAILED % ("HZ", "duplicate parameter"))
        self.assertEqual(self.get("hz"), {"hz": "10"})
        # an alias is another name: both are set, the last wins
        self.assertOK(self.r.cmd("CONFIG", "SET", "hash-max-ziplist-value", "32",
                                 "hash-max-listpack-value", "33"))
        self.assertEqual(self.get("hash-max-ziplist-value"), {"hash-max-ziplist-value": "33"})

    def test_set_checks_every_name_before_any_value(self):
        self.assertError(self.r.cmd("CONFIG", "SET", "hz", "abc", "nosuch", "1"),
                         "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'")
        self.assertError(self.r.cmd("CONFIG", "SET", "hz", "abc", "DATABASES", "1"),
                         FAILED % ("DATABASES", "can't set immutable config"))
        self.assertError(self.r.cmd("CONFIG", "SET", "hz", "11", "hz", "abc"),
                         FAILED % ("hz", "duplicate parameter"))
        self.assertEqual(self.get("hz"), {"hz": "10"})


if __name__ == "__main__":
    unittest.main()
