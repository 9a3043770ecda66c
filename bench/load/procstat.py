"""What the bench scripts read of a process and of their environment:
CPU ticks and RSS from /proc, positive integers from variables."""

import os
import sys


def cpu_ticks(pid):
    """utime + stime of the whole process (all threads), in clock ticks."""
    with open("/proc/%d/stat" % pid) as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    # fields[0] is field 3 (state); utime is field 14, stime field 15
    return int(fields[11]) + int(fields[12])


def rss_kb(pid):
    """VmRSS of the process in kB (0 if it has none)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def env_int(name, default, prog, minimum=1):
    """An integer of at least minimum (a positive one unless told) from the
    environment (default when unset); exits with "<prog>: ..." when it is
    not one."""
    v = os.environ.get(name, "")
    try:
        n = int(v) if v else default
    except ValueError:
        n = None
    if n is None or n < minimum:
        what = "a positive integer" if minimum == 1 else "an integer >= %d" % minimum
        sys.stderr.write("%s: %s must be %s, not %r\n" % (prog, name, what, v))
        sys.exit(1)
    return n
