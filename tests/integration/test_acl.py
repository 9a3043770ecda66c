"""ACL (Redis 7.0 without selectors; ACL LOG: test_acl_log.py): AUTH and HELLO AUTH with
users, the permission matrix (commands, subcommands, categories, key patterns
with read/write permissions, channels) and its -NOPERM errors, ACL
SETUSER/GETUSER/DELUSER/LIST/USERS/WHOAMI/CAT/GENPASS/DRYRUN/LOAD/SAVE,
requirepass as the default user's password, and the aclfile.

Each shard keeps its own copy of the users, so most tests open several
connections (they land on different shards) and check that a change made on
one of them holds on all of them.

Every test passes against redis-server 7.0.15 (SHARDIS_REFERENCE=redis)
except those marked shardis-only (skipped there). Tests that shardis fails
because of a deviation from Redis found while writing it are marked "Regression (fixed)".
"""
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Error, Server, ServerTestCase, free_port,  # noqa: E402
                     reference_mode, server_binary, shard_count)

NCLIENTS = 8  # several connections: with --shards 4 they land on every shard

WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
NOAUTH = "NOAUTH Authentication required."
NOAUTH_HELLO = ("NOAUTH HELLO must be called with the client already authenticated, "
                "otherwise the HELLO AUTH <user> <pass> option can be used to authenticate "
                "the client and select the RESP protocol version at the same time")
AUTH_NO_PASSWORD = ("ERR AUTH <password> called without any password configured for the "
                    "default user. Are you sure your configuration is correct?")
NOPERM_KEYS = "NOPERM this user has no permissions to access one of the keys used as arguments"
NOPERM_CHANNELS = ("NOPERM this user has no permissions to access one of the channels used "
                   "as arguments")
NO_ACLFILE = ("ERR This Redis instance is not configured to use an ACL file. You may want to "
              "specify users via the ACL SETUSER command and then issue a CONFIG REWRITE "
              "(assuming you have a Redis configuration file set) in order to store users in "
              "the Redis configuration.")
BAD_HASH = ("The password hash must be exactly 64 characters and contain only lowercase "
            "hexadecimal characters")
NO_SUCH_PASS = "The password you are trying to remove from the user does not exist"
KEYS_AFTER_ALL = ("Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid "
                  "and does not have any effect. Try 'resetkeys' to start with an empty list "
                  "of patterns")
CHANNELS_AFTER_ALL = ("Adding a pattern after the * pattern (or the 'allchannels' flag) is not "
                      "valid and does not have any effect. Try 'resetchannels' to start with "
                      "an empty list of channels")
UNKNOWN_RULE = "Unknown command or category name in ACL"
BAD_NAME = "ERR Usernames can't contain spaces or null characters"
GENPASS_ERR = ("ERR ACL GENPASS argument must be the number of bits for the output password, "
               "a positive number up to 4096")
CATEGORIES = [b"keyspace", b"read", b"write", b"set", b"sortedset", b"list", b"hash",
              b"string", b"bitmap", b"hyperloglog", b"geo", b"stream", b"pubsub", b"admin",
              b"fast", b"slow", b"blocking", b"dangerous", b"connection", b"transaction",
              b"scripting"]
DEFAULT_LINE = b"user default on nopass ~* &* +@all"


def noperm(cmd):
    return "NOPERM this user has no permissions to run the '%s' command" % cmd


def modifier_error(rule, why):
    return "ERR Error in ACL SETUSER modifier '%s': %s" % (rule, why)


def sha(password):
    return hashlib.sha256(password.encode()).hexdigest()


def getuser_map(reply):
    """ACL GETUSER's RESP2 flat list -> {b'flags': ..., ...}"""
    return {reply[i]: reply[i + 1] for i in range(0, len(reply), 2)}


def split_rules(text):
    """'-@all +@read +get' -> ('-@all', {'+@read', '+get'}): the start, then a
    set (the order of single command rules is the server's table order)."""
    words = text.decode().split()
    return words[0], set(words[1:])


def spread_clients(case, n, prepare=None):
    """At least n new connections of case's server, with one on every shard
    when n allows (shardis's CLIENT ID is seq * shards + shard + 1; the kernel
    spreads connections over the shards' SO_REUSEPORT listeners at random).
    prepare(c), when given, runs first on each new connection; then the
    connection must be allowed to run CLIENT ID."""
    shards = 1 if reference_mode() else shard_count()
    want = min(shards, n)
    cs, seen = [], set()
    while len(cs) < n or (len(seen) < want and len(cs) < 64):
        c = case.client()
        if prepare:
            prepare(c)
        cid = c.cmd("CLIENT", "ID")
        case.assertIsInstance(cid, int)
        seen.add((cid - 1) % shards)
        cs.append(c)
    case.assertEqual(len(seen), want, "no connection landed on some shard")
    return cs


class AclCase(ServerTestCase):
    """Starts each test with only the default user, untouched."""

    def setUp(self):
        super().setUp()
        users = [u for u in self.r.cmd("ACL", "USERS") if u != b"default"]
        if users:
            self.r.cmd("ACL", "DELUSER", *users)

    def setuser(self, name, *rules):
        self.assertOK(self.r.cmd("ACL", "SETUSER", name, *rules))

    def clients(self, n=NCLIENTS):
        return spread_clients(self, n)

    def authed(self, user, password, n=NCLIENTS):
        cs = self.clients(n)
        for c in cs:
            self.assertOK(c.cmd("AUTH", user, password))
        return cs


# --------------------------------------------------------------------------
# AUTH, HELLO AUTH, passwords
# --------------------------------------------------------------------------

