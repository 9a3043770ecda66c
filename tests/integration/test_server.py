"""Connection and server commands, error replies, and shutdown."""

import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Client, Error, Map, Server,  # noqa: E402
                     ServerTestCase, Verbatim, free_port, pairs_to_map, reference_mode,
                     server_binary)

HELLO_FIELDS = {b"server", b"version", b"proto", b"id", b"mode", b"role", b"modules"}
AUTH_NO_PASSWORD = ("ERR AUTH <password> called without any password configured for the "
                    "default user. Are you sure your configuration is correct?")
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
NOAUTH = "NOAUTH Authentication required."
NOAUTH_HELLO = ("NOAUTH HELLO must be called with the client already authenticated, "
                "otherwise the HELLO AUTH <user> <pass> option can be used to authenticate "
                "the client and select the RESP protocol version at the same time")
BAD_NAME = "ERR Client names cannot contain spaces, newlines or special characters."


def arity(cmd):
    return "ERR wrong number of arguments for '%s' command" % cmd


def client_fields(line):
    """'id=1 addr=... name=x' -> {'id': '1', ...}"""
    out = {}
    for part in line.strip().split(" "):
        k, _, v = part.partition("=")
        out[k] = v
    return out


def info_fields(text):
    out = {}
    for line in text.split("\r\n"):
        if line and not line.startswith("#") and ":" in line:
            k, _, v = line.partition(":")
            out[k] = v
    return out


class TestPingEchoQuit(ServerTestCase):

    def test_ping_replies_pong(self):
        self.assertEqual(self.r.raw("PING"), b"+PONG\r\n")

    def test_ping_with_argument_echoes_it_as_bulk(self):
        self.assertEqual(self.r.raw("PING", "hello"), b"$5\r\nhello\r\n")

    def test_ping_with_two_arguments_is_wrong_arity(self):
        self.assertError(self.r.cmd("PING", "a", "b"), arity("ping"))

    def test_echo_returns_argument(self):
        self.assertEqual(self.r.raw("ECHO", "hi there"), b"$8\r\nhi there\r\n")
        self.assertEqual(self.r.cmd("ECHO", ""), b"")
        self.assertError(self.r.cmd("ECHO"), arity("echo"))

    def test_commands_are_case_insensitive(self):
        self.assertEqual(self.r.cmd("pInG"), "PONG")
        self.assertOK(self.r.cmd("set", "k", "v"))
        self.assertEqual(self.r.cmd("GeT", "k"), b"v")

    def test_quit_replies_ok_then_closes(self):
        c = self.client()
        self.assertEqual(c.raw("QUIT"), b"+OK\r\n")
        self.assertTrue(c.is_closed())

    def test_commands_after_quit_in_the_same_write_are_not_run(self):
        c = self.client()
        c.send(b"QUIT\r\nSET afterquit 1\r\n")
        self.assertEqual(c.read_reply(), "OK")
        self.assertTrue(c.is_closed())
        self.assertEqual(self.r.cmd("EXISTS", "afterquit"), 0)


class TestReset(ServerTestCase):

    def test_reset_replies_reset(self):
        self.assertEqual(self.r.raw("RESET"), b"+RESET\r\n")

    def test_reset_selects_db_zero(self):
        self.r.cmd("SELECT", "4")
        self.r.cmd("SET", "k", "db4")
        self.r.cmd("RESET")
        self.assertIsNone(self.r.cmd("GET", "k"))
        self.r.cmd("SELECT", "4")
        self.assertEqual(self.r.cmd("GET", "k"), b"db4")

    def test_reset_goes_back_to_resp2(self):
        self.r.cmd("HELLO", "3")
        self.assertEqual(self.r.raw("GET", "nokey"), b"_\r\n")
        self.assertEqual(self.r.raw("RESET"), b"+RESET\r\n")
        self.assertEqual(self.r.raw("GET", "nokey"), b"$-1\r\n")

    def test_reset_clears_client_name(self):
        self.r.cmd("CLIENT", "SETNAME", "someone")
        self.r.cmd("RESET")
        self.assertIsNone(self.r.cmd("CLIENT", "GETNAME"))

    def test_reset_keeps_the_client_id(self):
        before = self.r.cmd("CLIENT", "ID")
        self.r.cmd("RESET")
        self.assertEqual(self.r.cmd("CLIENT", "ID"), before)


