"""LATENCY DOCTOR, GRAPH and HISTOGRAM (and the HELP that lists them), INFO
latencystats and the latency-tracking directives, as Redis 7.0 has them.

Every test runs against Redis too (SHARDIS_REFERENCE=redis). A latency
sample is a DEBUG SLEEP at least latency-monitor-threshold long; with
several shards (SHARDIS_SHARDS=4) the samples are merged over the shards
as LATENCY HISTORY merges them, and the per-command histograms are summed.
"""

import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Error, ServerTestCase  # noqa: E402

DISABLED = (
    "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis "
    "instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order "
    "to enable it. If we weren't in a deep space mission I'd suggest to take a look at "
    "https://redis.io/topics/latency-monitor.\n")
NO_SPIKE = (
    "Dave, no latency spike was observed during the lifetime of this Redis instance, not in "
    "the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, "
    "and think things over.\n")
INTRO = ("Dave, I have observed latency spikes in this Redis instance. You don't mind talking "
         "about it, do you Dave?\n\n")
ADVICES = "\nI have a few advices for you:\n\n"
ENABLE = ("- There are latency issues with potentially slow commands you are using. Try to "
          "enable the Slow Log Redis feature using the command 'CONFIG SET "
          "slowlog-log-slower-than %d'. If the Slow log is disabled Redis is not able to log "
          "slow commands execution for you.\n")
TUNE = ("- Your current Slow Log configuration only logs events that are slower than your "
        "configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than "
        "%d'.\n")
INSPECT = ("- Check your Slow Log to understand what are the commands you are running which "
           "are too slow to execute. Please check https://redis.io/commands/slowlog for more "
           "information.\n")
LARGE = ("- Deleting, expiring or evicting (because of maxmemory policy) large objects is a "
         "blocking operation. If you have very large objects that are often deleted, expired, "
         "or evicted, try to fragment those objects into multiple smaller objects.\n")
HELP = [
    "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the "
    "specified command names.",
    "    If no commands are specified then all histograms are replied.",
    "HELP",
    "    Prints this help.",
]


def arity_err(sub):
    return "ERR wrong number of arguments for 'latency|%s' command" % sub