class TestAuth(AclCase):

    def test_setuser_then_auth_on_every_connection(self):
        self.setuser("alice", "on", ">p1", "~*", "+@all")
        for i, c in enumerate(self.clients()):
            self.assertEqual(c.cmd("ACL", "WHOAMI"), b"default")
            self.assertOK(c.cmd("AUTH", "alice", "p1"))
            self.assertEqual(c.cmd("ACL", "WHOAMI"), b"alice")
            self.assertOK(c.cmd("SET", "k%d" % i, i))
            self.assertEqual(c.cmd("GET", "k%d" % i), str(i).encode())

    def test_wrong_password_unknown_user_and_disabled_user_are_wrongpass(self):
        self.setuser("alice", "on", ">p1", "~*", "+@all")
        self.setuser("offuser", "off", ">p1", "~*", "+@all")
        self.setuser("offnopass", "off", "nopass", "~*", "+@all")
        for c in self.clients():
            self.assertError(c.cmd("AUTH", "alice", "p2"), WRONGPASS)
            self.assertError(c.cmd("AUTH", "alice", ""), WRONGPASS)
            self.assertError(c.cmd("AUTH", "nosuchuser", "p1"), WRONGPASS)
            self.assertError(c.cmd("AUTH", "offuser", "p1"), WRONGPASS)
            self.assertError(c.cmd("AUTH", "offnopass", "anything"), WRONGPASS)
            self.assertError(c.cmd("AUTH", "ALICE", "p1"), WRONGPASS)  # names are exact
            # a failed AUTH leaves the connection as it was
            self.assertEqual(c.cmd("ACL", "WHOAMI"), b"default")

    def test_turning_a_user_on_and_off_holds_on_every_shard(self):
        self.setuser("bob", "off", ">pw", "~*", "+@all")
        cs = self.clients()
        for c in cs:
            self.assertError(c.cmd("AUTH", "bob", "pw"), WRONGPASS)
        self.setuser("bob", "on")
        for c in cs:
            self.assertOK(c.cmd("AUTH", "bob", "pw"))
        self.setuser("bob", "off")
        for c in self.clients():
            self.assertError(c.cmd("AUTH", "bob", "pw"), WRONGPASS)

    def test_nopass_user_accepts_any_password(self):
        self.setuser("np", "on", "nopass", "~*", "+@all")
        for i, c in enumerate(self.clients()):
            self.assertOK(c.cmd("AUTH", "np", "whatever%d" % i))
            self.assertEqual(c.cmd("ACL", "WHOAMI"), b"np")
        u = getuser_map(self.r.cmd("ACL", "GETUSER", "np"))
        self.assertEqual(u[b"flags"], [b"on", b"nopass"])
        self.assertEqual(u[b"passwords"], [])

    def test_add_and_remove_passwords(self):
        self.setuser("pw", "on", ">a", ">b", ">a", "~*", "+@all")
        u = getuser_map(self.r.cmd("ACL", "GETUSER", "pw"))
        self.assertEqual(u[b"flags"], [b"on"])
        self.assertEqual(u[b"passwords"], [sha("a").encode(), sha("b").encode()])
        for c in self.clients(4):
            self.assertOK(c.cmd("AUTH", "pw", "a"))
            self.assertOK(c.cmd("AUTH", "pw", "b"))
        self.setuser("pw", "<a")
        self.assertEqual(getuser_map(self.r.cmd("ACL", "GETUSER", "pw"))[b"passwords"],
                         [sha("b").encode()])
        for c in self.clients(4):
            self.assertError(c.cmd("AUTH", "pw", "a"), WRONGPASS)
            self.assertOK(c.cmd("AUTH", "pw", "b"))

    def test_hash_rules(self):
        self.setuser("h", "on", "#" + sha("secret"), "~*", "+@all")
        self.assertEqual(getuser_map(self.r.cmd("ACL", "GETUSER", "h"))[b"passwords"],
                         [sha("secret").encode()])
        for c in self.clients(4):
            self.assertOK(c.cmd("AUTH", "h", "secret"))
            self.assertError(c.cmd("AUTH", "h", sha("secret")), WRONGPASS)
        self.setuser("h", ">other", "!" + sha("secret"))
        self.assertEqual(getuser_map(self.r.cmd("ACL", "GETUSER", "h"))[b"passwords"],
                         [sha("other").encode()])
        for c in self.clients(4):
            self.assertError(c.cmd("AUTH", "h", "secret"), WRONGPASS)
            self.assertOK(c.cmd("AUTH", "h", "other"))

    def test_resetpass_and_nopass(self):
        self.setuser("rp", "on", ">a", "~*", "+@all")
        self.setuser("rp", "resetpass")
        u = getuser_map(self.r.cmd("ACL", "GETUSER", "rp"))
        self.assertEqual(u[b"flags"], [b"on"])
        self.assertEqual(u[b"passwords"], [])
        for c in self.clients(4):
            self.assertError(c.cmd("AUTH", "rp", "a"), WRONGPASS)
            self.assertError(c.cmd("AUTH", "rp", ""), WRONGPASS)
        # nopass forgets the passwords; a new password drops nopass
        self.setuser("rp", ">x", "nopass")
        u = getuser_map(self.r.cmd("ACL", "GETUSER", "rp"))
        self.assertEqual((u[b"flags"], u[b"passwords"]), ([b"on", b"nopass"], []))
        self.setuser("rp", ">z")
        u = getuser_map(self.r.cmd("ACL", "GETUSER", "rp"))
        self.assertEqual((u[b"flags"], u[b"passwords"]), ([b"on"], [sha("z").encode()]))
        for c in self.clients(4):
            self.assertError(c.cmd("AUTH", "rp", "x"), WRONGPASS)
            self.assertOK(c.cmd("AUTH", "rp", "z"))

    def test_password_rule_errors(self):
        self.setuser("pe", "on", ">a")
        self.assertError(self.r.cmd("ACL", "SETUSER", "pe", "<nope"),
                         modifier_error("<nope", NO_SUCH_PASS))
        self.assertError(self.r.cmd("ACL", "SETUSER", "pe", "!" + sha("nope")),
                         modifier_error("!" + sha("nope"), NO_SUCH_PASS))
        for bad in ("#abc", "!abc", "#" + sha("a").upper(), "#" + sha("a")[:-1] + "g",
                    "#" + sha("a") + "0"):
            self.assertError(self.r.cmd("ACL", "SETUSER", "pe", bad),
                             modifier_error(bad, BAD_HASH))
        self.assertEqual(getuser_map(self.r.cmd("ACL", "GETUSER", "pe"))[b"passwords"],
                         [sha("a").encode()])

    def test_auth_with_one_argument_is_the_default_user(self):
        for c in self.clients(4):
            self.assertError(c.cmd("AUTH", "pw"), AUTH_NO_PASSWORD)
            self.assertOK(c.cmd("AUTH", "default", "anything"))  # default is nopass
        self.assertError(self.r.cmd("AUTH", "a", "b", "c"), "ERR syntax error")

    def test_hello_auth(self):
        self.setuser("alice", "on", ">p1", "~*", "+@all")
        for c in self.clients():
            reply = c.cmd("HELLO", "3", "AUTH", "alice", "p1")
            self.assertEqual(reply[b"proto"], 3, reply)
            self.assertEqual(c.cmd("ACL", "WHOAMI"), b"alice")
            self.assertError(c.cmd("HELLO", "2", "AUTH", "alice", "nope"), WRONGPASS)
            self.assertError(c.cmd("HELLO", "2", "AUTH", "nosuch", "p1"), WRONGPASS)
            self.assertEqual(c.cmd("ACL", "WHOAMI"), b"alice")

    def test_reset_goes_back_to_the_default_user(self):
        self.setuser("alice", "on", ">p1", "~*", "+@all")
        for c in self.authed("alice", "p1", 4):
            self.assertEqual(c.cmd("RESET"), "RESET")
            self.assertEqual(c.cmd("ACL", "WHOAMI"), b"default")

    def test_client_list_names_the_user(self):
        self.setuser("alice", "on", ">p1", "~*", "+@all")
        c = self.authed("alice", "p1", 1)[0]
        line = c.cmd("CLIENT", "LIST").decode()
        self.assertIn(" user=alice ", line)


# --------------------------------------------------------------------------
# Command permissions
# --------------------------------------------------------------------------