class TestHello(ServerTestCase):

    def check_hello(self, reply, proto):
        if proto == 3:
            self.assertIsInstance(reply, Map)
            fields = dict(reply)
        else:
            self.assertIsInstance(reply, list)
            fields = pairs_to_map(reply)
        self.assertEqual(set(fields), HELLO_FIELDS)
        self.assertIsInstance(fields[b"server"], bytes)
        self.assertIsInstance(fields[b"version"], bytes)
        self.assertRegex(fields[b"version"].decode(), r"^\d+\.\d+\.\d+")
        self.assertEqual(fields[b"proto"], proto)
        self.assertEqual(fields[b"id"], self.r.cmd("CLIENT", "ID"))
        self.assertEqual(fields[b"mode"], b"standalone")
        self.assertEqual(fields[b"role"], b"master")
        self.assertEqual(fields[b"modules"], [])
        return fields

    def test_hello_without_arguments_stays_resp2(self):
        self.check_hello(self.r.cmd("HELLO"), 2)
        self.assertEqual(self.r.raw("GET", "nokey"), b"$-1\r\n")

    def test_hello_2_replies_flat_array(self):
        reply = self.r.cmd("HELLO", "2")
        self.assertTrue(self.r.last_raw.startswith(b"*14\r\n"))
        self.check_hello(reply, 2)

    def test_hello_3_replies_map_and_switches_to_resp3(self):
        reply = self.r.cmd("HELLO", "3")
        self.assertTrue(self.r.last_raw.startswith(b"%7\r\n"))
        self.check_hello(reply, 3)
        self.assertEqual(self.r.raw("GET", "nokey"), b"_\r\n")

    def test_hello_with_unsupported_version_is_noproto(self):
        for version in ("4", "1", "0", "-1"):
            with self.subTest(version=version):
                self.assertError(self.r.cmd("HELLO", version),
                                 "NOPROTO unsupported protocol version")
        self.assertEqual(self.r.raw("GET", "nokey"), b"$-1\r\n")

    def test_hello_with_non_integer_version(self):
        self.assertError(self.r.cmd("HELLO", "abc"),
                         "ERR Protocol version is not an integer or out of range")

    def test_hello_with_unknown_option(self):
        self.assertError(self.r.cmd("HELLO", "3", "FOO"), "ERR Syntax error in HELLO option 'FOO'")
        self.assertError(self.r.cmd("HELLO", "3", "AUTH", "default"),
                         "ERR Syntax error in HELLO option 'AUTH'")
        self.assertError(self.r.cmd("HELLO", "2", "setname"),
                         "ERR Syntax error in HELLO option 'setname'")
        self.assertEqual(self.r.raw("GET", "nokey"), b"$-1\r\n")

    def test_hello_3_setname_sets_client_name(self):
        self.check_hello(self.r.cmd("HELLO", "3", "SETNAME", "myconn"), 3)
        self.assertEqual(self.r.cmd("CLIENT", "GETNAME"), b"myconn")

    def test_hello_3_with_bad_name_fails_and_stays_resp2(self):
        self.assertError(self.r.cmd("HELLO", "3", "SETNAME", "a b"), BAD_NAME)
        self.assertEqual(self.r.raw("GET", "nokey"), b"$-1\r\n")

    def test_hello_3_auth_default_user_without_password_configured(self):
        # The default user has no password: any password is accepted.
        self.check_hello(self.r.cmd("HELLO", "3", "AUTH", "default", "anything"), 3)

    def test_hello_3_auth_and_setname_together(self):
        reply = self.r.cmd("HELLO", "3", "AUTH", "default", "x", "SETNAME", "both")
        self.check_hello(reply, 3)
        self.assertEqual(self.r.cmd("CLIENT", "GETNAME"), b"both")


class TestAuthWithoutPassword(ServerTestCase):

    def test_auth_without_requirepass_errors(self):
        self.assertError(self.r.cmd("AUTH", "secret"), AUTH_NO_PASSWORD)

    def test_auth_default_user_accepts_any_password(self):
        self.assertOK(self.r.cmd("AUTH", "default", "whatever"))

    def test_auth_unknown_user_is_wrongpass(self):
        self.assertError(self.r.cmd("AUTH", "nosuchuser", "x"), WRONGPASS)

    def test_auth_wrong_arity(self):
        self.assertError(self.r.cmd("AUTH"), arity("auth"))


class TestAuthWithPassword(ServerTestCase):
    server_args = ("--requirepass", "s3cret")


    def test_unauthenticated_clients_get_small_protocol_limits(self):
        c = self.client()
        c.send(b"*11\r\n")
        self.assertEqual(c.read_reply(),
                         Error("ERR Protocol error: unauthenticated multibulk length"))
        self.assertTrue(c.is_closed())
        c = self.client()
        c.send(b"*1\r\n$16385\r\n")
        self.assertEqual(c.read_reply(), Error("ERR Protocol error: unauthenticated bulk length"))
        self.assertTrue(c.is_closed())
    def setUp(self):
        # FLUSHALL in the base setUp needs an authenticated connection.
        self._clients = []
        self.port = self.server.port
        self.r = self.client()
        self.assertOK(self.r.cmd("AUTH", "s3cret"))
        self.r.cmd("FLUSHALL")

    def test_commands_need_authentication(self):
        c = self.client()
        self.assertError(c.cmd("GET", "x"), NOAUTH)
        self.assertError(c.cmd("PING"), NOAUTH)

    def test_auth_with_wrong_password_is_wrongpass(self):
        c = self.client()
        self.assertError(c.cmd("AUTH", "bad"), WRONGPASS)
        self.assertError(c.cmd("GET", "x"), NOAUTH)

    def test_auth_with_password_and_with_default_user(self):
        c = self.client()
        self.assertOK(c.cmd("AUTH", "s3cret"))
        self.assertIsNone(c.cmd("GET", "x"))
        c2 = self.client()
        self.assertOK(c2.cmd("AUTH", "default", "s3cret"))
        self.assertEqual(c2.cmd("PING"), "PONG")

    def test_hello_needs_authentication(self):
        c = self.client()
        self.assertError(c.cmd("HELLO", "3"), NOAUTH_HELLO)
        self.assertError(c.cmd("HELLO"), NOAUTH_HELLO)

    def test_hello_3_auth_authenticates_and_switches_protocol(self):
        c = self.client()
        self.assertError(c.cmd("HELLO", "3", "AUTH", "default", "bad"), WRONGPASS)
        reply = c.cmd("HELLO", "3", "AUTH", "default", "s3cret")
        self.assertIsInstance(reply, Map)
        self.assertEqual(reply[b"proto"], 3)
        self.assertEqual(c.raw("GET", "x"), b"_\r\n")

    def test_reset_deauthenticates(self):
        c = self.client()
        c.cmd("AUTH", "s3cret")
        self.assertEqual(c.cmd("RESET"), "RESET")
        self.assertError(c.cmd("GET", "x"), NOAUTH)

    def test_quit_works_without_authentication(self):
        c = self.client()
        self.assertEqual(c.raw("QUIT"), b"+OK\r\n")
        self.assertTrue(c.is_closed())