class LatencyMoreCase(ServerTestCase):
    """Each test starts with the slow log off, the latency monitor off and
    no samples; tearDown puts the defaults back."""

    def setUp(self):
        super().setUp()
        self.assertOK(self.r.cmd("CONFIG", "SET", "slowlog-log-slower-than", "-1",
                                 "latency-monitor-threshold", "0"))
        self.assertIsInstance(self.r.cmd("LATENCY", "RESET"), int)

    def tearDown(self):
        if self.server.alive():
            with self.server.client() as c:
                c.cmd("CONFIG", "SET", "slowlog-log-slower-than", "10000",
                      "latency-monitor-threshold", "0")
                c.cmd("LATENCY", "RESET")
        super().tearDown()

    def text(self, *args):
        v = self.r.cmd(*args)
        self.assertIsInstance(v, bytes, v)
        return v.decode()

    def sleep_sample(self, secs="0.05"):
        """One "command" sample; returns its milliseconds."""
        self.assertOK(self.r.cmd("DEBUG", "SLEEP", secs))
        return self.r.cmd("LATENCY", "HISTORY", "command")[-1][1]

    # ---- HELP ----

    def test_help_lists_doctor_graph_and_histogram(self):
        self.assertEqual(self.r.cmd("LATENCY", "HELP"), HELP)

    # ---- DOCTOR ----

    def test_doctor_with_the_monitor_off_and_no_events(self):
        self.assertEqual(self.text("LATENCY", "DOCTOR"), DISABLED)

    def test_doctor_with_the_monitor_on_and_no_events(self):
        self.assertOK(self.r.cmd("CONFIG", "SET", "latency-monitor-threshold", "10"))
        self.assertEqual(self.text("LATENCY", "DOCTOR"), NO_SPIKE)

    def report(self, ms, advice):
        got = self.text("LATENCY", "DOCTOR")
        m = re.fullmatch(
            re.escape(INTRO + "1. command: 1 latency spikes (average %dms, mean deviation 0ms, "
                      "period " % ms) + r"(\d+)\.00" +
            re.escape(" sec). Worst all time event %dms.\n" % ms + ADVICES + advice), got)
        self.assertTrue(m, got)
        self.assertIn(int(m.group(1)), (1, 2, 3))

    def test_doctor_command_event_with_the_slow_log_off(self):
        self.assertOK(self.r.cmd("CONFIG", "SET", "latency-monitor-threshold", "10"))
        ms = self.sleep_sample()
        self.report(ms, ENABLE % 10000 + INSPECT + LARGE)

    def test_doctor_slow_log_threshold_above_the_monitor(self):
        self.assertOK(self.r.cmd("CONFIG", "SET", "latency-monitor-threshold", "20",
                                 "slowlog-log-slower-than", "100000"))
        ms = self.sleep_sample()
        self.report(ms, TUNE % 20000 + INSPECT + LARGE)

    def test_doctor_slow_log_on(self):
        self.assertOK(self.r.cmd("CONFIG", "SET", "latency-monitor-threshold", "10",
                                 "slowlog-log-slower-than", "10000"))
        ms = self.sleep_sample()
        self.report(ms, INSPECT + LARGE)

    def test_doctor_average_and_deviation_over_seconds(self):
        self.assertOK(self.r.cmd("CONFIG", "SET", "latency-monitor-threshold", "10",
                                 "slowlog-log-slower-than", "0"))
        self.assertOK(self.r.cmd("DEBUG", "SLEEP", "0.03"))
        t = self.r.cmd("LATENCY", "HISTORY", "command")[-1][0]
        while int(time.time()) <= t:
            time.sleep(0.05)
        self.assertOK(self.r.cmd("DEBUG", "SLEEP", "0.09"))
        h = self.r.cmd("LATENCY", "HISTORY", "command")
        self.assertEqual(len(h), 2, h)
        a, b = h[0][1], h[1][1]
        avg = (a + b) // 2
        mad = (abs(avg - a) + abs(avg - b)) // 2
        got = self.text("LATENCY", "DOCTOR")
        self.assertTrue(got.startswith(INTRO + "1. command: 2 latency spikes (average %dms, mean "
                                       "deviation %dms, period " % (avg, mad)), got)
        self.assertIn(" sec). Worst all time event %dms.\n" % b, got)
        self.assertTrue(got.endswith(ADVICES + INSPECT + LARGE), got)

    def test_doctor_after_reset_is_no_spike_again(self):
        self.assertOK(self.r.cmd("CONFIG", "SET", "latency-monitor-threshold", "10"))
        self.sleep_sample()
        self.assertEqual(self.r.cmd("LATENCY", "RESET"), 1)
        self.assertEqual(self.text("LATENCY", "DOCTOR"), NO_SPIKE)

    def test_doctor_arity(self):
        self.assertEqual(self.r.cmd("LATENCY", "DOCTOR", "x"), Error(arity_err("doctor")))

    # ---- GRAPH ----

    def test_graph_without_samples_is_an_error(self):
        self.assertEqual(self.r.cmd("LATENCY", "GRAPH", "command"),
                         Error("ERR No samples available for event 'command'"))
        self.assertEqual(self.r.cmd("LATENCY", "GRAPH", "no-such-event"),
                         Error("ERR No samples available for event 'no-such-event'"))
        long = "e" * 300
        self.assertEqual(self.r.cmd("LATENCY", "GRAPH", long),
                         Error("ERR No samples available for event '%s'" % long))

    def test_graph_arity(self):
        self.assertEqual(self.r.cmd("LATENCY", "GRAPH"), Error(arity_err("graph")))
        self.assertEqual(self.r.cmd("LATENCY", "GRAPH", "command", "x"),
                         Error(arity_err("graph")))

    def test_graph_event_name_is_case_sensitive(self):
        self.assertOK(self.r.cmd("CONFIG", "SET", "latency-monitor-threshold", "10"))
        self.sleep_sample()
        self.assertEqual(self.r.cmd("LATENCY", "GRAPH", "COMMAND"),
                         Error("ERR No samples available for event 'COMMAND'"))

    def test_graph_one_sample(self):
        self.assertOK(self.r.cmd("CONFIG", "SET", "latency-monitor-threshold", "10"))
        ms = self.sleep_sample()
        got = self.text("LATENCY", "GRAPH", "command")
        lines = got.split("\n")
        self.assertEqual(lines[0], "command - high %d ms, low %d ms (all time high %d ms)"
                         % (ms, ms, ms))
        self.assertEqual(lines[1], "-" * 80)
        self.assertEqual(lines[2:7], [" ", " ", " ", "_", " "])
        self.assertIn(lines[7], ("0", "1"))
        self.assertEqual(lines[8:], ["s", ""])

    def test_graph_two_samples(self):
        self.assertOK(self.r.cmd("CONFIG", "SET", "latency-monitor-threshold", "10"))
        self.assertOK(self.r.cmd("DEBUG", "SLEEP", "0.03"))
        t = self.r.cmd("LATENCY", "HISTORY", "command")[-1][0]
        while int(time.time()) <= t:
            time.sleep(0.05)
        self.assertOK(self.r.cmd("DEBUG", "SLEEP", "0.15"))
        h = self.r.cmd("LATENCY", "HISTORY", "command")
        self.assertEqual(len(h), 2, h)
        lo, hi = h[0][1], h[1][1]
        self.assertEqual(self.r.cmd("LATENCY", "LATEST")[0][3], hi)
        lines = self.text("LATENCY", "GRAPH", "command").split("\n")
        self.assertEqual(lines[0], "command - high %d ms, low %d ms (all time high %d ms)"
                         % (hi, lo, hi))
        self.assertEqual(lines[2:7], [" #", " |", " |", "_|", "  "])
        self.assertRegex(lines[7], r"^\d\d$")
        self.assertEqual(lines[8:], ["ss", ""])

    def test_graph_after_reset(self):
        self.assertOK(self.r.cmd("CONFIG", "SET", "latency-monitor-threshold", "10"))
        self.sleep_sample()
        self.assertEqual(self.r.cmd("LATENCY", "RESET", "command"), 1)
        self.assertEqual(self.r.cmd("LATENCY", "GRAPH", "command"),
                         Error("ERR No samples available for event 'command'"))


