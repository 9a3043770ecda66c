"""The two main Node.js Redis clients, ioredis and node-redis (from the npm
registry, installed by deploy/setup.sh into tests/interop/node), running
MULTI/EXEC, WATCH, EVALSHA with several keys and a script that touches keys
it did not declare (tests/interop/node/clients.js)."""

import os
import shutil
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
from harness import ServerTestCase  # noqa: E402

NODE_DIR = os.path.join(HERE, "node")
HAVE_CLIENTS = (shutil.which("node") is not None and
                os.path.isdir(os.path.join(NODE_DIR, "node_modules", "ioredis")) and
                os.path.isdir(os.path.join(NODE_DIR, "node_modules", "redis")))


@unittest.skipUnless(HAVE_CLIENTS, "node or the npm clients are missing (deploy/setup.sh)")
class TestNodeClients(ServerTestCase):

    def test_ioredis_and_node_redis(self):
        p = subprocess.run(["node", os.path.join(NODE_DIR, "clients.js"), str(self.server.port)],
                           cwd=NODE_DIR, capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(p.stdout.strip(), "ok 2")


if __name__ == "__main__":
    unittest.main()
