"""A server the bench scripts start and stop: pinned with taskset, in a
temporary working directory with its log, on a loopback port, without
persistence; `r` is a redis-py client to it."""

import os
import shutil
import subprocess
import sys
import tempfile
import time

import redis

HOST = "127.0.0.1"  # loopback only


class Server:
    def __init__(self, name, argv, port, cpus, prog):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="%s-" % prog)
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen(["taskset", "-c", cpus] + argv +
                                     ["--port", str(port), "--save", "", "--appendonly", "no"],
                                     cwd=self.dir, stdout=self.log, stderr=subprocess.STDOUT)
        self.r = redis.Redis(host=HOST, port=port, socket_timeout=60)
        for _ in range(200):
            try:
                self.r.ping()
                return
            except redis.ConnectionError:
                if self.proc.poll() is not None:
                    sys.exit("%s: %s exited at start; see %s" % (prog, name, self.dir))
                time.sleep(0.05)
        self.stop()
        sys.exit("%s: %s did not answer" % (prog, name))

    def stop(self):
        try:
            self.r.shutdown(nosave=True)
        except redis.RedisError:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