LEVELS = {1, 2, 4, 8, 16, 33, 66, 132, 264, 528, 1056, 2113, 4227, 8454, 16908, 33816, 67633,
          135266, 270532, 541065, 1073741}
PCT_ERR = ("ERR CONFIG SET failed (possibly related to argument "
           "'latency-tracking-info-percentiles') - %s")


def as_dict(flat):
    return {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)}


class LatencyHistogramCase(ServerTestCase):
    """LATENCY HISTOGRAM and INFO latencystats. The histograms live as long
    as the server, so each test counts calls of a command no other test of
    the class calls."""

    def setUp(self):
        super().setUp()
        self.assertOK(self.r.cmd("CONFIG", "SET", "latency-tracking", "yes",
                                 "latency-tracking-info-percentiles", "50 99 99.9"))

    def tearDown(self):
        if self.server.alive():
            with self.server.client() as c:
                c.cmd("CONFIG", "SET", "latency-tracking", "yes",
                      "latency-tracking-info-percentiles", "50 99 99.9")
        super().tearDown()

    def histogram(self, *names):
        """LATENCY HISTOGRAM as a list of (command, calls, {usec: count})."""
        flat = self.r.cmd("LATENCY", "HISTOGRAM", *names)
        self.assertIsInstance(flat, list, flat)
        out = []
        for i in range(0, len(flat), 2):
            d = as_dict(flat[i + 1])
            self.assertEqual(list(d), [b"calls", b"histogram_usec"])
            out.append((flat[i].decode(), d[b"calls"], as_dict(d[b"histogram_usec"])))
        return out

    def check_cdf(self, calls, cdf):
        self.assertTrue(cdf)
        self.assertLessEqual(set(cdf), LEVELS)
        counts = [cdf[k] for k in sorted(cdf)]
        self.assertEqual(counts, sorted(set(counts)))  # only where the count grew
        self.assertEqual(counts[-1], calls)

    def test_directive_defaults(self):
        self.assertEqual(as_dict(self.r.cmd("CONFIG", "GET", "latency-tracking*")),
                         {b"latency-tracking": b"yes",
                          b"latency-tracking-info-percentiles": b"50 99 99.9"})

    def test_percentiles_directive_values(self):
        self.assertOK(self.r.cmd("CONFIG", "SET", "latency-tracking-info-percentiles",
                                 "50.5000 1e1 0 100 99.99999"))
        self.assertEqual(self.r.cmd("CONFIG", "GET", "latency-tracking-info-percentiles"),
                         [b"latency-tracking-info-percentiles", b"50.5 10 0 100 99.99999"])
        self.assertOK(self.r.cmd("CONFIG", "SET", "latency-tracking-info-percentiles", ""))
        self.assertEqual(self.r.cmd("CONFIG", "GET", "latency-tracking-info-percentiles"),
                         [b"latency-tracking-info-percentiles", b""])

    def test_percentiles_directive_errors(self):
        for bad in ("abc", "50 x", "1e"):
            self.assertEqual(
                self.r.cmd("CONFIG", "SET", "latency-tracking-info-percentiles", bad),
                Error(PCT_ERR % "Invalid latency-tracking-info-percentiles parameters"))
        for bad in ("101", "50 -1", "100.0001"):
            self.assertEqual(
                self.r.cmd("CONFIG", "SET", "latency-tracking-info-percentiles", bad),
                Error(PCT_ERR % "latency-tracking-info-percentiles parameters should sit "
                                "between [0.0,100.0]"))
        self.assertEqual(self.r.cmd("CONFIG", "SET", "latency-tracking", "maybe"),
                         Error("ERR CONFIG SET failed (possibly related to argument "
                               "'latency-tracking') - argument must be 'yes' or 'no'"))
        self.assertEqual(self.r.cmd("CONFIG", "GET", "latency-tracking-info-percentiles"),
                         [b"latency-tracking-info-percentiles", b"50 99 99.9"])

    def test_histogram_counts_every_shards_calls(self):
        for i in range(7):
            self.assertEqual(self.r.cmd("STRLEN", "hist:k%d" % i), 0)
        [(name, calls, cdf)] = self.histogram("strlen")
        self.assertEqual((name, calls), ("strlen", 7))
        self.check_cdf(7, cdf)
        # a name twice is reported twice, any case
        self.assertEqual([h[:2] for h in self.histogram("STRLEN", "strlen")],
                         [("strlen", 7), ("strlen", 7)])

    def test_config_resetstat_clears_the_histograms(self):
        for i in range(5):
            self.r.cmd("STRLEN", "reset:k%d" % i)
        self.assertEqual([h[:2] for h in self.histogram("strlen")], [("strlen", 5)])
        self.assertOK(self.r.cmd("CONFIG", "RESETSTAT"))
        self.assertEqual(self.histogram("strlen"), [])

    def test_histogram_of_a_container_and_subcommands(self):
        for _ in range(3):
            self.assertIsInstance(self.r.cmd("CLIENT", "ID"), int)
        self.assertEqual(self.r.cmd("CLIENT", "GETNAME"), None)
        got = {h[0]: h[1] for h in self.histogram("client")}
        self.assertEqual(got.get("client|id"), 3)
        self.assertEqual(got.get("client|getname"), 1)
        self.assertEqual([h[:2] for h in self.histogram("CLIENT|ID")], [("client|id", 3)])
        self.assertEqual(self.histogram("client|nosuch", "nosuch", "client|id|x", "get|x"), [])

    def test_histogram_without_names_has_every_called_command(self):
        self.assertEqual(self.r.cmd("ECHO", "x"), b"x")
        got = {h[0]: h for h in self.histogram()}
        self.assertEqual(got["echo"][1], 1)
        self.assertIn("config|set", got)
        for name, calls, cdf in got.values():
            self.check_cdf(calls, cdf)

    def test_tracking_off_counts_nothing(self):
        self.assertOK(self.r.cmd("CONFIG", "SET", "latency-tracking", "no"))
        self.assertEqual(self.r.cmd("GETRANGE", "hist:x", "0", "1"), b"")
        self.assertEqual(self.histogram("getrange"), [])
        self.assertOK(self.r.cmd("CONFIG", "SET", "latency-tracking", "yes"))
        self.assertEqual(self.r.cmd("GETRANGE", "hist:x", "0", "1"), b"")
        self.assertEqual([h[:2] for h in self.histogram("getrange")], [("getrange", 1)])

    def info_line(self, section, cmd):
        text = self.r.cmd("INFO", section).decode()
        for line in text.split("\r\n"):
            if line.startswith("latency_percentiles_usec_%s:" % cmd):
                return line.split(":", 1)[1]
        return None

    def test_info_latencystats(self):
        for i in range(5):
            self.assertEqual(self.r.cmd("EXISTS", "hist:e%d" % i), 0)
        self.assertIsNone(self.info_line("default", "exists"))
        self.assertNotIn("# Latencystats", self.r.cmd("INFO").decode())
        text = self.r.cmd("INFO", "latencystats").decode()
        self.assertTrue(text.startswith("# Latencystats\r\n"), text)
        self.assertRegex(self.info_line("latencystats", "exists"),
                         r"^p50=\d+\.\d{3},p99=\d+\.\d{3},p99\.9=\d+\.\d{3}$")
        self.assertIsNotNone(self.info_line("all", "exists"))
        self.assertOK(self.r.cmd("CONFIG", "SET", "latency-tracking-info-percentiles",
                                 "0 100 25.50"))
        m = re.fullmatch(r"p0=(\d+\.\d{3}),p100=(\d+\.\d{3}),p25\.5=(\d+\.\d{3})",
                         self.info_line("latencystats", "exists"))
        self.assertTrue(m)
        lo, hi, mid = (float(g) for g in m.groups())
        self.assertLessEqual(lo, mid)
        self.assertLessEqual(mid, hi)
        # p100 is the highest value of the top bucket LATENCY HISTOGRAM shows
        [(_, calls, cdf)] = self.histogram("exists")
        self.assertEqual(calls, 5)
        self.assertLessEqual(hi, max(cdf) + 1)
        self.assertOK(self.r.cmd("CONFIG", "SET", "latency-tracking-info-percentiles", ""))
        self.assertEqual(self.info_line("latencystats", "exists"), "")

    def test_slow_commands(self):
        """DEBUG SLEEP 0.04 lands at 67633 us (or the next level on a busy
        machine); one past 541 ms at hdr's last counter, 1073741 us."""
        self.assertOK(self.r.cmd("CONFIG", "SET", "latency-tracking-info-percentiles", "100"))
        self.assertOK(self.r.cmd("DEBUG", "SLEEP", "0.04"))
        [(name, calls, cdf)] = self.histogram("debug")
        self.assertEqual((name, calls), ("debug", 1))
        self.assertEqual(len(cdf), 1)
        self.assertIn(list(cdf)[0], (67633, 135266))
        self.assertOK(self.r.cmd("DEBUG", "SLEEP", "0.6"))
        [(name, calls, cdf)] = self.histogram("debug")
        self.assertEqual((calls, cdf[1073741]), (2, 2))
        m = re.fullmatch(r"p100=(\d+\.\d{3})", self.info_line("latencystats", "debug"))
        self.assertTrue(m)
        # the highest value of the top counter of a duration in [0.6 s, 1 s]
        self.assertGreaterEqual(float(m.group(1)), 603979.775)
        self.assertLessEqual(float(m.group(1)), 1002438.655)


if __name__ == "__main__":
    unittest.main()