class TestClientCommands(ServerTestCase):

    def test_client_id_is_a_positive_integer_unique_per_connection(self):
        ids = [self.client().cmd("CLIENT", "ID") for _ in range(5)]
        for i in ids:
            self.assertIsInstance(i, int)
            self.assertGreater(i, 0)
        self.assertEqual(len(set(ids)), 5)

    def test_client_id_is_stable_on_a_connection(self):
        self.assertEqual(self.r.cmd("CLIENT", "ID"), self.r.cmd("CLIENT", "ID"))

    def test_client_getname_without_name_is_nil(self):
        self.assertIsNone(self.r.cmd("CLIENT", "GETNAME"))

    def test_client_setname_and_getname(self):
        self.assertOK(self.r.cmd("CLIENT", "SETNAME", "worker-1"))
        self.assertEqual(self.r.cmd("CLIENT", "GETNAME"), b"worker-1")

    def test_client_setname_empty_clears_name(self):
        self.r.cmd("CLIENT", "SETNAME", "x")
        self.assertOK(self.r.cmd("CLIENT", "SETNAME", ""))
        self.assertIsNone(self.r.cmd("CLIENT", "GETNAME"))

    def test_client_setname_rejects_spaces_and_newlines(self):
        for name in ("a b", "a\nb", "a\x01"):
            with self.subTest(name=name):
                self.assertError(self.r.cmd("CLIENT", "SETNAME", name), BAD_NAME)
        self.assertIsNone(self.r.cmd("CLIENT", "GETNAME"))

    def test_client_setname_wrong_arity(self):
        self.assertError(self.r.cmd("CLIENT", "SETNAME"),
                         "ERR wrong number of arguments for 'client|setname' command")

    def test_client_unknown_subcommand(self):
        self.assertError(self.r.cmd("CLIENT", "FOO"),
                         "ERR unknown subcommand 'FOO'. Try CLIENT HELP.")

    def test_client_info_describes_this_connection(self):
        self.r.cmd("CLIENT", "SETNAME", "me")
        self.r.cmd("SELECT", "3")
        text = self.r.cmd("CLIENT", "INFO")
        self.assertIsInstance(text, bytes)
        text = text.decode()
        self.assertTrue(text.endswith("\n"))
        self.assertEqual(text.count("\n"), 1)
        fields = client_fields(text)
        self.assertEqual(int(fields["id"]), self.r.cmd("CLIENT", "ID"))
        host, port = self.r.sock.getsockname()
        self.assertEqual(fields["addr"], "%s:%d" % (host, port))
        self.assertEqual(fields["name"], "me")
        self.assertEqual(fields["db"], "3")

    def test_client_info_in_resp3_is_verbatim(self):
        self.r.cmd("HELLO", "3")
        reply = self.r.cmd("CLIENT", "INFO")
        self.assertIsInstance(reply, Verbatim)
        self.assertEqual(reply.format, "txt")
        self.assertIn(b"id=%d " % self.r.cmd("CLIENT", "ID"), reply)

    def test_client_list_lists_every_connection(self):
        others = [self.client() for _ in range(3)]
        for i, c in enumerate(others):
            c.cmd("CLIENT", "SETNAME", "other-%d" % i)
        text = self.r.cmd("CLIENT", "LIST")
        self.assertIsInstance(text, bytes)
        lines = [client_fields(l) for l in text.decode().split("\n") if l]
        by_id = {int(f["id"]): f for f in lines}
        for i, c in enumerate(others):
            cid = c.cmd("CLIENT", "ID")
            self.assertIn(cid, by_id)
            self.assertEqual(by_id[cid]["name"], "other-%d" % i)
            self.assertEqual(by_id[cid]["addr"], "%s:%d" % c.sock.getsockname())
        self.assertIn(self.r.cmd("CLIENT", "ID"), by_id)

    def test_client_list_by_id(self):
        other = self.client()
        oid = other.cmd("CLIENT", "ID")
        text = self.r.cmd("CLIENT", "LIST", "ID", oid).decode()
        lines = [l for l in text.split("\n") if l]
        self.assertEqual(len(lines), 1)
        self.assertEqual(int(client_fields(lines[0])["id"]), oid)

    def test_client_kill_by_id_closes_that_connection(self):
        victim = self.client()
        vid = victim.cmd("CLIENT", "ID")
        self.assertEqual(self.r.cmd("CLIENT", "KILL", "ID", vid), 1)
        self.assertTrue(victim.is_closed())
        self.assertEqual(self.r.cmd("CLIENT", "KILL", "ID", vid), 0)

    def test_client_kill_by_addr_closes_that_connection(self):
        victim = self.client()
        victim.cmd("PING")
        addr = "%s:%d" % victim.sock.getsockname()
        self.assertEqual(self.r.cmd("CLIENT", "KILL", "ADDR", addr), 1)
        self.assertTrue(victim.is_closed())

    def test_client_kill_old_form_by_address(self):
        victim = self.client()
        victim.cmd("PING")
        addr = "%s:%d" % victim.sock.getsockname()
        self.assertOK(self.r.cmd("CLIENT", "KILL", addr))
        self.assertTrue(victim.is_closed())
        self.assertError(self.r.cmd("CLIENT", "KILL", addr), "ERR No such client")

    def test_client_kill_of_unknown_client_returns_zero(self):
        self.assertEqual(self.r.cmd("CLIENT", "KILL", "ID", "999999999"), 0)
        self.assertEqual(self.r.cmd("CLIENT", "KILL", "ADDR", "10.1.2.3:4567"), 0)

    def test_client_kill_skips_the_caller_by_default(self):
        myid = self.r.cmd("CLIENT", "ID")
        self.assertEqual(self.r.cmd("CLIENT", "KILL", "ID", myid), 0)
        self.assertEqual(self.r.cmd("CLIENT", "KILL", "ID", myid, "SKIPME", "yes"), 0)
        self.assertEqual(self.r.cmd("PING"), "PONG")

    def test_client_kill_with_skipme_no_kills_the_caller_after_replying(self):
        c = self.client()
        cid = c.cmd("CLIENT", "ID")
        self.assertEqual(c.cmd("CLIENT", "KILL", "ID", cid, "SKIPME", "no"), 1)
        self.assertTrue(c.is_closed())

    def test_client_kill_errors(self):
        self.assertError(self.r.cmd("CLIENT", "KILL", "ID", "abc"),
                         "ERR client-id should be greater than 0")
        self.assertError(self.r.cmd("CLIENT", "KILL", "ID", "0"),
                         "ERR client-id should be greater than 0")
        self.assertError(self.r.cmd("CLIENT", "KILL", "FOO", "x"), "ERR syntax error")
        self.assertError(self.r.cmd("CLIENT", "KILL", "ID", "5", "SKIPME", "maybe"),
                         "ERR syntax error")
        # Three arguments is the old form: "ID" is taken as an address.
        self.assertError(self.r.cmd("CLIENT", "KILL", "ID"), "ERR No such client")