class TestCommandPermissions(AclCase):

    def test_read_only_user_can_get_but_not_set(self):
        self.assertOK(self.r.cmd("SET", "k", "v"))
        self.setuser("reader", "on", ">p", "~*", "+@read")
        for c in self.authed("reader", "p"):
            self.assertEqual(c.cmd("GET", "k"), b"v")
            self.assertEqual(c.cmd("MGET", "k", "nokey"), [b"v", None])
            self.assertError(c.cmd("SET", "k", "x"), noperm("set"))
            self.assertError(c.cmd("DEL", "k"), noperm("del"))
            self.assertError(c.cmd("PING"), noperm("ping"))
        self.assertEqual(self.r.cmd("GET", "k"), b"v")

    def test_minus_command_after_all(self):
        self.setuser("noset", "on", ">p", "~*", "+@all", "-set", "-flushall")
        for i, c in enumerate(self.authed("noset", "p")):
            self.assertError(c.cmd("SET", "k%d" % i, "v"), noperm("set"))
            self.assertError(c.cmd("FLUSHALL"), noperm("flushall"))
            self.assertOK(c.cmd("SETEX", "k%d" % i, 100, "v"))
            self.assertEqual(c.cmd("GET", "k%d" % i), b"v")
            self.assertEqual(c.cmd("PING"), "PONG")

    def test_subcommand_rules(self):
        self.setuser("cfg", "on", ">p", "~*", "-@all", "+config|get", "+client")
        for c in self.authed("cfg", "p"):
            reply = c.cmd("CONFIG", "GET", "port")
            self.assertIsInstance(reply, list)
            self.assertError(c.cmd("CONFIG", "SET", "maxclients", "100"), noperm("config|set"))
            self.assertError(c.cmd("CONFIG", "RESETSTAT"), noperm("config|resetstat"))
            self.assertIsInstance(c.cmd("CLIENT", "ID"), int)
            self.assertError(c.cmd("ACL", "WHOAMI"), noperm("acl|whoami"))
        # -cmd|sub after +cmd
        self.setuser("cfg2", "on", ">p", "~*", "-@all", "+config", "-config|set")
        for c in self.authed("cfg2", "p", 4):
            self.assertIsInstance(c.cmd("CONFIG", "GET", "port"), list)
            self.assertError(c.cmd("CONFIG", "SET", "maxclients", "100"), noperm("config|set"))

    def test_a_user_with_no_command_can_still_auth_hello_and_quit(self):
        self.setuser("none", "on", ">p", "~*", "&*", "-@all")
        for c in self.clients(4):
            self.assertOK(c.cmd("AUTH", "none", "p"))
            self.assertError(c.cmd("PING"), noperm("ping"))
            self.assertError(c.cmd("GET", "k"), noperm("get"))
            self.assertError(c.cmd("ACL", "WHOAMI"), noperm("acl|whoami"))
            reply = c.cmd("HELLO", "3", "AUTH", "none", "p")
            self.assertEqual(reply[b"proto"], 3)
            self.assertOK(c.cmd("AUTH", "none", "p"))
            self.assertOK(c.cmd("QUIT"))
            self.assertTrue(c.is_closed())

    def test_allcommands_nocommands_and_categories(self):
        self.setuser("u", "on", ">p", "~*", "allcommands", "-@string")
        cs = self.authed("u", "p", 4)
        for c in cs:
            self.assertError(c.cmd("GET", "k"), noperm("get"))
            self.assertEqual(c.cmd("EXISTS", "k"), 0)
        self.setuser("u", "nocommands", "+@string")
        for c in cs:
            self.assertIsNone(c.cmd("GET", "k"))
            self.assertError(c.cmd("EXISTS", "k"), noperm("exists"))

    def test_permission_changes_reach_connections_on_every_shard(self):
        self.setuser("u", "on", ">p", "~*", "+@all")
        cs = self.authed("u", "p")
        for c in cs:
            self.assertIsNone(c.cmd("GET", "k"))
        self.setuser("u", "-get")
        for c in cs:
            self.assertError(c.cmd("GET", "k"), noperm("get"))
        self.setuser("u", "+get")
        for c in cs:
            self.assertIsNone(c.cmd("GET", "k"))

    def test_new_user_defaults_to_nothing(self):
        self.setuser("blank")
        self.assertEqual(self.r.cmd("ACL", "LIST")[0], b"user blank off resetchannels -@all")
        self.setuser("blank", "on", "nopass")
        for c in self.authed("blank", "x", 4):
            self.assertError(c.cmd("GET", "k"), noperm("get"))


# --------------------------------------------------------------------------
# Key patterns
# --------------------------------------------------------------------------

class TestKeyPatterns(AclCase):

    def test_key_pattern(self):
        self.setuser("k", "on", ">p", "~k*", "+@all")
        for i, c in enumerate(self.authed("k", "p")):
            self.assertOK(c.cmd("SET", "k%d" % i, "v"))
            self.assertEqual(c.cmd("GET", "k%d" % i), b"v")
            self.assertError(c.cmd("GET", "x%d" % i), NOPERM_KEYS)
            self.assertError(c.cmd("SET", "x%d" % i, "v"), NOPERM_KEYS)
            self.assertError(c.cmd("RENAME", "k%d" % i, "x%d" % i), NOPERM_KEYS)
            # a command without keys is not affected
            self.assertEqual(c.cmd("PING"), "PONG")
        self.assertEqual(self.r.cmd("EXISTS", *["x%d" % i for i in range(NCLIENTS)]), 0)

    def test_read_only_pattern(self):
        self.assertOK(self.r.cmd("SET", "r1", "v"))
        self.setuser("ro", "on", ">p", "%R~r*", "+@all")
        for c in self.authed("ro", "p"):
            self.assertEqual(c.cmd("GET", "r1"), b"v")
            self.assertEqual(c.cmd("STRLEN", "r1"), 1)
            self.assertError(c.cmd("SET", "r1", "x"), NOPERM_KEYS)
            self.assertError(c.cmd("DEL", "r1"), NOPERM_KEYS)
            self.assertError(c.cmd("APPEND", "r1", "x"), NOPERM_KEYS)
        self.assertEqual(self.r.cmd("GET", "r1"), b"v")

    def test_write_only_pattern(self):
        self.assertOK(self.r.cmd("SET", "w1", "v"))
        self.setuser("wo", "on", ">p", "%W~w*", "+@all")
        for c in self.authed("wo", "p"):
            self.assertError(c.cmd("GET", "w1"), NOPERM_KEYS)
            self.assertError(c.cmd("INCR", "w1"), NOPERM_KEYS)  # reads and writes
            self.assertError(c.cmd("GETDEL", "w1"), NOPERM_KEYS)
            self.assertEqual(c.cmd("APPEND", "w1", "x"), 2)  # writes only
            self.assertOK(c.cmd("SETEX", "w1", 100, "v"))
            # EXISTS touches no value: any pattern that matches allows it
            self.assertEqual(c.cmd("EXISTS", "w1"), 1)
        self.assertEqual(self.r.cmd("GET", "w1"), b"v")
        c = self.authed("wo", "p", 1)[0]
        self.assertEqual(c.cmd("DEL", "w1"), 1)

    def test_write_only_pattern_allows_plain_set(self):
        # Regression (fixed): SET's key spec has VARIABLE_FLAGS (RW ACCESS UPDATE only
        # because of the GET option); Redis resolves it per call (setGetKeys:
        # OW UPDATE without GET), so a %W~ user may SET w1 v but not SET w1 v
        # GET. shardis applies the spec's RW ACCESS flags and denies SET.
        self.setuser("wo", "on", ">p", "%W~w*", "+@all")
        for i, c in enumerate(self.authed("wo", "p")):
            self.assertOK(c.cmd("SET", "w%d" % i, "v"))
            self.assertError(c.cmd("SET", "w%d" % i, "v", "GET"), NOPERM_KEYS)
        self.assertEqual(self.r.cmd("EXISTS", *["w%d" % i for i in range(NCLIENTS)]), NCLIENTS)

    def test_read_and_write_patterns_combine_per_key(self):
        self.assertOK(self.r.cmd("SET", "r1", "v"))
        self.setuser("rw", "on", ">p", "%R~r*", "%W~w*", "+@all")
        c = self.authed("rw", "p", 1)[0]
        self.assertEqual(c.cmd("COPY", "r1", "w1"), 1)  # reads r1, writes w1
        self.assertError(c.cmd("COPY", "w1", "r2"), NOPERM_KEYS)
        self.assertEqual(self.r.cmd("GET", "w1"), b"v")
        self.assertEqual(self.r.cmd("EXISTS", "r2"), 0)

    def test_a_denied_key_denies_the_whole_multi_key_command(self):
        self.setuser("k", "on", ">p", "~k*", "+@all")
        allowed = ["k%d" % i for i in range(40)]  # spread over every shard
        for c in self.authed("k", "p", 4):
            args = []
            for k in allowed:
                args += [k, "v"]
            self.assertError(c.cmd("MSET", *(args + ["x", "v"])), NOPERM_KEYS)
            self.assertError(c.cmd("MSET", *(["x", "v"] + args)), NOPERM_KEYS)
            self.assertEqual(self.r.cmd("EXISTS", *(allowed + ["x"])), 0)
            self.assertError(c.cmd("MGET", *(allowed + ["x"])), NOPERM_KEYS)
            self.assertOK(c.cmd("MSET", *args))
            self.assertEqual(self.r.cmd("EXISTS", *allowed), len(allowed))
            self.assertError(c.cmd("DEL", *(allowed + ["x"])), NOPERM_KEYS)
            self.assertError(c.cmd("UNLINK", *(["x"] + allowed)), NOPERM_KEYS)
            self.assertEqual(self.r.cmd("EXISTS", *allowed), len(allowed))
            self.assertEqual(c.cmd("DEL", *allowed), len(allowed))

    def test_pattern_after_allkeys_and_resetkeys(self):
        self.assertError(self.r.cmd("ACL", "SETUSER", "a", "allkeys", "~foo"),
                         modifier_error("~foo", KEYS_AFTER_ALL))
        self.assertError(self.r.cmd("ACL", "SETUSER", "a", "~*", "%R~foo"),
                         modifier_error("%R~foo", KEYS_AFTER_ALL))
        self.setuser("a", "on", ">p", "+@all", "allkeys", "resetkeys", "~a*")
        self.assertEqual(getuser_map(self.r.cmd("ACL", "GETUSER", "a"))[b"keys"], b"~a*")
        c = self.authed("a", "p", 1)[0]
        self.assertError(c.cmd("GET", "b"), NOPERM_KEYS)
        self.assertIsNone(c.cmd("GET", "a"))
        # %R~* is not allkeys: more patterns may follow
        self.setuser("b", "%R~*", "~b")
        self.assertEqual(getuser_map(self.r.cmd("ACL", "GETUSER", "b"))[b"keys"], b"%R~* ~b")


