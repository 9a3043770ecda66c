"""INFO as monitoring tools read it: Redis 7.0.15's sections, fields, order
and formats (redis_exporter, Grafana dashboards, redis-cli --stat).

Every test but those marked shardis-only also passes against redis-server:
    SHARDIS_REFERENCE=redis python3 -m unittest discover -s tests/integration \
        -p test_info.py
"""

import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, encode_command, reference_mode  # noqa: E402

# The fields redis_exporter (oliver006/redis_exporter: metricMapGauges,
# metricMapCounters, the instance_info labels and the Server handlers) reads
# from a Redis 7.0 INFO ALL, by section; plus instantaneous_* that Grafana's
# Redis data source and redis-cli --stat read.
EXPORTER_FIELDS = {
    "Server": [
        "redis_version", "redis_build_id", "redis_mode", "os", "process_id", "run_id",
        "tcp_port", "uptime_in_seconds", "hz", "configured_hz", "io_threads_active",
    ],
    "Clients": [
        "connected_clients", "blocked_clients", "maxclients", "tracking_clients",
        "clients_in_timeout_table", "client_recent_max_input_buffer",
        "client_recent_max_output_buffer",
    ],
    "Memory": [
        "used_memory", "used_memory_rss", "used_memory_peak", "used_memory_lua",
        "used_memory_vm_eval", "used_memory_scripts_eval", "used_memory_overhead",
        "used_memory_startup", "used_memory_dataset", "number_of_cached_scripts",
        "number_of_functions", "number_of_libraries", "used_memory_vm_functions",
        "used_memory_scripts", "used_memory_functions", "used_memory_vm_total",
        "maxmemory", "maxmemory_policy", "total_system_memory", "allocator_active",
        "allocator_allocated", "allocator_resident", "allocator_frag_ratio",
        "allocator_frag_bytes", "allocator_rss_ratio", "allocator_rss_bytes",
        "mem_fragmentation_ratio", "mem_fragmentation_bytes", "mem_clients_slaves",
        "mem_clients_normal", "mem_cluster_links", "mem_aof_buffer", "mem_replication_backlog",
        "mem_not_counted_for_evict", "mem_total_replication_buffers",
        "lazyfree_pending_objects", "lazyfreed_objects", "active_defrag_running",
    ],
    "Persistence": [
        "loading", "async_loading", "rdb_changes_since_last_save", "rdb_bgsave_in_progress",
        "rdb_last_save_time", "rdb_last_bgsave_status", "rdb_last_bgsave_time_sec",
        "rdb_current_bgsave_time_sec", "rdb_saves", "rdb_last_cow_size",
        "rdb_last_load_keys_expired", "rdb_last_load_keys_loaded", "aof_enabled",
        "aof_rewrite_in_progress", "aof_rewrite_scheduled", "aof_last_rewrite_time_sec",
        "aof_current_rewrite_time_sec", "aof_last_cow_size", "aof_last_bgrewrite_status",
        "aof_last_write_status", "module_fork_in_progress", "module_fork_last_cow_size",
    ],
    "Stats": [
        "total_connections_received", "total_commands_processed", "instantaneous_ops_per_sec",
        "total_net_input_bytes", "total_net_output_bytes", "total_net_repl_input_bytes",
        "total_net_repl_output_bytes", "instantaneous_input_kbps", "instantaneous_output_kbps",
        "rejected_connections", "sync_full", "sync_partial_ok", "sync_partial_err",
        "expired_keys", "expired_stale_perc", "expired_time_cap_reached_count",
        "expire_cycle_cpu_milliseconds", "evicted_keys", "evicted_clients",
        "total_eviction_exceeded_time", "current_eviction_exceeded_time", "keyspace_hits",
        "keyspace_misses", "pubsub_channels", "pubsub_patterns", "pubsubshard_channels",
        "latest_fork_usec", "migrate_cached_sockets", "slave_expires_tracked_keys",
        "active_defrag_hits", "active_defrag_misses", "active_defrag_key_hits",
        "active_defrag_key_misses", "tracking_total_keys", "tracking_total_items",
        "tracking_total_prefixes", "unexpected_error_replies", "total_error_replies",
        "dump_payload_sanitizations", "total_reads_processed", "total_writes_processed",
        "io_threaded_reads_processed", "io_threaded_writes_processed",
        "reply_buffer_shrinks", "reply_buffer_expands",
    ],
    "Replication": [
        "role", "connected_slaves", "master_replid", "master_repl_offset",
        "second_repl_offset", "repl_backlog_active", "repl_backlog_size",
        "repl_backlog_first_byte_offset", "repl_backlog_histlen",
    ],
    "CPU": [
        "used_cpu_sys", "used_cpu_user", "used_cpu_sys_children", "used_cpu_user_children",
        "used_cpu_sys_main_thread", "used_cpu_user_main_thread",
    ],
    "Cluster": ["cluster_enabled"],
}