class TestInfo(ServerTestCase):

    def test_default_info_has_the_main_sections(self):
        text = self.r.cmd("INFO")
        self.assertIsInstance(text, bytes)
        headers = [l for l in text.decode().split("\r\n") if l.startswith("# ")]
        for section in ("# Server", "# Clients", "# Memory", "# Stats", "# CPU", "# Keyspace"):
            self.assertIn(section, headers)

    def test_info_single_section(self):
        text = self.r.cmd("INFO", "server").decode()
        self.assertTrue(text.startswith("# Server\r\n"))
        self.assertNotIn("# Clients", text)
        self.assertEqual(info_fields(text)["tcp_port"], str(self.port))

    def test_info_several_sections(self):
        text = self.r.cmd("INFO", "server", "clients").decode()
        headers = [l for l in text.split("\r\n") if l.startswith("# ")]
        self.assertEqual(headers, ["# Server", "# Clients"])

    def test_info_sections_are_case_insensitive(self):
        self.assertTrue(self.r.cmd("INFO", "MEMORY").decode().startswith("# Memory\r\n"))

    def test_info_unknown_section_is_empty(self):
        self.assertEqual(self.r.raw("INFO", "nosuchsection"), b"$0\r\n\r\n")

    def test_info_clients_counts_connections(self):
        others = [self.client() for _ in range(3)]
        for c in others:
            c.cmd("PING")
        fields = info_fields(self.r.cmd("INFO", "clients").decode())
        self.assertGreaterEqual(int(fields["connected_clients"]), 4)

    def test_info_memory_reports_used_memory(self):
        fields = info_fields(self.r.cmd("INFO", "memory").decode())
        self.assertGreater(int(fields["used_memory"]), 0)

    def test_info_stats_counts_commands(self):
        fields = info_fields(self.r.cmd("INFO", "stats").decode())
        before = int(fields["total_commands_processed"])
        for _ in range(10):
            self.r.cmd("PING")
        fields = info_fields(self.r.cmd("INFO", "stats").decode())
        self.assertGreaterEqual(int(fields["total_commands_processed"]), before + 10)
        self.assertIn("total_connections_received", fields)

    def test_info_cpu_section_exists(self):
        text = self.r.cmd("INFO", "cpu").decode()
        self.assertTrue(text.startswith("# CPU\r\n"))
        self.assertIn("used_cpu_sys", info_fields(text))

    def test_info_keyspace_counts_keys_and_expires(self):
        self.assertEqual(self.r.cmd("INFO", "keyspace").decode().strip(), "# Keyspace")
        self.r.cmd("MSET", "a", "1", "b", "2", "c", "3")
        self.r.cmd("EXPIRE", "a", "1000")
        self.r.cmd("SELECT", "5")
        self.r.cmd("SET", "x", "1")
        text = self.r.cmd("INFO", "keyspace").decode()
        lines = [l for l in text.split("\r\n") if l.startswith("db")]
        self.assertEqual(len(lines), 2)
        self.assertRegex(lines[0], r"^db0:keys=3,expires=1,avg_ttl=\d+$")
        self.assertRegex(lines[1], r"^db5:keys=1,expires=0,avg_ttl=0$")

    def test_info_keyspace_counts_many_keys(self):
        self.r.cmd("MSET", *[x for i in range(1000) for x in ("key:%d" % i, "v")])
        for i in range(0, 1000, 10):
            self.r.cmd("EXPIRE", "key:%d" % i, "1000")
        text = self.r.cmd("INFO", "keyspace").decode()
        self.assertRegex(text, r"\r\ndb0:keys=1000,expires=100,avg_ttl=\d+\r\n")

    def test_config_resetstat_resets_counters(self):
        for _ in range(50):
            self.r.cmd("PING")
        self.assertOK(self.r.cmd("CONFIG", "RESETSTAT"))
        fields = info_fields(self.r.cmd("INFO", "stats").decode())
        self.assertLess(int(fields["total_commands_processed"]), 10)