# --------------------------------------------------------------------------
# Channels
# --------------------------------------------------------------------------

class TestChannels(AclCase):

    def test_channel_pattern(self):
        self.setuser("ch", "on", ">p", "resetchannels", "&ch*", "+@all")
        subs = self.authed("ch", "p", 4)
        for c in subs:
            self.assertError(c.cmd("SUBSCRIBE", "ch1", "x"), NOPERM_CHANNELS)
            self.assertError(c.cmd("PUBLISH", "x", "m"), NOPERM_CHANNELS)
            self.assertError(c.cmd("PSUBSCRIBE", "ch1*"), NOPERM_CHANNELS)
            self.assertEqual(c.cmd("PUBLISH", "ch1", "m"), 0)
        pub = self.authed("ch", "p", 1)[0]
        for c in subs:
            self.assertEqual(c.cmd("SUBSCRIBE", "ch1"), [b"subscribe", b"ch1", 1])
            # the pattern itself is allowed
            self.assertEqual(c.cmd("PSUBSCRIBE", "ch*"), [b"psubscribe", b"ch*", 2])
        self.assertEqual(pub.cmd("PUBLISH", "ch1", "hello"), 2 * len(subs))
        for c in subs:
            got = sorted(c.read_replies(2), key=len)
            self.assertEqual(got, [[b"message", b"ch1", b"hello"],
                                   [b"pmessage", b"ch*", b"ch1", b"hello"]])

    def test_allchannels_and_resetchannels(self):
        self.setuser("all", "on", ">p", "allchannels", "+@all")
        for c in self.authed("all", "p", 4):
            self.assertEqual(c.cmd("PUBLISH", "anything", "m"), 0)
        self.assertError(self.r.cmd("ACL", "SETUSER", "all", "&x"),
                         modifier_error("&x", CHANNELS_AFTER_ALL))
        self.setuser("all", "resetchannels")
        for c in self.authed("all", "p", 4):
            self.assertError(c.cmd("PUBLISH", "anything", "m"), NOPERM_CHANNELS)

    def test_new_users_have_no_channel(self):
        self.setuser("nc", "on", ">p", "+@all", "~*")
        for c in self.authed("nc", "p", 4):
            self.assertError(c.cmd("PUBLISH", "ch", "m"), NOPERM_CHANNELS)
            self.assertError(c.cmd("SUBSCRIBE", "ch"), NOPERM_CHANNELS)


# --------------------------------------------------------------------------
# ACL LIST, GETUSER, USERS, CAT, GENPASS, DRYRUN, HELP
# --------------------------------------------------------------------------