# Redis 7.0.15's fields, in its order, as `INFO everything` shows them with
# save "" and appendonly no (Keyspace, Commandstats and Errorstats vary).
REDIS_ORDER = {
    "Server": [
        "redis_version", "redis_git_sha1", "redis_git_dirty", "redis_build_id", "redis_mode",
        "os", "arch_bits", "monotonic_clock", "multiplexing_api", "atomicvar_api",
        "gcc_version", "process_id", "process_supervised", "run_id", "tcp_port",
        "server_time_usec", "uptime_in_seconds", "uptime_in_days", "hz", "configured_hz",
        "lru_clock", "executable", "config_file", "io_threads_active",
    ],
    "Clients": [
        "connected_clients", "cluster_connections", "maxclients",
        "client_recent_max_input_buffer", "client_recent_max_output_buffer",
        "blocked_clients", "tracking_clients", "clients_in_timeout_table",
    ],
    "Memory": [
        "used_memory", "used_memory_human", "used_memory_rss", "used_memory_rss_human",
        "used_memory_peak", "used_memory_peak_human", "used_memory_peak_perc",
        "used_memory_overhead", "used_memory_startup", "used_memory_dataset",
        "used_memory_dataset_perc", "allocator_allocated", "allocator_active",
        "allocator_resident", "total_system_memory", "total_system_memory_human",
        "used_memory_lua", "used_memory_vm_eval", "used_memory_lua_human",
        "used_memory_scripts_eval", "number_of_cached_scripts", "number_of_functions",
        "number_of_libraries", "used_memory_vm_functions", "used_memory_vm_total",
        "used_memory_vm_total_human", "used_memory_functions", "used_memory_scripts",
        "used_memory_scripts_human", "maxmemory", "maxmemory_human", "maxmemory_policy",
        "allocator_frag_ratio", "allocator_frag_bytes", "allocator_rss_ratio",
        "allocator_rss_bytes", "rss_overhead_ratio", "rss_overhead_bytes",
        "mem_fragmentation_ratio", "mem_fragmentation_bytes", "mem_not_counted_for_evict",
        "mem_replication_backlog", "mem_total_replication_buffers", "mem_clients_slaves",
        "mem_clients_normal", "mem_cluster_links", "mem_aof_buffer", "mem_allocator",
        "active_defrag_running", "lazyfree_pending_objects", "lazyfreed_objects",
    ],
    "Persistence": [
        "loading", "async_loading", "current_cow_peak", "current_cow_size",
        "current_cow_size_age", "current_fork_perc", "current_save_keys_processed",
        "current_save_keys_total", "rdb_changes_since_last_save", "rdb_bgsave_in_progress",
        "rdb_last_save_time", "rdb_last_bgsave_status", "rdb_last_bgsave_time_sec",
        "rdb_current_bgsave_time_sec", "rdb_saves", "rdb_last_cow_size",
        "rdb_last_load_keys_expired", "rdb_last_load_keys_loaded", "aof_enabled",
        "aof_rewrite_in_progress", "aof_rewrite_scheduled", "aof_last_rewrite_time_sec",
        "aof_current_rewrite_time_sec", "aof_last_bgrewrite_status", "aof_rewrites",
        "aof_rewrites_consecutive_failures", "aof_last_write_status", "aof_last_cow_size",
        "module_fork_in_progress", "module_fork_last_cow_size",
    ],
    "Stats": [
        "total_connections_received", "total_commands_processed", "instantaneous_ops_per_sec",
        "total_net_input_bytes", "total_net_output_bytes", "total_net_repl_input_bytes",
        "total_net_repl_output_bytes", "instantaneous_input_kbps", "instantaneous_output_kbps",
        "instantaneous_input_repl_kbps", "instantaneous_output_repl_kbps",
        "rejected_connections", "sync_full", "sync_partial_ok", "sync_partial_err",
        "expired_keys", "expired_stale_perc", "expired_time_cap_reached_count",
        "expire_cycle_cpu_milliseconds", "evicted_keys", "evicted_clients",
        "total_eviction_exceeded_time", "current_eviction_exceeded_time", "keyspace_hits",
        "keyspace_misses", "pubsub_channels", "pubsub_patterns", "pubsubshard_channels",
        "latest_fork_usec", "total_forks", "migrate_cached_sockets",
        "slave_expires_tracked_keys", "active_defrag_hits", "active_defrag_misses",
        "active_defrag_key_hits", "active_defrag_key_misses", "total_active_defrag_time",
        "current_active_defrag_time", "tracking_total_keys", "tracking_total_items",
        "tracking_total_prefixes", "unexpected_error_replies", "total_error_replies",
        "dump_payload_sanitizations", "total_reads_processed", "total_writes_processed",
        "io_threaded_reads_processed", "io_threaded_writes_processed",
        "reply_buffer_shrinks", "reply_buffer_expands",
    ],
    "Replication": [
        "role", "connected_slaves", "master_failover_state", "master_replid",
        "master_replid2", "master_repl_offset", "second_repl_offset", "repl_backlog_active",
        "repl_backlog_size", "repl_backlog_first_byte_offset", "repl_backlog_histlen",
    ],
    "CPU": [
        "used_cpu_sys", "used_cpu_user", "used_cpu_sys_children", "used_cpu_user_children",
        "used_cpu_sys_main_thread", "used_cpu_user_main_thread",
    ],
    "Cluster": ["cluster_enabled"],
}