class TestConfig(ServerTestCase):

    def config_get(self, name):
        reply = self.r.cmd("CONFIG", "GET", name)
        self.assertIsInstance(reply, list)
        return pairs_to_map(reply)

    def config_roundtrip(self, name, value, expected=None):
        old = self.config_get(name)[name.encode()]
        try:
            self.assertOK(self.r.cmd("CONFIG", "SET", name, value))
            self.assertEqual(self.config_get(name), {name.encode(): (expected or value).encode()})
        finally:
            self.assertOK(self.r.cmd("CONFIG", "SET", name, old))
        self.assertEqual(self.config_get(name)[name.encode()], old)

    def test_config_get_returns_name_value_pairs(self):
        self.assertEqual(self.r.raw("CONFIG", "GET", "timeout"),
                         b"*2\r\n$7\r\ntimeout\r\n$1\r\n0\r\n")

    def test_config_get_known_parameters(self):
        for name in ("maxclients", "timeout", "proto-max-bulk-len",
                     "client-query-buffer-limit", "databases", "port"):
            with self.subTest(name=name):
                values = self.config_get(name)
                self.assertEqual(list(values), [name.encode()])
                self.assertRegex(values[name.encode()].decode(), r"^\d+$")
        self.assertEqual(self.config_get("databases"), {b"databases": b"16"})
        self.assertEqual(self.config_get("port"), {b"port": str(self.port).encode()})

    def test_config_get_several_parameters(self):
        values = self.config_get_multi("timeout", "databases")
        self.assertEqual(values, {b"timeout": b"0", b"databases": b"16"})

    def config_get_multi(self, *names):
        return pairs_to_map(self.r.cmd("CONFIG", "GET", *names))

    def test_config_get_glob(self):
        values = self.config_get("maxc*")
        self.assertIn(b"maxclients", values)

    def test_config_get_unknown_parameter_is_empty(self):
        self.assertEqual(self.r.raw("CONFIG", "GET", "nosuchparam"), b"*0\r\n")

    def test_config_set_maxclients(self):
        self.config_roundtrip("maxclients", "500")

    def test_config_set_timeout(self):
        self.config_roundtrip("timeout", "300")

    def test_config_set_proto_max_bulk_len(self):
        self.config_roundtrip("proto-max-bulk-len", "2097152")
        self.config_roundtrip("proto-max-bulk-len", "4mb", "4194304")

    def test_config_set_client_query_buffer_limit(self):
        self.config_roundtrip("client-query-buffer-limit", "2097152")

    def test_config_set_several_parameters(self):
        self.assertOK(self.r.cmd("CONFIG", "SET", "timeout", "100", "maxclients", "600"))
        try:
            self.assertEqual(self.config_get_multi("timeout", "maxclients"),
                             {b"timeout": b"100", b"maxclients": b"600"})
        finally:
            self.r.cmd("CONFIG", "SET", "timeout", "0", "maxclients", "10000")

    def test_config_set_databases_is_immutable(self):
        self.assertError(self.r.cmd("CONFIG", "SET", "databases", "20"),
                         "ERR CONFIG SET failed (possibly related to argument 'databases') "
                         "- can't set immutable config")
        self.assertEqual(self.config_get("databases"), {b"databases": b"16"})

    def test_config_set_unknown_parameter(self):
        self.assertError(self.r.cmd("CONFIG", "SET", "nosuchparam", "1"),
                         "ERR Unknown option or number of arguments for CONFIG SET - 'nosuchparam'")

    def test_config_set_bad_values(self):
        self.assertError(self.r.cmd("CONFIG", "SET", "maxclients", "abc"),
                         "ERR CONFIG SET failed (possibly related to argument 'maxclients') "
                         "- argument couldn't be parsed into an integer")
        self.assertError(self.r.cmd("CONFIG", "SET", "timeout", "-1"),
                         "ERR CONFIG SET failed (possibly related to argument 'timeout') "
                         "- argument must be between 0 and 2147483647 inclusive")
        self.assertEqual(self.config_get("timeout"), {b"timeout": b"0"})

    def test_config_wrong_arity_and_unknown_subcommand(self):
        self.assertError(self.r.cmd("CONFIG", "GET"),
                         "ERR wrong number of arguments for 'config|get' command")
        self.assertError(self.r.cmd("CONFIG", "SET", "timeout"),
                         "ERR wrong number of arguments for 'config|set' command")
        self.assertError(self.r.cmd("CONFIG", "FOO"),
                         "ERR unknown subcommand 'FOO'. Try CONFIG HELP.")

    def test_timeout_closes_idle_connections(self):
        self.assertOK(self.r.cmd("CONFIG", "SET", "timeout", "1"))
        try:
            idle = self.client(timeout=5)
            self.assertEqual(idle.cmd("PING"), "PONG")
            self.assertTrue(idle.is_closed(timeout=4.0), "idle client not closed")
        finally:
            fresh = self.client()
            self.assertOK(fresh.cmd("CONFIG", "SET", "timeout", "0"))

    def test_maxclients_rejects_extra_connections(self):
        def connected():
            return int(info_fields(self.r.cmd("INFO", "clients").decode())["connected_clients"])
        self.wait_until(lambda: connected() == 1, msg="other connections still open")
        self.assertOK(self.r.cmd("CONFIG", "SET", "maxclients", "3"))
        try:
            accepted = [self.client() for _ in range(2)]
            for c in accepted:
                self.assertEqual(c.cmd("PING"), "PONG")
            extra = self.client()
            self.assertError(extra.cmd("PING"), "ERR max number of clients reached")
            self.assertTrue(extra.is_closed())
        finally:
            self.assertOK(self.r.cmd("CONFIG", "SET", "maxclients", "10000"))
        late = self.client()
        self.assertEqual(late.cmd("PING"), "PONG")


