"""redis-cli against the server: plain commands, --pipe mass insert, RESP3."""

import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "integration"))
from harness import ServerTestCase, encode_command  # noqa: E402

REDIS_CLI = os.environ.get("REDIS_CLI", shutil.which("redis-cli") or "/usr/bin/redis-cli")


@unittest.skipUnless(os.access(REDIS_CLI, os.X_OK), "redis-cli not installed")
class TestRedisCli(ServerTestCase):

    def cli(self, *args, stdin=None, check=True):
        argv = [REDIS_CLI, "-h", "127.0.0.1", "-p", str(self.port)] + list(args)
        proc = subprocess.run(argv, input=stdin, capture_output=True, timeout=60)
        if check:
            self.assertEqual(proc.returncode, 0,
                             "redis-cli %r failed: %r %r" % (args, proc.stdout, proc.stderr))
        return proc.stdout.decode("utf-8", "replace")

    def test_set_and_get(self):
        self.assertEqual(self.cli("set", "greeting", "hello world"), "OK\n")
        self.assertEqual(self.cli("get", "greeting"), "hello world\n")
        self.assertEqual(self.r.cmd("GET", "greeting"), b"hello world")

    def test_nil_and_integers_and_errors(self):
        self.assertEqual(self.cli("--no-raw", "get", "nokey"), "(nil)\n")
        self.assertEqual(self.cli("--no-raw", "incr", "n"), "(integer) 1\n")
        self.assertEqual(self.cli("--no-raw", "foo", "a", "b", check=False),
                         "(error) ERR unknown command 'foo', with args beginning with: 'a' 'b' \n")

    def test_arrays(self):
        self.r.cmd("MSET", "a", "1", "c", "3")
        self.assertEqual(self.cli("--no-raw", "mget", "a", "b", "c"),
                         '1) "1"\n2) (nil)\n3) "3"\n')

    def test_commands_from_stdin(self):
        out = self.cli(stdin=b"set x 10\nincr x\nget x\n")
        self.assertEqual(out, "OK\n11\n11\n")

    def test_select_database_with_n(self):
        self.assertEqual(self.cli("-n", "3", "set", "k", "db3"), "OK\n")
        self.assertIsNone(self.r.cmd("GET", "k"))
        self.r.cmd("SELECT", "3")
        self.assertEqual(self.r.cmd("GET", "k"), b"db3")

    def test_repeat_option(self):
        self.cli("-r", "25", "incr", "counter")
        self.assertEqual(self.r.cmd("GET", "counter"), b"25")

    def test_value_from_stdin_with_x(self):
        value = b"line1\nline2\x00binary\xff"
        self.assertEqual(self.cli("-x", "set", "blob", stdin=value), "OK\n")
        self.assertEqual(self.r.cmd("GET", "blob"), value)

    def test_pipe_mass_insert_of_ten_thousand_sets(self):
        payload = b"".join(encode_command("SET", "key:%d" % i, "value:%d" % i)
                           for i in range(10000))
        out = self.cli("--pipe", stdin=payload)
        self.assertIn("errors: 0, replies: 10000", out)
        self.assertEqual(self.cli("dbsize"), "10000\n")
        self.assertEqual(self.r.cmd("DBSIZE"), 10000)
        self.assertEqual(self.r.cmd("MGET", "key:0", "key:4999", "key:9999"),
                         [b"value:0", b"value:4999", b"value:9999"])

    def test_pipe_counts_errors(self):
        payload = (encode_command("SET", "a", "1") + encode_command("INCR", "a")
                   + encode_command("NOSUCHCOMMAND") + encode_command("GET"))
        out = self.cli("--pipe", stdin=payload, check=False)
        self.assertIn("errors: 2, replies: 4", out)
        self.assertEqual(self.r.cmd("GET", "a"), b"2")

    def test_scan_option_lists_every_key(self):
        self.r.cmd("MSET", *[x for i in range(500) for x in ("key:%d" % i, "v")])
        self.r.cmd("MSET", *[x for i in range(50) for x in ("other:%d" % i, "v")])
        out = self.cli("--scan", "--pattern", "key:*")
        keys = set(out.split())
        self.assertEqual(keys, {"key:%d" % i for i in range(500)})

    def test_resp3_hello(self):
        out = self.cli("-3", "--no-raw", "hello", "3")
        self.assertIn('"proto" => (integer) 3', out)
        self.assertIn('"mode" => "standalone"', out)

    def test_resp3_nil_and_map(self):
        self.assertEqual(self.cli("-3", "--no-raw", "get", "nokey"), "(nil)\n")
        self.assertEqual(self.cli("-3", "--no-raw", "config", "get", "timeout"),
                         '1# "timeout" => "0"\n')
        self.r.cmd("SET", "a", "1")
        self.assertEqual(self.cli("-3", "--no-raw", "mget", "a", "nokey"),
                         '1) "1"\n2) (nil)\n')

    def test_resp3_raw_output(self):
        self.assertEqual(self.cli("-3", "set", "k", "v"), "OK\n")
        self.assertEqual(self.cli("-3", "get", "k"), "v\n")


if __name__ == "__main__":
    unittest.main()