class TestIntrospection(AclCase):

    # (rules, commands as redis-server 7.0.15 describes them)
    RULE_SETS = [
        (["+@all"], "+@all"),
        (["-@all"], "-@all"),
        (["+@read"], "-@all +@read"),
        (["+@all", "-set"], "+@all -set"),
        (["-@all", "+config|get"], "-@all +config|get"),
        (["+@all", "-config|set", "-get", "-@dangerous"], "+@all -@dangerous -get"),
        (["-@all", "+@read", "+@write", "-set", "+client|list"],
         "-@all +@read +@write +client|list -set"),
        (["allcommands", "nocommands", "+ping", "+get", "+set", "+@pubsub"],
         "-@all +@pubsub +ping +set +get"),
        (["+@all", "-@all", "+@string", "+@hash", "-hget"], "-@all +@string +@hash -hget"),
        (["+@all", "-@keyspace", "-@write", "+del"],
         "+@all -@write -type -keys -ttl -dump -exists -expiretime -pexpiretime -touch -dbsize"
         " -scan -randomkey +del -object|idletime -object|freq -object|help -object|encoding"
         " -object|refcount -pttl"),
    ]

    def test_commands_description_of_rule_sets(self):
        for i, (rules, want) in enumerate(self.RULE_SETS):
            name = "u%d" % i
            self.setuser(name, *rules)
            got = getuser_map(self.r.cmd("ACL", "GETUSER", name))[b"commands"]
            self.assertEqual(split_rules(got), split_rules(want.encode()), (rules, got))

    def test_description_gives_the_same_permissions_back(self):
        probes = [["GET", "k"], ["SET", "k", "v"], ["DEL", "k"], ["PING"], ["TYPE", "k"],
                  ["CONFIG", "GET", "port"], ["CONFIG", "SET", "port", "1"],
                  ["CLIENT", "LIST"], ["PUBLISH", "c", "m"], ["FLUSHALL"], ["EXISTS", "k"],
                  ["KEYS", "*"], ["INCR", "k"], ["MSET", "k", "v"], ["STRLEN", "k"]]
        for i, (rules, _) in enumerate(self.RULE_SETS):
            self.setuser("a%d" % i, *rules, "~*", "&*")
            desc = getuser_map(self.r.cmd("ACL", "GETUSER", "a%d" % i))[b"commands"]
            self.setuser("b%d" % i, *desc.decode().split(), "~*", "&*")
            for p in probes:
                self.assertEqual(self.r.cmd("ACL", "DRYRUN", "a%d" % i, *p),
                                 self.r.cmd("ACL", "DRYRUN", "b%d" % i, *p), (rules, desc, p))

    def test_acl_list_lines(self):
        self.setuser("alice", "on", ">p1", "~k*", "+@read")
        self.setuser("bob", "on", "nopass", "%R~r*", "%W~w*", "&ch*", "+@all", "-set")
        self.setuser("carl", "off", "#" + sha("c"), "allkeys", "allchannels", "-@all",
                     "+config|get")
        self.setuser("dave", "~a", "%R~a", "%W~b", "%RW~c", "%WR~d", "&x", "&y", "&x",
                     "skip-sanitize-payload")
        self.setuser("eve", "reset")
        lines = self.r.cmd("ACL", "LIST")
        self.assertEqual(lines, [
            b"user alice on #" + sha("p1").encode() + b" ~k* resetchannels -@all +@read",
            b"user bob on nopass %R~r* %W~w* resetchannels &ch* +@all -set",
            b"user carl off #" + sha("c").encode() + b" ~* &* -@all +config|get",
            b"user dave off skip-sanitize-payload ~a %W~b ~c ~d resetchannels &x &y -@all",
            DEFAULT_LINE,
            b"user eve off sanitize-payload resetchannels -@all",
        ])
        # every connection (every shard's copy) says the same
        for c in self.clients(4):
            self.assertEqual(c.cmd("ACL", "LIST"), lines)

    def test_getuser(self):
        self.setuser("bob", "on", ">p", "%R~r*", "~k*", "&ch*", "-@all", "+get")
        self.assertEqual(self.r.cmd("ACL", "GETUSER", "bob"), [
            b"flags", [b"on"],
            b"passwords", [sha("p").encode()],
            b"commands", b"-@all +get",
            b"keys", b"%R~r* ~k*",
            b"channels", b"&ch*",
            b"selectors", []])
        self.assertEqual(getuser_map(self.r.cmd("ACL", "GETUSER", "default")), {
            b"flags": [b"on", b"nopass"], b"passwords": [], b"commands": b"+@all",
            b"keys": b"~*", b"channels": b"&*", b"selectors": []})
        self.assertIsNone(self.r.cmd("ACL", "GETUSER", "nosuch"))

    def test_users_are_sorted(self):
        for name in ("zed", "alice", "Bob", "mallory", "a"):
            self.setuser(name)
        want = [b"Bob", b"a", b"alice", b"default", b"mallory", b"zed"]
        for c in self.clients(4):
            self.assertEqual(c.cmd("ACL", "USERS"), want)

    def test_whoami(self):
        self.assertEqual(self.r.cmd("ACL", "WHOAMI"), b"default")
        self.assertError(self.r.cmd("ACL", "WHOAMI", "x"),
                         "ERR wrong number of arguments for 'acl|whoami' command")

    def test_cat(self):
        self.assertEqual(self.r.cmd("ACL", "CAT"), CATEGORIES)
        read = self.r.cmd("ACL", "CAT", "read")
        for cmd in (b"get", b"mget", b"strlen", b"exists", b"ttl", b"getrange"):
            self.assertIn(cmd, read)
        for cmd in (b"set", b"del", b"ping", b"config|get"):
            self.assertNotIn(cmd, read)
        self.assertEqual(len(read), len(set(read)))
        self.assertEqual(self.r.cmd("ACL", "CAT", "READ"), read)
        pubsub = set(self.r.cmd("ACL", "CAT", "pubsub"))
        self.assertTrue({b"publish", b"subscribe", b"psubscribe", b"pubsub|channels"} <= pubsub,
                        pubsub)
        self.assertError(self.r.cmd("ACL", "CAT", "nosuch"), "ERR Unknown category 'nosuch'")

    def test_cat_with_two_arguments_is_an_error(self):
        # Regression (fixed): Redis's ACL CAT takes at most one argument (subcommand
        # syntax error otherwise); shardis ignores the extra one and lists the
        # commands of the first category.
        self.assertError(self.r.cmd("ACL", "CAT", "read", "write"),
                         "ERR unknown subcommand or wrong number of arguments for 'CAT'. "
                         "Try ACL HELP.")

    def test_genpass(self):
        seen = set()
        for _ in range(3):
            p = self.r.cmd("ACL", "GENPASS")
            self.assertRegex(p.decode(), "^[0-9a-f]{64}$")
            seen.add(p)
        self.assertEqual(len(seen), 3)
        for bits, chars in ((1, 1), (4, 1), (5, 2), (128, 32), (255, 64), (4096, 1024)):
            p = self.r.cmd("ACL", "GENPASS", bits)
            self.assertRegex(p.decode(), "^[0-9a-f]{%d}$" % chars, bits)
        for bad in ("0", "-1", "4097"):
            self.assertError(self.r.cmd("ACL", "GENPASS", bad), GENPASS_ERR)

    def test_genpass_argument_errors(self):
        # Regression (fixed): Redis parses the bits with getLongFromObjectOrReply
        # ("value is not an integer") and has arity -2 with a subcommand
        # syntax error for extra arguments; shardis answers the range error
        # for "abc" and ignores the extra argument.
        self.assertError(self.r.cmd("ACL", "GENPASS", "abc"),
                         "ERR value is not an integer or out of range")
        self.assertError(self.r.cmd("ACL", "GENPASS", "8", "8"),
                         "ERR unknown subcommand or wrong number of arguments for 'GENPASS'. "
                         "Try ACL HELP.")

    def test_dryrun(self):
        self.setuser("r", "on", "nopass", "~*", "+@read", "+config|get")
        self.setuser("k", "on", "nopass", "~k*", "&ch*", "+@all")
        self.assertOK(self.r.cmd("ACL", "DRYRUN", "r", "GET", "k"))
        self.assertOK(self.r.cmd("ACL", "DRYRUN", "r", "config", "get", "port"))
        self.assertOK(self.r.cmd("ACL", "DRYRUN", "k", "MSET", "k1", "1", "k2", "2"))
        self.assertOK(self.r.cmd("ACL", "DRYRUN", "k", "PUBLISH", "ch1", "m"))
        # errors
        self.assertError(self.r.cmd("ACL", "DRYRUN", "nosuch", "GET", "k"),
                         "ERR User 'nosuch' not found")
        self.assertError(self.r.cmd("ACL", "DRYRUN", "r", "NOSUCHCMD"),
                         "ERR Command 'NOSUCHCMD' not found")
        self.assertError(self.r.cmd("ACL", "DRYRUN", "r", "config", "nosub"),
                         "ERR Command 'config' not found")
        self.assertError(self.r.cmd("ACL", "DRYRUN", "r", "GET"),
                         "ERR wrong number of arguments for 'get' command")
        self.assertError(self.r.cmd("ACL", "DRYRUN", "r"),
                         "ERR wrong number of arguments for 'acl|dryrun' command")
        # a dry run changes nothing
        self.assertEqual(self.r.cmd("ACL", "DRYRUN", "k", "SET", "k1", "v"), "OK")
        self.assertEqual(self.r.cmd("EXISTS", "k1"), 0)

    def test_dryrun_denied_reasons(self):
        # Regression (fixed): Redis 7.0's DRYRUN reasons start with a capital 'This'
        # and name the key or channel ("...access the 'x' key"); shardis
        # answers the NOPERM text without "NOPERM " ("this user has no
        # permissions to access one of the keys used as arguments").
        self.setuser("r", "on", "nopass", "~*", "+@read", "+config|get")
        self.setuser("k", "on", "nopass", "~k*", "&ch*", "+@all")
        self.assertEqual(self.r.cmd("ACL", "DRYRUN", "r", "SET", "k", "v"),
                         b"This user has no permissions to run the 'set' command")
        self.assertEqual(self.r.cmd("ACL", "DRYRUN", "r", "config", "set", "port", "1"),
                         b"This user has no permissions to run the 'config|set' command")
        self.assertEqual(self.r.cmd("ACL", "DRYRUN", "k", "MSET", "k1", "1", "x", "2"),
                         b"This user has no permissions to access the 'x' key")
        self.assertEqual(self.r.cmd("ACL", "DRYRUN", "k", "PUBLISH", "x", "m"),
                         b"This user has no permissions to access the 'x' channel")

    def test_help_and_arity(self):
        help_lines = self.r.cmd("ACL", "HELP")
        self.assertEqual(help_lines[0],
                         "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
        for sub in ("CAT [<category>]", "DELUSER <username> [<username> ...]",
                    "GETUSER <username>", "SETUSER <username> <attribute> [<attribute> ...]",
                    "DRYRUN <username> <command> [<arg> ...]"):
            self.assertIn(sub, help_lines)
        self.assertError(self.r.cmd("ACL"), "ERR wrong number of arguments for 'acl' command")
        self.assertError(self.r.cmd("ACL", "NOSUCH"),
                         "ERR unknown subcommand 'NOSUCH'. Try ACL HELP.")
        self.assertError(self.r.cmd("ACL", "SETUSER"),
                         "ERR wrong number of arguments for 'acl|setuser' command")
        self.assertError(self.r.cmd("ACL", "DELUSER"),
                         "ERR wrong number of arguments for 'acl|deluser' command")
        self.assertError(self.r.cmd("ACL", "GETUSER"),
                         "ERR wrong number of arguments for 'acl|getuser' command")


# --------------------------------------------------------------------------
# Bad input to SETUSER
# --------------------------------------------------------------------------

class TestSetuserErrors(AclCase):

    def test_bad_names(self):
        for name in ("a b", "a\x00b", " "):
            self.assertError(self.r.cmd("ACL", "SETUSER", name, "on"), BAD_NAME)
        self.assertEqual(self.r.cmd("ACL", "USERS"), [b"default"])

    def test_bad_modifiers(self):
        cases = [
            ("blah", "Syntax error"),
            ("%X~a", "Syntax error"),
            ("%~a", "Syntax error"),
            ("+nosuchcmd", UNKNOWN_RULE),
            ("-nosuchcmd", UNKNOWN_RULE),
            ("+@nosuchcat", UNKNOWN_RULE),
            ("+config|nosuchsub", UNKNOWN_RULE),
            ("#xyz", BAD_HASH),
        ]
        for rule, why in cases:
            self.assertError(self.r.cmd("ACL", "SETUSER", "u", rule), modifier_error(rule, why))
        self.assertEqual(self.r.cmd("ACL", "USERS"), [b"default"])  # nothing created

    def test_a_bad_rule_leaves_the_user_unchanged_everywhere(self):
        self.setuser("u", "on", ">p", "~k*", "-@all", "+get")
        before = self.r.cmd("ACL", "LIST")
        self.assertError(self.r.cmd("ACL", "SETUSER", "u", ">q", "~x*", "+set", "blah", "off"),
                         modifier_error("blah", "Syntax error"))
        for c in self.clients():
            self.assertEqual(c.cmd("ACL", "LIST"), before)
            self.assertError(c.cmd("AUTH", "u", "q"), WRONGPASS)
            self.assertOK(c.cmd("AUTH", "u", "p"))
            self.assertError(c.cmd("SET", "k1", "v"), noperm("set"))
            self.assertError(c.cmd("GET", "x1"), NOPERM_KEYS)

    def test_rules_are_case_insensitive_words(self):
        self.setuser("u", "ON", "NoPass", "AllKeys", "+GET", "+@READ")
        u = getuser_map(self.r.cmd("ACL", "GETUSER", "u"))
        self.assertEqual(u[b"flags"], [b"on", b"nopass"])
        self.assertEqual(u[b"keys"], b"~*")
        self.assertEqual(u[b"commands"], b"-@all +@read")

    def test_empty_rule_is_a_no_op(self):
        # Regression (fixed): Redis 7.0's ACLSetUser returns C_OK for an empty
        # rule ("Empty string is a no-operation"); shardis answers
        # "ERR Error in ACL SETUSER modifier '': Syntax error".
        self.setuser("u", "on", "", ">p")
        self.assertEqual(getuser_map(self.r.cmd("ACL", "GETUSER", "u"))[b"passwords"],
                         [sha("p").encode()])


# --------------------------------------------------------------------------
# DELUSER
# --------------------------------------------------------------------------

class TestDeluser(AclCase):

    def test_returns_the_number_removed(self):
        self.setuser("a")
        self.setuser("b")
        self.assertEqual(self.r.cmd("ACL", "DELUSER", "a", "nosuch", "b", "a"), 2)
        self.assertEqual(self.r.cmd("ACL", "DELUSER", "a"), 0)
        for c in self.clients(4):
            self.assertEqual(c.cmd("ACL", "USERS"), [b"default"])

    def test_default_cannot_be_removed(self):
        self.setuser("a")
        self.assertError(self.r.cmd("ACL", "DELUSER", "default"),
                         "ERR The 'default' user cannot be removed")
        # nothing is removed when one of the names is "default"
        self.assertError(self.r.cmd("ACL", "DELUSER", "a", "default"),
                         "ERR The 'default' user cannot be removed")
        self.assertEqual(self.r.cmd("ACL", "USERS"), [b"a", b"default"])

    def test_connections_of_the_removed_user_are_closed_on_every_shard(self):
        self.setuser("bob", "on", ">pb", "~*", "+@all")
        self.setuser("carol", "on", ">pc", "~*", "+@all")
        bobs = self.authed("bob", "pb")
        carols = self.authed("carol", "pc")
        defaults = self.clients(4)
        admin = self.client()
        self.assertEqual(admin.cmd("ACL", "DELUSER", "bob"), 1)
        for c in bobs:
            self.assertTrue(c.is_closed(), "a connection of bob stayed open")
        for c in carols:
            self.assertEqual(c.cmd("ACL", "WHOAMI"), b"carol")
        for c in defaults:
            self.assertEqual(c.cmd("PING"), "PONG")
        for c in self.clients(4):
            self.assertError(c.cmd("AUTH", "bob", "pb"), WRONGPASS)

    def test_removing_your_own_user_replies_then_closes(self):
        self.setuser("me", "on", ">p", "~*", "+@all")
        c = self.authed("me", "p", 1)[0]
        self.assertEqual(c.cmd("ACL", "DELUSER", "me"), 1)
        self.assertTrue(c.is_closed())


# --------------------------------------------------------------------------
# requirepass
# --------------------------------------------------------------------------

class TestRequirepass(ServerTestCase):
    server_args = ("--requirepass", "secret")
    fresh_server_per_test = True

    def setUp(self):
        super().setUp()  # its FLUSHALL got NOAUTH: fine, the server is new
        self.assertOK(self.r.cmd("AUTH", "secret"))

    def test_noauth_until_auth(self):
        def check(c):
            self.assertError(c.cmd("GET", "k"), NOAUTH)
            self.assertError(c.cmd("CLIENT", "ID"), NOAUTH)
            self.assertError(c.cmd("ACL", "WHOAMI"), NOAUTH)
            self.assertError(c.cmd("HELLO", "3"), NOAUTH_HELLO)
            self.assertError(c.cmd("AUTH", "wrong"), WRONGPASS)
            self.assertError(c.cmd("AUTH", "default", "wrong"), WRONGPASS)
            self.assertError(c.cmd("GET", "k"), NOAUTH)
            self.assertOK(c.cmd("AUTH", "secret"))
            self.assertIsNone(c.cmd("GET", "k"))
            self.assertEqual(c.cmd("ACL", "WHOAMI"), b"default")

        spread_clients(self, NCLIENTS, check)
        spread_clients(self, 4, lambda c: self.assertOK(c.cmd("AUTH", "default", "secret")))
        spread_clients(self, 4, lambda c: self.assertEqual(
            c.cmd("HELLO", "3", "AUTH", "default", "secret")[b"proto"], 3))

    def test_the_default_user_holds_the_password(self):
        u = getuser_map(self.r.cmd("ACL", "GETUSER", "default"))
        self.assertEqual(u[b"flags"], [b"on"])
        self.assertEqual(u[b"passwords"], [sha("secret").encode()])
        self.assertEqual(self.r.cmd("ACL", "LIST"),
                         [b"user default on #" + sha("secret").encode() + b" ~* &* +@all"])

    def test_config_set_requirepass_changes_the_default_password(self):
        old = spread_clients(self, 4, lambda c: self.assertOK(c.cmd("AUTH", "secret")))
        self.assertOK(self.r.cmd("CONFIG", "SET", "requirepass", "newpw"))
        self.assertEqual(getuser_map(self.r.cmd("ACL", "GETUSER", "default"))[b"passwords"],
                         [sha("newpw").encode()])
        def check(c):
            self.assertError(c.cmd("GET", "k"), NOAUTH)
            self.assertError(c.cmd("AUTH", "secret"), WRONGPASS)
            self.assertOK(c.cmd("AUTH", "newpw"))
            self.assertIsNone(c.cmd("GET", "k"))

        spread_clients(self, NCLIENTS, check)
        for c in old:  # authenticated connections stay so
            self.assertEqual(c.cmd("PING"), "PONG")

    def test_empty_requirepass_makes_the_default_user_nopass(self):
        self.assertOK(self.r.cmd("CONFIG", "SET", "requirepass", ""))
        u = getuser_map(self.r.cmd("ACL", "GETUSER", "default"))
        self.assertEqual((u[b"flags"], u[b"passwords"]), ([b"on", b"nopass"], []))
        def check(c):
            self.assertEqual(c.cmd("PING"), "PONG")
            self.assertError(c.cmd("AUTH", "secret"), AUTH_NO_PASSWORD)
            self.assertOK(c.cmd("AUTH", "default", "anything"))

        spread_clients(self, NCLIENTS, check)

    def test_other_users_work_with_requirepass(self):
        self.assertOK(self.r.cmd("ACL", "SETUSER", "alice", "on", ">pa", "~*", "+@all"))
        def check(c):
            self.assertError(c.cmd("AUTH", "alice", "secret"), WRONGPASS)
            self.assertOK(c.cmd("AUTH", "alice", "pa"))
            self.assertEqual(c.cmd("ACL", "WHOAMI"), b"alice")

        spread_clients(self, 4, check)


class TestProtectedModeFollowsTheDefaultUser(ServerTestCase):
    server_args = ("--protected-mode", "yes")
    fresh_server_per_test = True

    def connect_remote(self):
        """From 127.0.0.2 (counts as remote): the first bytes the server
        sends after our PING, or b'' when it closes without a word."""
        s = socket.socket()
        s.settimeout(2)
        s.bind(("127.0.0.2", 0))
        s.connect(("127.0.0.1", self.port))
        try:
            s.sendall(b"PING\r\n")
            return s.recv(100)
        except (socket.timeout, ConnectionResetError):
            return b"<no reply>"
        finally:
            s.close()

    def test_a_password_on_the_default_user_lifts_protected_mode(self):
        self.assertTrue(self.connect_remote().startswith(b"-DENIED"))
        self.assertOK(self.r.cmd("ACL", "SETUSER", "default", ">pw"))
        self.assertEqual(self.connect_remote(), b"-NOAUTH Authentication required.\r\n")
        self.assertOK(self.r.cmd("ACL", "SETUSER", "default", "nopass"))
        self.assertTrue(self.connect_remote().startswith(b"-DENIED"))


# --------------------------------------------------------------------------
# aclfile, ACL LOAD / SAVE
# --------------------------------------------------------------------------

class TestNoAclfile(AclCase):

    def test_load_and_save_need_an_aclfile(self):
        self.assertError(self.r.cmd("ACL", "LOAD"), NO_ACLFILE)
        self.assertError(self.r.cmd("ACL", "SAVE"), NO_ACLFILE)


# Without a line for "default": the file's default user is as new.
INITIAL_FILE = "user alice on >pa ~a* resetchannels +@all\n"
# The default user's line as ACL SAVE writes it.
SAVED_DEFAULT_FILE = INITIAL_FILE + DEFAULT_LINE.decode() + "\n"


class TestAclfile(ServerTestCase):
    fresh_server_per_test = True
    # the aclfile a test starts with, when not INITIAL_FILE
    START_FILES = {
        "test_a_default_line_as_saved_loads_at_start_up": SAVED_DEFAULT_FILE,
        "test_a_default_line_starts_from_a_blank_user":
            "user default on nopass ~k* +ping +get +acl\n",
    }

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="shardis-acl-")
        self.path = os.path.join(self.dir, "users.acl")
        self.write(self.START_FILES.get(self._testMethodName, INITIAL_FILE))
        self.server_args = ("--aclfile", self.path)
        super().setUp()

    def tearDown(self):
        try:
            super().tearDown()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, text):
        with open(self.path, "w") as f:
            f.write(text)

    def read_lines(self):
        with open(self.path, "rb") as f:
            return [line for line in f.read().split(b"\n") if line]

    def clients(self, n=NCLIENTS):
        return spread_clients(self, n)

    def test_users_of_the_file_work_on_every_shard(self):
        self.assertEqual(self.r.cmd("ACL", "USERS"), [b"alice", b"default"])
        for i, c in enumerate(self.clients()):
            self.assertError(c.cmd("AUTH", "alice", "wrong"), WRONGPASS)
            self.assertOK(c.cmd("AUTH", "alice", "pa"))
            self.assertOK(c.cmd("SET", "a%d" % i, "v"))
            self.assertError(c.cmd("SET", "b%d" % i, "v"), NOPERM_KEYS)

    def test_a_default_line_as_saved_loads_at_start_up(self):
        # Regression (fixed): acl_load_file creates "default" (on nopass ~* &* +@all)
        # before it reads the file and applies the file's "user default ..."
        # line on top of it, so the "~*" of the very line ACL SAVE writes is
        # refused ("Adding a pattern after the * pattern...") and the server
        # does not start. Redis applies every line to a blank user.
        self.assertEqual(self.r.cmd("ACL", "LIST"), [
            b"user alice on #" + sha("pa").encode() + b" ~a* resetchannels +@all",
            DEFAULT_LINE])

    def test_a_default_line_starts_from_a_blank_user(self):
        # Regression (fixed): same cause as above: "~k*" is refused after the
        # pre-created default's allkeys; Redis starts the line from a blank
        # user (off, no key, no channel, -@all).
        u = getuser_map(self.r.cmd("ACL", "GETUSER", "default"))
        self.assertEqual((u[b"flags"], u[b"keys"], u[b"channels"]),
                         ([b"on", b"nopass"], b"~k*", b""))
        self.assertEqual(split_rules(u[b"commands"]), ("-@all", {"+ping", "+get", "+acl"}))
        for c in [self.client() for _ in range(4)]:  # may not run CLIENT ID
            self.assertIsNone(c.cmd("GET", "k1"))
            self.assertError(c.cmd("GET", "x"), NOPERM_KEYS)
            self.assertError(c.cmd("SET", "k1", "v"), noperm("set"))

    def test_save_writes_the_users(self):
        self.assertOK(self.r.cmd("ACL", "SETUSER", "bob", "on", ">pb", "%R~x*", "&c", "+get"))
        self.assertOK(self.r.cmd("ACL", "SAVE"))
        lines = self.read_lines()
        self.assertEqual(lines, [
            b"user alice on #" + sha("pa").encode() + b" ~a* resetchannels +@all",
            b"user bob on #" + sha("pb").encode() + b" %R~x* resetchannels &c -@all +get",
            DEFAULT_LINE])
        self.assertEqual(lines, self.r.cmd("ACL", "LIST"))
        # and the saved file loads back as the same users (regression, fixed: it
        # does not: see test_a_default_line_as_saved_loads_at_start_up)
        self.assertEqual(self.r.cmd("ACL", "DELUSER", "bob"), 1)
        self.assertOK(self.r.cmd("ACL", "LOAD"))
        self.assertEqual(self.r.cmd("ACL", "LIST"), lines)

    def test_load_picks_up_the_file_on_every_shard(self):
        cs = self.clients()
        self.write("user alice on >pa2 ~a* resetchannels +@all\n"
                   "user carol on >pc ~* resetchannels -@all +get\n")
        self.assertOK(self.r.cmd("ACL", "LOAD"))
        for c in cs:
            self.assertEqual(c.cmd("ACL", "USERS"), [b"alice", b"carol", b"default"])
            self.assertError(c.cmd("AUTH", "alice", "pa"), WRONGPASS)
            self.assertOK(c.cmd("AUTH", "alice", "pa2"))
            self.assertOK(c.cmd("AUTH", "carol", "pc"))
            self.assertIsNone(c.cmd("GET", "k"))
            self.assertError(c.cmd("SET", "k", "v"), noperm("set"))

    def test_load_of_a_password_for_default(self):
        # Regression (fixed): refused, see test_a_default_line_as_saved_loads_at_start_up
        self.write("user default on >dpw ~* &* +@all\n")
        self.assertOK(self.r.cmd("ACL", "LOAD"))
        def check(c):
            self.assertError(c.cmd("GET", "k"), NOAUTH)
            self.assertOK(c.cmd("AUTH", "dpw"))

        spread_clients(self, 4, check)
        self.assertEqual(self.r.cmd("ACL", "USERS"), [b"default"])  # r was default: kept

    def test_a_file_without_default_gives_a_fresh_default(self):
        self.write("user alice on >pa ~a* +@all\n")
        self.assertOK(self.r.cmd("ACL", "SETUSER", "default", ">x"))
        self.assertOK(self.r.cmd("ACL", "LOAD"))
        self.assertEqual(self.r.cmd("ACL", "GETUSER", "default")[1], [b"on", b"nopass"])
        self.assertEqual(self.r.cmd("ACL", "LIST")[-1], DEFAULT_LINE)

    def test_load_closes_connections_of_removed_users(self):
        alices = self.clients()
        for c in alices:
            self.assertOK(c.cmd("AUTH", "alice", "pa"))
        defaults = self.clients(4)
        self.write("user carol on >pc\n")
        self.assertOK(self.r.cmd("ACL", "LOAD"))
        for c in alices:
            self.assertTrue(c.is_closed(), "a connection of a removed user stayed open")
        for c in defaults:
            self.assertEqual(c.cmd("PING"), "PONG")

    def test_a_broken_file_is_refused_and_the_users_stay(self):
        before = self.r.cmd("ACL", "LIST")
        cs = self.clients()
        for text in ("user alice on >new ~* +@all\nuser bob on blah\n",
                     "user alice on >new ~* +@all\nnotuser bob\n",
                     "user alice on >new\nuser\n",
                     "user alice on >new\n# a comment\n"):
            self.write(text)
            reply = self.r.cmd("ACL", "LOAD")
            self.assertIsInstance(reply, Error, text)
            self.assertTrue(reply.message.startswith("ERR "), reply)
            self.assertIn(self.path, reply.message)  # names the file
            for c in cs:
                self.assertEqual(c.cmd("ACL", "LIST"), before)
                self.assertError(c.cmd("AUTH", "alice", "new"), WRONGPASS)
                self.assertOK(c.cmd("AUTH", "alice", "pa"))
        os.unlink(self.path)
        reply = self.r.cmd("ACL", "LOAD")
        self.assertIsInstance(reply, Error)
        self.assertIn(self.path, reply.message)
        self.assertIn("No such file or directory", reply.message)
        self.assertEqual(self.r.cmd("ACL", "LIST"), before)

    def test_a_user_twice_in_the_file_is_refused(self):
        # Regression (fixed): Redis 7.0 refuses a file that names a user twice
        # ("WARNING: Duplicate user 'alice' found on line 2"); shardis merges
        # the lines (the second applies on top of the first) and loads it.
        before = self.r.cmd("ACL", "LIST")
        self.write("user alice on >pa ~a* +@all\nuser alice off\n")
        reply = self.r.cmd("ACL", "LOAD")
        self.assertIsInstance(reply, Error)
        self.assertIn("alice", reply.message)
        self.assertEqual(self.r.cmd("ACL", "LIST"), before)

    def test_a_bad_file_at_start_up_stops_the_server(self):
        bad = os.path.join(self.dir, "bad.acl")
        with open(bad, "w") as f:
            f.write("user alice on blah\n")
        for path in (bad, os.path.join(self.dir, "missing.acl")):
            srv = Server(args=["--aclfile", path])
            proc = subprocess.Popen(srv.command_line(free_port()), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    cwd=self.dir)
            try:
                out, _ = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                self.fail("the server started with the bad aclfile %s" % path)
            self.assertNotEqual(proc.returncode, 0, out)