class TestCommandTimeDebug(ServerTestCase):

    def test_command_count_is_positive(self):
        count = self.r.cmd("COMMAND", "COUNT")
        self.assertIsInstance(count, int)
        self.assertGreater(count, 0)

    def test_command_info_get(self):
        reply = self.r.cmd("COMMAND", "INFO", "get")
        self.assertEqual(len(reply), 1)
        info = reply[0]
        self.assertEqual(info[0], b"get")
        self.assertEqual(info[1], 2)
        self.assertIn("readonly", info[2])
        self.assertEqual(info[3:6], [1, 1, 1])

    def test_command_info_is_case_insensitive_and_multi(self):
        reply = self.r.cmd("COMMAND", "INFO", "GET", "set", "nosuchcommand")
        self.assertEqual(len(reply), 3)
        self.assertEqual(reply[0][0], b"get")
        self.assertEqual(reply[1][0], b"set")
        self.assertEqual(reply[1][1], -3)
        self.assertIn("write", reply[1][2])
        self.assertIsNone(reply[2])

    def test_command_info_of_unknown_command_is_nil(self):
        self.assertEqual(self.r.raw("COMMAND", "INFO", "nosuchcommand"), b"*1\r\n$-1\r\n")

    def test_command_info_mset_key_positions(self):
        info = self.r.cmd("COMMAND", "INFO", "mset")[0]
        self.assertEqual(info[0], b"mset")
        self.assertEqual(info[1], -3)
        self.assertEqual(info[3:6], [1, -1, 2])

    def test_command_docs_get(self):
        reply = self.r.cmd("COMMAND", "DOCS", "get")
        self.assertEqual(len(reply), 2)
        self.assertEqual(reply[0], b"get")
        docs = pairs_to_map(reply[1])
        self.assertIsInstance(docs[b"summary"], bytes)
        self.assertTrue(docs[b"summary"])

    def test_command_docs_in_resp3_is_a_map(self):
        self.r.cmd("HELLO", "3")
        reply = self.r.cmd("COMMAND", "DOCS", "get")
        self.assertIsInstance(reply, Map)
        self.assertIn(b"summary", reply[b"get"])

    def test_command_unknown_subcommand(self):
        self.assertError(self.r.cmd("COMMAND", "FOO"),
                         "ERR unknown subcommand 'FOO'. Try COMMAND HELP.")

    def test_time_returns_seconds_and_microseconds(self):
        reply = self.r.cmd("TIME")
        self.assertEqual(len(reply), 2)
        self.assertTrue(all(isinstance(x, bytes) for x in reply))
        secs, usecs = int(reply[0]), int(reply[1])
        self.assertLess(abs(secs - time.time()), 5)
        self.assertTrue(0 <= usecs < 1000000)

    def test_role_of_a_primary_without_replicas(self):
        self.assertEqual(self.r.cmd("ROLE"), [b"master", 0, []])
        self.assertError(self.r.cmd("ROLE", "x"),
                         "ERR wrong number of arguments for 'role' command")

    def test_wait_without_replicas(self):
        r = self.r
        self.assertEqual(r.cmd("WAIT", 0, 0), 0)
        t0 = time.monotonic()
        self.assertEqual(r.cmd("WAIT", 1, 200), 0)
        self.assertGreaterEqual(time.monotonic() - t0, 0.19)
        # the next command waits behind it
        t0 = time.monotonic()
        r.send_command("WAIT", 2, 150)
        r.send_command("PING")
        self.assertEqual(r.read_replies(2), [0, "PONG"])
        self.assertGreaterEqual(time.monotonic() - t0, 0.14)
        # inside MULTI it answers at once
        self.assertEqual(r.cmd("MULTI"), "OK")
        self.assertEqual(r.cmd("WAIT", 1, 0), "QUEUED")
        self.assertEqual(r.cmd("EXEC"), [0])
        self.assertError(r.cmd("WAIT", 1, -1), "ERR timeout is negative")
        self.assertError(r.cmd("WAIT", 1, "x"), "ERR timeout is not an integer or out of range")
        self.assertError(r.cmd("WAIT", "x", 0), "ERR value is not an integer or out of range")

    def test_wait_forever_then_the_client_leaves(self):
        c = self.client()
        c.send_command("WAIT", 1, 0)
        time.sleep(0.2)
        c.close()  # the server lets it go, and goes on
        self.assertEqual(self.r.cmd("PING"), "PONG")
        self.assertEqual(self.r.cmd("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"), 0)

    def test_time_advances(self):
        a = self.r.cmd("TIME")
        time.sleep(0.02)
        b = self.r.cmd("TIME")
        ta = int(a[0]) * 1000000 + int(a[1])
        tb = int(b[0]) * 1000000 + int(b[1])
        self.assertGreaterEqual(tb - ta, 15000)

    def test_debug_sleep_zero(self):
        self.assertOK(self.r.cmd("DEBUG", "SLEEP", "0"))
        self.assertEqual(self.r.cmd("PING"), "PONG")


