"""hiredis (Debian's libhiredis) against the server: transactions, WATCH and
scripts over keys of many shards (tests/interop/c_clients/hiredis_txn.c,
built by CMake as interop_hiredis when libhiredis is installed)."""

import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
from harness import ServerTestCase  # noqa: E402

BIN = os.environ.get("SHARDIS_HIREDIS_BIN", "")


@unittest.skipUnless(BIN and os.access(BIN, os.X_OK),
                     "interop_hiredis not built (libhiredis-dev missing)")
class TestHiredis(ServerTestCase):

    def test_transactions_and_scripts(self):
        p = subprocess.run([BIN, str(self.server.port)], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(p.stdout.strip(), "ok")


if __name__ == "__main__":
    unittest.main()