DEFAULT_SECTIONS = ["Server", "Clients", "Memory", "Persistence", "Stats", "Replication",
                    "CPU", "Modules", "Errorstats", "Cluster", "Keyspace"]
ALL_SECTIONS = ["Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "CPU",
                "Modules", "Commandstats", "Errorstats", "Cluster", "Keyspace"]
# shardis writes no per-command latency histograms; "Shards" is its own
NOT_COMPARED = {"Latencystats", "Shards"}

INT = re.compile(r"^-?\d+$")
FLOAT2 = re.compile(r"^-?\d+\.\d{2}$")
PERCENT = re.compile(r"^\d+\.\d{2}%$")
HUMAN = re.compile(r"^(\d+B|\d+\.\d{2}[KMGTP])$")
SECONDS = re.compile(r"^\d+\.\d{6}$")
HEX40 = re.compile(r"^[0-9a-f]{40}$")

# Fields whose value is not an integer, by format.
FORMATS = {
    "instantaneous_input_kbps": FLOAT2, "instantaneous_output_kbps": FLOAT2,
    "instantaneous_input_repl_kbps": FLOAT2, "instantaneous_output_repl_kbps": FLOAT2,
    "expired_stale_perc": FLOAT2, "current_fork_perc": FLOAT2,
    "allocator_frag_ratio": FLOAT2, "allocator_rss_ratio": FLOAT2,
    "rss_overhead_ratio": FLOAT2, "mem_fragmentation_ratio": FLOAT2,
    "used_memory_peak_perc": PERCENT, "used_memory_dataset_perc": PERCENT,
    "used_cpu_sys": SECONDS, "used_cpu_user": SECONDS, "used_cpu_sys_children": SECONDS,
    "used_cpu_user_children": SECONDS, "used_cpu_sys_main_thread": SECONDS,
    "used_cpu_user_main_thread": SECONDS,
    "run_id": HEX40, "master_replid": HEX40, "master_replid2": HEX40,
    "rdb_last_bgsave_status": re.compile(r"^ok$"),
    "aof_last_bgrewrite_status": re.compile(r"^ok$"),
    "aof_last_write_status": re.compile(r"^ok$"),
    "role": re.compile(r"^master$"),
    "master_failover_state": re.compile(r"^no-failover$"),
    "maxmemory_policy": re.compile(r"^[a-z-]+$"),
    "process_supervised": re.compile(r"^(no|upstart|systemd|unknown)$"),
}
# Free text.
TEXT = {"redis_version", "shardis_version", "redis_git_sha1", "redis_build_id", "redis_mode",
        "os", "monotonic_clock", "multiplexing_api", "atomicvar_api", "gcc_version",
        "executable", "config_file", "mem_allocator"}