class TestErrors(ServerTestCase):

    def test_unknown_command_with_args(self):
        self.assertEqual(self.r.raw("foo", "a", "b"),
                         b"-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n")

    def test_unknown_command_keeps_the_name_as_sent(self):
        self.assertError(self.r.cmd("FooBar", "x"),
                         "ERR unknown command 'FooBar', with args beginning with: 'x' ")

    def test_unknown_command_without_args(self):
        self.assertEqual(self.r.raw("foo"),
                         b"-ERR unknown command 'foo', with args beginning with: \r\n")

    def test_unknown_empty_command(self):
        self.assertError(self.r.cmd(""), "ERR unknown command '', with args beginning with: ")

    def test_unknown_command_arguments_are_truncated_to_128_chars(self):
        self.assertError(self.r.cmd("foo", "x" * 200),
                         "ERR unknown command 'foo', with args beginning with: '%s' " % ("x" * 128))
        self.assertError(self.r.cmd("foo", "x" * 100, "y" * 100, "z"),
                         "ERR unknown command 'foo', with args beginning with: '%s' '%s' "
                         % ("x" * 100, "y" * 25))
        self.assertError(self.r.cmd("foo", *["a"] * 100),
                         "ERR unknown command 'foo', with args beginning with: " + "'a' " * 32)

    def test_unknown_command_name_is_truncated_to_128_chars(self):
        self.assertError(self.r.cmd("a" * 200),
                         "ERR unknown command '%s', with args beginning with: " % ("a" * 128))

    def test_wrong_arity_names_the_command_in_lower_case(self):
        self.assertEqual(self.r.raw("GET"),
                         b"-ERR wrong number of arguments for 'get' command\r\n")
        self.assertError(self.r.cmd("SeT", "k"), arity("set"))

    def test_connection_survives_errors(self):
        self.assertIsInstance(self.r.cmd("nosuch"), Error)
        self.assertIsInstance(self.r.cmd("GET"), Error)
        self.assertIsInstance(self.r.cmd("SET", "k", "v", "BAD"), Error)
        self.assertOK(self.r.cmd("SET", "k", "v"))
        self.assertEqual(self.r.cmd("GET", "k"), b"v")


class TestShutdown(ServerTestCase):
    fresh_server_per_test = True

    def setUp(self):
        super().setUp()
        self.expect_exit = True

    def test_shutdown_command_exits_zero_within_one_second(self):
        self.r.cmd("SET", "k", "v")
        c = self.client()
        c.send_command("SHUTDOWN")
        start = time.monotonic()
        self.assertTrue(c.is_closed(timeout=2.0))
        status = self.server.wait_exit(timeout=5.0)
        elapsed = time.monotonic() - start
        self.assertEqual(status, 0)
        self.assertLess(elapsed, 1.0)

    def test_shutdown_nosave_exits_zero(self):
        c = self.client()
        c.send_command("SHUTDOWN", "NOSAVE")
        self.assertTrue(c.is_closed(timeout=2.0))
        self.assertEqual(self.server.wait_exit(timeout=5.0), 0)

    def test_shutdown_closes_other_connections(self):
        others = [self.client() for _ in range(5)]
        for c in others:
            c.cmd("PING")
        self.r.send_command("SHUTDOWN")
        for c in others:
            self.assertTrue(c.is_closed(timeout=2.0))
        self.assertEqual(self.server.wait_exit(timeout=5.0), 0)

    def test_sigterm_exits_zero(self):
        others = [self.client() for _ in range(3)]
        for c in others:
            c.cmd("SET", "k", "v")
        start = time.monotonic()
        self.server.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.server.wait_exit(timeout=5.0), 0)
        self.assertLess(time.monotonic() - start, 2.0)
        for c in others:
            self.assertTrue(c.is_closed(timeout=1.0))

    def test_stop_helper_reports_exit_status_zero(self):
        self.r.cmd("MSET", *[x for i in range(1000) for x in ("key:%d" % i, "v")])
        self.assertEqual(self.server.stop(), 0)


class TestConfigFile(unittest.TestCase):
    """The server takes a redis.conf-style file as its first argument."""

    def write_config(self, text):
        f = tempfile.NamedTemporaryFile("w", prefix="shardis-test-", suffix=".conf",
                                        delete=False)
        f.write(text)
        f.close()
        self.addCleanup(os.unlink, f.name)
        return f.name

    def test_config_file_directives_are_applied(self):
        path = self.write_config(
            "# a comment line\n"
            "\n"
            "timeout 7\n"
            "maxclients 321\n"
            "proto-max-bulk-len 2mb\n"
            "   # indented comment\n")
        srv = Server(config_file=path)
        srv.start()
        try:
            with Client(srv.port) as c:
                values = pairs_to_map(c.cmd("CONFIG", "GET", "timeout", "maxclients",
                                            "proto-max-bulk-len"))
                self.assertEqual(values, {b"timeout": b"7", b"maxclients": b"321",
                                          b"proto-max-bulk-len": b"2097152"})
        finally:
            self.assertEqual(srv.stop(), 0)
            srv.cleanup()

    def test_command_line_overrides_config_file(self):
        path = self.write_config("timeout 7\n")
        srv = Server(config_file=path, args=("--timeout", "9"))
        srv.start()
        try:
            with Client(srv.port) as c:
                self.assertEqual(c.cmd("CONFIG", "GET", "timeout"), [b"timeout", b"9"])
        finally:
            self.assertEqual(srv.stop(), 0)
            srv.cleanup()

    def test_unknown_directive_stops_start_up(self):
        path = self.write_config("timeout 7\nnosuchdirective 1\n")
        srv = Server(config_file=path)
        argv = srv.command_line(free_port())
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=10, cwd=tempfile.gettempdir())
        output = (proc.stdout + proc.stderr).decode("utf-8", "replace")
        self.assertNotEqual(proc.returncode, 0, output)
        self.assertIn("nosuchdirective", output)

    def test_bad_value_stops_start_up(self):
        path = self.write_config("maxclients notanumber\n")
        srv = Server(config_file=path)
        argv = srv.command_line(free_port())
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=10, cwd=tempfile.gettempdir())
        output = (proc.stdout + proc.stderr).decode("utf-8", "replace")
        self.assertNotEqual(proc.returncode, 0, output)
        self.assertIn("maxclients", output)


