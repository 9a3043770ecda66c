"""COMMAND GETKEYSANDFLAGS, COMMAND HELP, PUBSUB HELP and LOLWUT, as Redis
7.0.15 answers them.

Every test also runs against Redis (SHARDIS_REFERENCE=redis). These
commands run on the client's core, so the shard count changes nothing.
LOLWUT's drawings are random: the tests check their size and trailing text,
and the exact pixels only where no random number is drawn.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import RespSet, ServerTestCase, Status, Verbatim  # noqa: E402

NOTINT = "ERR value is not an integer or out of range"
VERSION_TEXT = b"Redis ver. 7.0.15\n"
V5_TRAILER = b"\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. 7.0.15\n"
V6_TRAILER = (b"\nDedicated to the 8 bit game developers of past and present.\n"
              b"Original 8 bit image from Plaguemon by hikikomori. Redis ver. 7.0.15\n")

COMMAND_HELP = [
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
    "HELP",
    "    Prints this help.",
]

PUBSUB_HELP = [
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> "
    "(default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
]


def arity(cmd):
    return "ERR wrong number of arguments for '%s' command" % cmd


class HelpTest(ServerTestCase):

    def assertStatusLines(self, reply, lines):
        self.assertEqual(reply, lines)
        for line in reply:
            self.assertIsInstance(line, Status)

    def test_command_help(self):
        self.assertStatusLines(self.r.cmd("COMMAND", "HELP"), COMMAND_HELP)
        self.assertError(self.r.cmd("COMMAND", "HELP", "x"), arity("command|help"))

    def test_pubsub_help(self):
        self.assertStatusLines(self.r.cmd("PUBSUB", "HELP"), PUBSUB_HELP)
        self.assertError(self.r.cmd("PUBSUB", "HELP", "x"), arity("pubsub|help"))

    def test_help_is_listed(self):
        names = self.r.cmd("COMMAND", "LIST", "FILTERBY", "PATTERN", "*help")
        for n in (b"command|help", b"pubsub|help"):
            self.assertIn(n, names)
        names = self.r.cmd("COMMAND", "LIST", "FILTERBY", "PATTERN", "command|getkeys*")
        self.assertEqual(sorted(names), [b"command|getkeys", b"command|getkeysandflags"])


class GetKeysAndFlagsTest(ServerTestCase):

    def gkf(self, *args):
        return self.r.cmd("COMMAND", "GETKEYSANDFLAGS", *args)

    def test_key_spec_flags(self):
        self.assertEqual(self.gkf("GET", "k"), [[b"k", ["RO", "access"]]])
        self.assertEqual(self.gkf("LMOVE", "a", "b", "LEFT", "RIGHT"),
                         [[b"a", ["RW", "access", "delete"]], [b"b", ["RW", "insert"]]])
        self.assertEqual(self.gkf("MSET", "a", "1", "b", "2"),
                         [[b"a", ["OW", "update"]], [b"b", ["OW", "update"]]])
        self.assertEqual(self.gkf("ZUNIONSTORE", "d", "1", "a"),
                         [[b"d", ["OW", "update"]], [b"a", ["RO", "access"]]])
        self.assertEqual(self.gkf("OBJECT", "FREQ", "a"), [[b"a", ["RO"]]])
        self.assertEqual(self.gkf("LMPOP", "1", "a", "LEFT"),
                         [[b"a", ["RW", "access", "delete"]]])
        self.assertEqual(self.gkf("EVAL", "return 1", "1", "a"),
                         [[b"a", ["RW", "access", "update"]]])
        self.assertIsInstance(self.gkf("GET", "k")[0][1][0], Status)

    def test_getkeys_procs_set_their_own_flags(self):
        self.assertEqual(self.gkf("SET", "a", "b"), [[b"a", ["OW", "update"]]])
        self.assertEqual(self.gkf("SET", "a", "b", "GET"),
                         [[b"a", ["RW", "access", "update"]]])
        self.assertEqual(self.gkf("SORT", "a", "STORE", "b"),
                         [[b"a", ["RO", "access"]], [b"b", ["OW", "update"]]])
        self.assertEqual(self.gkf("SORT", "a"), [[b"a", ["RO", "access"]]])
        self.assertEqual(self.gkf("BITFIELD", "a", "GET", "u8", "0"),
                         [[b"a", ["RO", "access"]]])
        self.assertEqual(self.gkf("BITFIELD", "a", "OVERFLOW", "WRAP", "GET", "u8", "0"),
                         [[b"a", ["RO", "access"]]])
        self.assertEqual(self.gkf("BITFIELD", "a", "SET", "u8", "0", "1"),
                         [[b"a", ["RW", "access", "update"]]])
        self.assertEqual(self.gkf("BITFIELD", "a", "GET", "u8"),
                         [[b"a", ["RW", "access", "update"]]])
        self.assertEqual(self.gkf("GEORADIUS", "a", "0", "0", "1", "m", "STORE", "b"),
                         [[b"a", ["RO", "access"]], [b"b", ["OW", "update"]]])
        self.assertEqual(self.gkf("GEORADIUS", "a", "0", "0", "1", "m", "STORE"),
                         [[b"a", ["RO", "access"]]])

    def test_loose_numkeys_gives_keys_without_flags(self):
        # the key specs want a strict integer; genericGetKeys (atoi) does not
        self.assertEqual(self.gkf("ZUNION", "1x", "a"), [[b"a", []]])
        self.assertEqual(self.gkf("ZUNIONSTORE", "d", "+1", "a"), [[b"a", []], [b"d", []]])
        self.assertEqual(self.gkf("SINTERCARD", "01", "a"), [[b"a", []]])
        self.assertEqual(self.gkf("EVAL", "", "1x", "a"), [[b"a", []]])

    def test_errors(self):
        self.assertError(self.gkf("GET"), arity("command|getkeysandflags"))
        self.assertError(self.r.cmd("COMMAND", "GETKEYSANDFLAGS"),
                         arity("command|getkeysandflags"))
        self.assertError(self.gkf("NOSUCH", "a"), "ERR Invalid command specified")
        self.assertError(self.gkf("GET", "a", "b"),
                         "ERR Invalid number of arguments specified for command")
        self.assertError(self.gkf("ZUNION", "5", "a"),
                         "ERR Invalid arguments specified for command")
        self.assertError(self.gkf("SPUBLISH", "a", "b"), "ERR The command has no key arguments")
        self.assertError(self.gkf("CLIENT", "KILL", "a"), "ERR The command has no key arguments")
        self.assertEqual(self.gkf("EVAL", "", "0"), [])

    def test_resp3_flags_are_a_set(self):
        self.r.cmd("HELLO", "3")
        reply = self.gkf("SET", "a", "b")
        self.assertEqual(reply, [[b"a", ["OW", "update"]]])
        self.assertIsInstance(reply[0][1], RespSet)

    def test_same_keys_as_getkeys(self):
        args = ("ZINTERSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2")
        keys = self.r.cmd("COMMAND", "GETKEYS", *args)
        self.assertEqual([k for k, _ in self.gkf(*args)], keys)
        self.assertEqual(keys, [b"d", b"a", b"b"])


class LolwutTest(ServerTestCase):

    def test_own_version(self):
        for args in ((), ("VERSION", "7"), ("VERSION",), ("foo", "bar"), ("VERSION", "-1"),
                     ("VERSION", "59"), ("VERSION", "4")):
            reply = self.r.cmd("LOLWUT", *args)
            self.assertEqual(reply, VERSION_TEXT, args)
            self.assertNotIsInstance(reply, Verbatim)

    def test_resp3_is_verbatim_txt(self):
        self.r.cmd("HELLO", "3")
        reply = self.r.cmd("LOLWUT")
        self.assertIsInstance(reply, Verbatim)
        self.assertIn(reply.format, ("txt", b"txt"))
        self.assertEqual(bytes(reply), VERSION_TEXT)
        reply = self.r.cmd("LOLWUT", "VERSION", "6", "3", "2")
        self.assertIsInstance(reply, Verbatim)
        self.assertTrue(bytes(reply).endswith(V6_TRAILER))

    def test_errors(self):
        self.assertError(self.r.cmd("LOLWUT", "VERSION", "x"), NOTINT)
        self.assertError(self.r.cmd("LOLWUT", "VERSION", "5", "x"), NOTINT)
        self.assertError(self.r.cmd("LOLWUT", "VERSION", "5", "10", "1.5"), NOTINT)
        self.assertError(self.r.cmd("LOLWUT", "VERSION", "6", "1", "y"), NOTINT)
        self.assertError(self.r.cmd("LOLWUT", "VERSION", "99999999999999999999"), NOTINT)

    def test_v5_default_size(self):
        reply = self.r.cmd("LOLWUT", "VERSION", "5")
        self.assertTrue(reply.endswith(V5_TRAILER))
        art = reply[:-len(V5_TRAILER)].decode("utf-8")
        lines = art.split("\n")
        # 66 columns: a 132 x 196 canvas, 4 pixel rows per line, then an empty line
        self.assertEqual(len(lines), 50)
        self.assertEqual(lines[-1], "")
        for line in lines[:-1]:
            self.assertEqual(len(line), 66)
            self.assertTrue(all(0x2800 <= ord(ch) <= 0x28ff for ch in line))
        self.assertEqual(len(set(art)) > 2, True)

    def test_v5_without_randomness(self):
        # rows 0 and 1 are never rotated: one square is drawn exactly
        reply = self.r.cmd("LOLWUT", "VERSION", "5", "1", "1", "1")
        self.assertEqual(reply, "\u280b".encode() + b"\n" + V5_TRAILER)
        reply = self.r.cmd("LOLWUT", "VERSION", "5", "4", "2", "2")
        self.assertEqual(reply, self.r.cmd("LOLWUT", "VERSION", "5", "4", "2", "2"))
        # out of range values are clamped
        self.assertEqual(self.r.cmd("LOLWUT", "VERSION", "5", "-5", "0", "-1"),
                         self.r.cmd("LOLWUT", "VERSION", "5", "1", "1", "1"))
        self.assertTrue(self.r.cmd("LOLWUT", "VERSION", "5", "3").endswith(V5_TRAILER))

    def test_v6_size(self):
        reply = self.r.cmd("LOLWUT", "VERSION", "6")
        self.assertTrue(reply.endswith(V6_TRAILER))
        lines = reply[:-len(V6_TRAILER)].split(b"\n")
        self.assertEqual(len(lines), 20)
        cell = b"\x1b\\[0;(30;40|90;100|37;47|97;107)m \x1b\\[0m"
        import re
        for line in lines:
            self.assertRegex(line, b"^(" + cell + b"){80}$")
        reply = self.r.cmd("LOLWUT", "VERSION", "6", "7", "3")
        self.assertEqual(len(reply[:-len(V6_TRAILER)].split(b"\n")), 3)
        self.assertEqual(len(re.findall(cell, reply)), 21)
        reply = self.r.cmd("LOLWUT", "VERSION", "6", "0", "0")
        self.assertEqual(len(re.findall(cell, reply)), 1)


if __name__ == "__main__":
    unittest.main()