HUMAN_UNITS = {"B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}


def parse_info(text):
    """INFO text -> ([section titles], {section: [(field, value)]})."""
    if isinstance(text, bytes):
        text = text.decode()
    titles, sections, current = [], {}, None
    for line in text.split("\r\n"):
        if line.startswith("# "):
            current = line[2:]
            titles.append(current)
            sections[current] = []
        elif line and current is not None:
            k, sep, v = line.partition(":")
            if sep:
                sections[current].append((k, v))
    return titles, sections


def human_bytes(text):
    """'1.50M' -> 1572864.0, '512B' -> 512.0"""
    return float(text[:-1]) * HUMAN_UNITS[text[-1]]


class InfoTestCase(ServerTestCase):

    def info(self, *sections, client=None):
        titles, parsed = parse_info((client or self.r).cmd("INFO", *sections))
        return titles, parsed

    def fields(self, *sections, client=None):
        _, parsed = self.info(*sections, client=client)
        out = {}
        for pairs in parsed.values():
            out.update(pairs)
        return out


class TestInfoFields(InfoTestCase):

    def test_every_field_redis_exporter_reads_is_present(self):
        self.r.cmd("SET", "k", "v")
        _, parsed = self.info("ALL")
        for section, names in EXPORTER_FIELDS.items():
            self.assertIn(section, parsed)
            have = dict(parsed[section])
            missing = [n for n in names if n not in have]
            self.assertEqual(missing, [], "missing in # %s" % section)
        self.assertRegex(dict(parsed["Keyspace"]).get("db0", ""),
                         r"^keys=\d+,expires=\d+,avg_ttl=\d+$")

    def test_fields_keep_redis_order_in_every_section(self):
        _, parsed = self.info("everything")
        for section, order in REDIS_ORDER.items():
            names = [k for k, _ in parsed.get(section, [])]
            known = [n for n in names if n in order]
            self.assertEqual(known, order, "fields of # %s" % section)

    def test_every_value_parses_in_its_format(self):
        _, parsed = self.info("everything")
        for section in REDIS_ORDER:
            for name, value in parsed[section]:
                if name in TEXT:
                    continue
                if name.endswith("_human"):
                    fmt = HUMAN
                else:
                    fmt = FORMATS.get(name, INT)
                self.assertRegex(value, fmt, "%s:%s" % (name, value))

    def test_human_sizes_match_their_byte_counts(self):
        fields = self.fields("memory")
        for name in ("used_memory", "used_memory_rss", "used_memory_peak",
                     "total_system_memory", "maxmemory"):
            exact = int(fields[name])
            approx = human_bytes(fields[name + "_human"])
            self.assertLessEqual(abs(approx - exact), max(1.0, exact * 0.006),
                                 "%s=%d vs %s" % (name, exact, fields[name + "_human"]))

    def test_default_info_sections_in_redis_order(self):
        titles, _ = self.info()
        self.assertEqual([t for t in titles if t not in NOT_COMPARED], DEFAULT_SECTIONS)
        titles, _ = self.info("default")
        self.assertEqual([t for t in titles if t not in NOT_COMPARED], DEFAULT_SECTIONS)

    def test_all_and_everything_add_commandstats(self):
        for arg in ("all", "everything"):
            titles, _ = self.info(arg)
            self.assertEqual([t for t in titles if t not in NOT_COMPARED], ALL_SECTIONS, arg)

    def test_several_sections_keep_redis_order(self):
        titles, _ = self.info("stats", "memory", "cluster")
        self.assertEqual(titles, ["Memory", "Stats", "Cluster"])

    def test_modules_section_is_empty(self):
        self.assertEqual(self.r.raw("INFO", "modules"), b"$11\r\n# Modules\r\n\r\n")

    def test_cluster_is_disabled(self):
        self.assertEqual(self.r.cmd("INFO", "cluster"), b"# Cluster\r\ncluster_enabled:0\r\n")

    def test_replication_says_master_with_fresh_ids(self):
        fields = self.fields("replication")
        self.assertEqual(fields["role"], "master")
        self.assertEqual(fields["connected_slaves"], "0")
        self.assertRegex(fields["master_replid"], HEX40)
        self.assertNotEqual(fields["master_replid"], "0" * 40)
        self.assertEqual(fields["master_replid2"], "0" * 40)
        self.assertEqual(fields["master_repl_offset"], "0")
        self.assertEqual(fields["second_repl_offset"], "-1")
        self.assertEqual(self.fields("replication")["master_replid"], fields["master_replid"])
        self.assertNotEqual(fields["master_replid"], self.fields("server")["run_id"])

    def test_persistence_shows_saving_off(self):
        fields = self.fields("persistence", "server")
        self.assertEqual(fields["aof_enabled"], "0")
        self.assertEqual(fields["rdb_bgsave_in_progress"], "0")
        self.assertEqual(fields["rdb_last_bgsave_status"], "ok")
        self.assertEqual(fields["rdb_last_bgsave_time_sec"], "-1")
        started = time.time() - int(fields["uptime_in_seconds"])
        self.assertLessEqual(abs(int(fields["rdb_last_save_time"]) - started), 3)

    def test_server_clock_fields(self):
        fields = self.fields("server")
        lru = int(fields["lru_clock"])
        now = int(time.time()) & ((1 << 24) - 1)
        self.assertLessEqual(abs(now - lru), 2)
        self.assertEqual(fields["io_threads_active"], "0")
        self.assertIn(fields["process_supervised"], ("no", "systemd"))
        self.assertTrue(fields["monotonic_clock"])

    def test_total_system_memory_is_the_machines(self):
        fields = self.fields("memory")
        expected = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        self.assertEqual(int(fields["total_system_memory"]), expected)

    def test_exporter_parses_commandstats_and_errorstats(self):
        self.r.cmd("SET", "a", "1")
        self.r.cmd("GET", "a")
        self.r.cmd("NOSUCHCOMMAND")
        fields = self.fields("commandstats", "errorstats")
        self.assertRegex(fields["cmdstat_get"],
                         r"^calls=\d+,usec=\d+,usec_per_call=\d+\.\d{2},rejected_calls=\d+,"
                         r"failed_calls=\d+$")
        self.assertRegex(fields["errorstat_ERR"], r"^count=\d+$")


class TestCommandCount(InfoTestCase):

    def test_commands_on_other_shards_count_once(self):
        # regression: a command run on another shard (or in parts on every
        # shard) was counted where it was read and again where it ran
        before = int(self.fields("stats")["total_commands_processed"])
        for i in range(20):
            self.r.cmd("SET", "cnt:%d" % i, "v")
        self.r.cmd("MGET", *["cnt:%d" % i for i in range(20)])
        self.r.cmd("DBSIZE")
        after = int(self.fields("stats")["total_commands_processed"])
        # 20 SET + MGET + DBSIZE + the first INFO
        self.assertEqual(after - before, 23)


class TestInfoMemory(InfoTestCase):

    def test_peak_is_at_least_used(self):
        fields = self.fields("memory")
        self.assertGreaterEqual(int(fields["used_memory_peak"]), int(fields["used_memory"]))

    def test_peak_keeps_the_highest_used(self):
        value = "x" * 1000
        for i in range(0, 4000, 200):
            self.r.cmd("MSET", *[a for j in range(i, i + 200) for a in ("big:%d" % j, value)])
        high = int(self.fields("memory")["used_memory"])
        self.r.cmd("FLUSHALL")
        fields = self.fields("memory")
        self.assertGreaterEqual(int(fields["used_memory_peak"]), high)
        self.assertGreaterEqual(int(fields["used_memory_peak"]), int(fields["used_memory"]))
        perc = float(fields["used_memory_peak_perc"].rstrip("%"))
        self.assertGreater(perc, 0)
        self.assertLessEqual(perc, 100.0)

    def test_fragmentation_is_rss_over_used(self):
        fields = self.fields("memory")
        used, rss = int(fields["used_memory"]), int(fields["used_memory_rss"])
        ratio = float(fields["mem_fragmentation_ratio"])
        self.assertGreater(ratio, 0)
        # Redis computes the ratio from its cron's readings (up to 1/hz old)
        self.assertAlmostEqual(ratio, rss / used, delta=max(0.05, ratio * 0.25))
        frag_bytes = int(fields["mem_fragmentation_bytes"])
        self.assertLessEqual(abs(frag_bytes - (rss - used)), max(1 << 20, abs(rss - used) // 4))

    def test_memory_parts_add_up(self):
        fields = self.fields("memory")
        used = int(fields["used_memory"])
        overhead = int(fields["used_memory_overhead"])
        dataset = int(fields["used_memory_dataset"])
        self.assertGreaterEqual(overhead, int(fields["used_memory_startup"]))
        # Redis reads its used memory twice while writing INFO: a few bytes apart
        self.assertLessEqual(abs(dataset - max(0, used - overhead)), 65536)


class TestInstantaneousMetrics(InfoTestCase):

    def load(self, commands=3000, seconds=1.0):
        """Sends PINGs from another connection, in batches, over `seconds`."""
        c = self.client()
        batches = 30
        batch = encode_command("PING") * (commands // batches)
        start = time.monotonic()
        for i in range(batches):
            c.send(batch)
            c.read_replies(commands // batches)
            pause = start + seconds * (i + 1) / batches - time.monotonic()
            if pause > 0:
                time.sleep(pause)

    def wait_idle_metric(self, name, tries=3):
        """The metric after ~2.2 s without a command (INFO itself is one)."""
        value = None
        for _ in range(tries):
            time.sleep(2.2)
            value = self.fields("stats")[name]
            if float(value) == 0:
                break
        return value

    def test_ops_per_sec_rises_under_load_and_falls_when_idle(self):
        self.load()
        fields = self.fields("stats")
        self.assertGreater(int(fields["instantaneous_ops_per_sec"]), 0)
        self.assertGreater(float(fields["instantaneous_input_kbps"]), 0)
        self.assertGreater(float(fields["instantaneous_output_kbps"]), 0)
        self.assertEqual(self.wait_idle_metric("instantaneous_ops_per_sec"), "0")
        fields = self.fields("stats")
        self.assertEqual(fields["instantaneous_input_repl_kbps"], "0.00")
        self.assertEqual(fields["instantaneous_output_repl_kbps"], "0.00")

    def test_ops_per_sec_is_near_the_rate_sent(self):
        self.load(commands=3000, seconds=1.0)
        ops = int(self.fields("stats")["instantaneous_ops_per_sec"])
        # 3000 in ~1 s, seen through a 1.6 s window: well above 100, and
        # not beyond what a double count of every command could give
        self.assertGreater(ops, 100)
        self.assertLess(ops, 20000)

    def test_input_kbps_falls_to_zero_when_idle(self):
        self.load(commands=1500, seconds=0.5)
        self.assertEqual(self.wait_idle_metric("instantaneous_input_kbps"), "0.00")

    def test_resetstat_does_not_make_rates_jump(self):
        self.load(commands=1500, seconds=0.5)
        self.assertOK(self.r.cmd("CONFIG", "RESETSTAT"))
        time.sleep(0.35)
        fields = self.fields("stats")
        self.assertLess(int(fields["instantaneous_ops_per_sec"]), 100000)
        self.assertLess(float(fields["instantaneous_input_kbps"]), 100000)
        self.assertLess(float(fields["instantaneous_output_kbps"]), 100000)

    def test_reads_and_writes_are_counted(self):
        before = self.fields("stats")
        for _ in range(20):
            self.r.cmd("PING")
        after = self.fields("stats")
        for name in ("total_reads_processed", "total_writes_processed"):
            self.assertGreaterEqual(int(after[name]) - int(before[name]), 20, name)


class TestInfoCpuAndClients(InfoTestCase):

    def test_main_thread_cpu_is_within_the_process(self):
        fields = self.fields("cpu")
        for kind in ("sys", "user"):
            main = float(fields["used_cpu_%s_main_thread" % kind])
            total = float(fields["used_cpu_%s" % kind])
            self.assertGreaterEqual(main, 0)
            self.assertLessEqual(main, total + 0.01, kind)

    def test_recent_max_input_buffer_sees_a_big_argument(self):
        c = self.client()
        c.send(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$200000\r\n" + b"x" * 100000)
        time.sleep(0.2)  # the command is half read: its query buffer is big
        try:
            fields = self.fields("clients")
            self.assertGreaterEqual(int(fields["client_recent_max_input_buffer"]), 100000)
        finally:
            c.send(b"x" * 100000 + b"\r\n")
            self.assertOK(c.read_reply())

    def test_timeout_and_tracking_tables_are_empty(self):
        fields = self.fields("clients")
        self.assertEqual(fields["tracking_clients"], "0")
        self.assertEqual(fields["clients_in_timeout_table"], "0")
        self.assertEqual(fields["cluster_connections"], "0")


@unittest.skipIf(reference_mode(), "shardis-only")
class TestShardisInfo(InfoTestCase):

    def test_shards_section_carries_each_shards_rate(self):
        _, parsed = self.info("shards")
        lines = dict(parsed["Shards"])
        self.assertEqual(len(lines), int(self.fields("server")["shards"]))
        for value in lines.values():
            self.assertRegex(value, r"ops_per_sec=\d+$")

    def test_shardis_fields_follow_redis_fields(self):
        _, parsed = self.info("server", "memory", "stats")
        server = [k for k, _ in parsed["Server"]]
        self.assertEqual(server[-1], "shards")
        memory = [k for k, _ in parsed["Memory"]]
        self.assertEqual(memory[-1], "used_memory_shards")
        stats = [k for k, _ in parsed["Stats"]]
        self.assertEqual(stats[-11:], ["mailbox_messages_sent", "mailbox_messages_received",
                                       "mailbox_overflows", "txn_scheduled", "txn_refused",
                                       "txn_waited_commands", "global_script_runs",
                                       "io_batch_waits", "eventloop_cycles", "io_waits",
                                       "mailbox_doorbells"])

    def test_loop_counters_count_cycles_sleeps_and_doorbells(self):
        # eventloop_cycles and io_waits move with every request an idle
        # server wakes for; mailbox_doorbells only when a request went to
        # another shard that slept (never with one shard)
        def counters():
            f = self.fields("stats")
            return [int(f[k]) for k in ("eventloop_cycles", "io_waits", "mailbox_doorbells")]

        before = counters()
        for i in range(40):
            self.r.cmd("GET", "doorbell:%d" % i)
            time.sleep(0.002)
        after = counters()
        self.assertGreaterEqual(after[0] - before[0], 40)
        self.assertGreaterEqual(after[1] - before[1], 40)
        if int(self.fields("server")["shards"]) == 1:
            self.assertEqual(after[2], 0)
        else:
            self.assertGreater(after[2] - before[2], 0)
        # at most a request's and its reply's, and the INFO fan-outs' own
        self.assertLessEqual(after[2] - before[2], 2 * 40 + 16)
        self.assertEqual(self.r.cmd("CONFIG", "RESETSTAT"), "OK")
        self.assertLess(counters()[0], after[0])

    def test_info_from_every_shard_agrees_on_the_ids(self):
        # connections land on any shard: INFO merged by each must agree
        ids = set()
        for _ in range(8):
            c = self.client()
            fields = self.fields("server", "replication", client=c)
            ids.add((fields["run_id"], fields["master_replid"]))
        self.assertEqual(len(ids), 1)


if __name__ == "__main__":
    unittest.main()