class TestCommandLine(unittest.TestCase):
    """The binary's own flags (no server runs)."""

    def run_binary(self, *args):
        if reference_mode():
            self.skipTest("shardis-server's own flags")
        return subprocess.run([server_binary(), *args], capture_output=True, text=True,
                              timeout=10)

    def test_version_prints_the_version_and_exits_0(self):
        p = self.run_binary("--version")
        self.assertEqual(p.returncode, 0)
        self.assertIn("shardis-server v=", p.stdout)

    def test_help_prints_usage_and_exits_0(self):
        p = self.run_binary("--help")
        self.assertEqual(p.returncode, 0)
        self.assertIn("Usage: shardis-server", p.stderr + p.stdout)

    def test_a_bad_appendfsync_is_refused_at_start(self):
        p = self.run_binary("--port", "0", "--appendfsync", "sometimes")
        self.assertEqual(p.returncode, 1)
        self.assertIn("appendfsync", p.stderr)


class TestPersistenceDirectives(ServerTestCase):
    """Tools read these (redis-benchmark asks for both)."""

    def test_config_get_save_and_appendonly(self):
        self.assertEqual(self.r.cmd("CONFIG", "GET", "appendonly"), [b"appendonly", b"no"])
        reply = self.r.cmd("CONFIG", "GET", "save")
        self.assertEqual(len(reply), 2)
        self.assertEqual(reply[0], b"save")


class TestShippedConfig(unittest.TestCase):
    """deploy/shardis.conf is the documented default: the server starts with
    it, and its values are the built-in defaults."""

    CONF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy",
                        "shardis.conf")

    def config_of(self, config_file):
        srv = Server(shards=2, config_file=config_file).start()
        try:
            with srv.client() as c:
                flat = c.cmd("CONFIG", "GET", "*")
        finally:
            rc = srv.stop()
            srv.cleanup()
        self.assertEqual(rc, 0)
        conf = dict(zip(flat[0::2], flat[1::2]))
        conf.pop(b"port")  # the harness picks one
        conf.pop(b"shards")  # and sets this
        conf.pop(b"dir")  # and a working directory of each server's own
        return conf

    def test_shipped_config_matches_the_built_in_defaults(self):
        if reference_mode():
            self.skipTest("shardis's own config file")
        self.assertEqual(self.config_of(self.CONF), self.config_of(None))


class TestInfoShards(ServerTestCase):
    """shardis's own INFO section: one line per shard."""

    def test_info_shards_has_a_line_per_shard_and_keys_add_up(self):
        if reference_mode():
            self.skipTest("shardis's own INFO section")
        for i in range(200):
            self.r.cmd("SET", "spread:%d" % i, "v")
        text = self.r.cmd("INFO", "shards").decode()
        lines = [l for l in text.split("\r\n") if l.startswith("shard")]
        self.assertEqual(len(lines), self.server.shards)
        keys = sum(int(l.split("keys=")[1].split(",")[0]) for l in lines)
        self.assertEqual(keys, self.r.cmd("DBSIZE"))
        self.assertNotIn("# Shards", self.r.cmd("INFO").decode())


class TestCommandAndErrorStats(ServerTestCase):

    def section(self, name):
        text = self.r.cmd("INFO", name).decode()
        return dict(l.split(":", 1) for l in text.split("\r\n") if l and not l.startswith("#"))

    def test_commandstats_and_errorstats_count_calls_failures_and_rejections(self):
        self.assertEqual(self.r.cmd("CONFIG", "RESETSTAT"), "OK")
        self.r.cmd("SET", "cs:a", "1")
        self.r.cmd("SET", "cs:s", "x")
        self.r.cmd("GET", "cs:a")
        self.r.cmd("GET")                    # wrong arity: rejected
        self.r.cmd("INCR", "cs:s")           # not an integer: failed
        self.r.cmd("NOSUCHCOMMAND")          # unknown: only an error
        self.r.cmd("MGET", *["cs:%d" % i for i in range(20)])
        stats = self.section("commandstats")
        fields = {k: dict(f.split("=") for f in v.split(",")) for k, v in stats.items()}
        self.assertEqual(fields["cmdstat_set"]["calls"], "2")
        self.assertEqual(fields["cmdstat_get"]["calls"], "1")
        self.assertEqual(fields["cmdstat_get"]["rejected_calls"], "1")
        self.assertEqual(fields["cmdstat_incr"]["failed_calls"], "1")
        self.assertEqual(fields["cmdstat_mget"]["calls"], "1")
        errors = self.section("errorstats")
        self.assertEqual(errors["errorstat_ERR"], "count=3")
        self.assertNotIn("cmdstat_set", self.r.cmd("INFO").decode())
        self.assertIn("errorstat_ERR", self.r.cmd("INFO").decode())


if __name__ == "__main__":
    unittest.main()