class TestTestConfigWithAclfile(unittest.TestCase):
    """shardis-server --test-config checks the aclfile (shardis-specific)."""

    def setUp(self):
        if reference_mode():
            self.skipTest("shardis's --test-config")
        self.dir = tempfile.mkdtemp(prefix="shardis-acl-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def check(self, aclfile):
        conf = os.path.join(self.dir, "shardis.conf")
        with open(conf, "w") as f:
            f.write("port 6379\naclfile %s\n" % aclfile)
        return subprocess.run([server_binary(), "--test-config", conf], capture_output=True,
                              text=True, timeout=10)

    def test_a_good_aclfile_passes(self):
        path = os.path.join(self.dir, "users.acl")
        with open(path, "w") as f:
            f.write(INITIAL_FILE)
        p = self.check(path)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("is OK", p.stdout)

    def test_an_aclfile_written_by_acl_save_passes(self):
        # Regression (fixed): see TestAclfile.test_a_default_line_as_saved_loads_at_start_up
        path = os.path.join(self.dir, "users.acl")
        with open(path, "w") as f:
            f.write(SAVED_DEFAULT_FILE)
        p = self.check(path)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_a_bad_aclfile_fails_and_is_named(self):
        path = os.path.join(self.dir, "users.acl")
        with open(path, "w") as f:
            f.write("user alice on >pa\nuser bob blah\n")
        p = self.check(path)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn(path, p.stderr)
        self.assertIn("blah", p.stderr)

    def test_a_missing_aclfile_fails_and_is_named(self):
        path = os.path.join(self.dir, "missing.acl")
        p = self.check(path)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn(path, p.stderr)


if __name__ == "__main__":
    unittest.main()
