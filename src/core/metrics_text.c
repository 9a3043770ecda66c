/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * metrics_text.c: the Prometheus text exposition format (0.0.4) of one
 * scrape (metrics.c gathers it): INFO everything's text and the merged
 * per-command latency histograms in, one text out.
 *
 *   redis_up, then each INFO field of the table below as a family of one
 *   sample (in INFO's order), redis_instance_info and
 *   redis_start_time_seconds, then the labelled families: commandstats
 *   {cmd}, errorstats {err}, latencystats as a summary {cmd, quantile},
 *   the histograms {cmd, le}, keyspace {db}, INFO shards {shard}.
 *
 * Names are redis_exporter's (so its dashboards work), with HELP and TYPE
 * lines; INFO's lines are parsed once into slices of the reply (no copy).
 * Values are INFO's own text once checked to be a number (so a counter
 * past 2^53 loses nothing), "ok"/"err" read as 1/0 as the exporter does,
 * and microseconds or milliseconds shifted to seconds where the name says
 * seconds. A label value is escaped, and any byte outside printable ASCII
 * becomes '_'.
 *
 * Threading: pure functions of their arguments; the caller's thread.
 */
#include "metrics_text.h"

#include "shardis/cmdtab.h"
#include "shardis/latency.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the exposition text ---- */

enum { MT_GAUGE, MT_COUNTER };

/* An INFO field exported as one sample: its INFO name, its name after
 * "redis_", its type, and how many decimal places to shift an integer
 * value (3: ms -> s, 6: us -> s; 0: the text as INFO has it). */
struct field_map {
    const char *info, *name;
    uint8_t type, shift;
};

/* redis_exporter's names (metricMapGauges, metricMapCounters); where its
 * name breaks Prometheus's rules (a gauge ending in _total, a counter not
 * ending in it) the name keeps its stem and gets the right suffix. */
static const struct field_map field_maps[] = {
    { "uptime_in_seconds", "uptime_in_seconds", MT_GAUGE, 0 },
    { "process_id", "process_id", MT_GAUGE, 0 },
    { "hz", "hz", MT_GAUGE, 0 },
    { "configured_hz", "configured_hz", MT_GAUGE, 0 },
    { "io_threads_active", "io_threads_active", MT_GAUGE, 0 },
    { "shards", "shards", MT_GAUGE, 0 },
    { "connected_clients", "connected_clients", MT_GAUGE, 0 },
    { "cluster_connections", "cluster_connections", MT_GAUGE, 0 },
    { "maxclients", "max_clients", MT_GAUGE, 0 },
    { "client_recent_max_input_buffer", "client_recent_max_input_buffer_bytes", MT_GAUGE, 0 },
    { "client_recent_max_output_buffer", "client_recent_max_output_buffer_bytes", MT_GAUGE, 0 },
    { "blocked_clients", "blocked_clients", MT_GAUGE, 0 },
    { "tracking_clients", "tracking_clients", MT_GAUGE, 0 },
    { "clients_in_timeout_table", "clients_in_timeout_table", MT_GAUGE, 0 },
    { "used_memory", "memory_used_bytes", MT_GAUGE, 0 },
    { "used_memory_rss", "memory_used_rss_bytes", MT_GAUGE, 0 },
    { "used_memory_peak", "memory_used_peak_bytes", MT_GAUGE, 0 },
    { "used_memory_overhead", "memory_used_overhead_bytes", MT_GAUGE, 0 },
    { "used_memory_startup", "memory_used_startup_bytes", MT_GAUGE, 0 },
    { "used_memory_dataset", "memory_used_dataset_bytes", MT_GAUGE, 0 },
    { "allocator_allocated", "allocator_allocated_bytes", MT_GAUGE, 0 },
    { "allocator_active", "allocator_active_bytes", MT_GAUGE, 0 },
    { "allocator_resident", "allocator_resident_bytes", MT_GAUGE, 0 },
    { "total_system_memory", "total_system_memory_bytes", MT_GAUGE, 0 },
    { "used_memory_lua", "memory_used_lua_bytes", MT_GAUGE, 0 },
    { "used_memory_vm_eval", "memory_used_vm_eval_bytes", MT_GAUGE, 0 },
    { "used_memory_scripts_eval", "memory_used_scripts_eval_bytes", MT_GAUGE, 0 },
    { "number_of_cached_scripts", "number_of_cached_scripts", MT_GAUGE, 0 },
    { "number_of_functions", "number_of_functions", MT_GAUGE, 0 },
    { "number_of_libraries", "number_of_libraries", MT_GAUGE, 0 },
    { "used_memory_vm_functions", "memory_used_vm_functions_bytes", MT_GAUGE, 0 },
    { "used_memory_vm_total", "memory_used_vm_total_bytes", MT_GAUGE, 0 },
    { "used_memory_functions", "memory_used_functions_bytes", MT_GAUGE, 0 },
    { "used_memory_scripts", "memory_used_scripts_bytes", MT_GAUGE, 0 },
    { "maxmemory", "memory_max_bytes", MT_GAUGE, 0 },
    { "allocator_frag_ratio", "allocator_frag_ratio", MT_GAUGE, 0 },
    { "allocator_frag_bytes", "allocator_frag_bytes", MT_GAUGE, 0 },
    { "allocator_rss_ratio", "allocator_rss_ratio", MT_GAUGE, 0 },
    { "allocator_rss_bytes", "allocator_rss_bytes", MT_GAUGE, 0 },
    { "rss_overhead_ratio", "rss_overhead_ratio", MT_GAUGE, 0 },
    { "rss_overhead_bytes", "rss_overhead_bytes", MT_GAUGE, 0 },
    { "mem_fragmentation_ratio", "mem_fragmentation_ratio", MT_GAUGE, 0 },
    { "mem_fragmentation_bytes", "mem_fragmentation_bytes", MT_GAUGE, 0 },
    { "mem_not_counted_for_evict", "mem_not_counted_for_eviction_bytes", MT_GAUGE, 0 },
    { "mem_replication_backlog", "mem_replication_backlog_bytes", MT_GAUGE, 0 },
    { "mem_total_replication_buffers", "mem_total_replication_buffers_bytes", MT_GAUGE, 0 },
    { "mem_clients_slaves", "mem_clients_slaves", MT_GAUGE, 0 },
    { "mem_clients_normal", "mem_clients_normal", MT_GAUGE, 0 },
    { "mem_cluster_links", "mem_cluster_links_bytes", MT_GAUGE, 0 },
    { "mem_aof_buffer", "mem_aof_buffer_bytes", MT_GAUGE, 0 },
    { "active_defrag_running", "active_defrag_running", MT_GAUGE, 0 },
    { "lazyfree_pending_objects", "lazyfree_pending_objects", MT_GAUGE, 0 },
    { "lazyfreed_objects", "lazyfreed_objects", MT_GAUGE, 0 },
    { "used_memory_shards", "memory_used_shards_bytes", MT_GAUGE, 0 },
    { "loading", "loading_dump_file", MT_GAUGE, 0 },
    { "async_loading", "async_loading", MT_GAUGE, 0 },
    { "current_cow_peak", "current_cow_peak_bytes", MT_GAUGE, 0 },
    { "current_cow_size", "current_cow_size_bytes", MT_GAUGE, 0 },
    { "current_cow_size_age", "current_cow_size_age_seconds", MT_GAUGE, 0 },
    { "current_fork_perc", "current_fork_perc", MT_GAUGE, 0 },
    { "current_save_keys_processed", "current_save_keys_processed", MT_GAUGE, 0 },
    { "current_save_keys_total", "current_save_keys", MT_GAUGE, 0 },
    { "rdb_changes_since_last_save", "rdb_changes_since_last_save", MT_GAUGE, 0 },
    { "rdb_bgsave_in_progress", "rdb_bgsave_in_progress", MT_GAUGE, 0 },
    { "rdb_last_save_time", "rdb_last_save_timestamp_seconds", MT_GAUGE, 0 },
    { "rdb_last_bgsave_status", "rdb_last_bgsave_status", MT_GAUGE, 0 },
    { "rdb_last_bgsave_time_sec", "rdb_last_bgsave_duration_sec", MT_GAUGE, 0 },
    { "rdb_current_bgsave_time_sec", "rdb_current_bgsave_duration_sec", MT_GAUGE, 0 },
    { "rdb_saves", "rdb_saves_total", MT_COUNTER, 0 },
    { "rdb_last_cow_size", "rdb_last_cow_size_bytes", MT_GAUGE, 0 },
    { "rdb_last_load_keys_expired", "rdb_last_load_expired_keys", MT_GAUGE, 0 },
    { "rdb_last_load_keys_loaded", "rdb_last_load_loaded_keys", MT_GAUGE, 0 },
    { "aof_enabled", "aof_enabled", MT_GAUGE, 0 },
    { "aof_rewrite_in_progress", "aof_rewrite_in_progress", MT_GAUGE, 0 },
    { "aof_rewrite_scheduled", "aof_rewrite_scheduled", MT_GAUGE, 0 },
    { "aof_last_rewrite_time_sec", "aof_last_rewrite_duration_sec", MT_GAUGE, 0 },
    { "aof_current_rewrite_time_sec", "aof_current_rewrite_duration_sec", MT_GAUGE, 0 },
    { "aof_last_bgrewrite_status", "aof_last_bgrewrite_status", MT_GAUGE, 0 },
    { "aof_rewrites", "aof_rewrites_total", MT_COUNTER, 0 },
    { "aof_rewrites_consecutive_failures", "aof_rewrites_consecutive_failures", MT_GAUGE, 0 },
    { "aof_last_write_status", "aof_last_write_status", MT_GAUGE, 0 },
    { "aof_last_cow_size", "aof_last_cow_size_bytes", MT_GAUGE, 0 },
    { "aof_current_size", "aof_current_size_bytes", MT_GAUGE, 0 },
    { "aof_base_size", "aof_base_size_bytes", MT_GAUGE, 0 },
    { "aof_pending_rewrite", "aof_pending_rewrite", MT_GAUGE, 0 },
    { "aof_buffer_length", "aof_buffer_length", MT_GAUGE, 0 },
    { "aof_pending_bio_fsync", "aof_pending_bio_fsync", MT_GAUGE, 0 },
    { "aof_delayed_fsync", "aof_delayed_fsync", MT_GAUGE, 0 },
    { "module_fork_in_progress", "module_fork_in_progress", MT_GAUGE, 0 },
    { "module_fork_last_cow_size", "module_fork_last_cow_size", MT_GAUGE, 0 },
    { "total_connections_received", "connections_received_total", MT_COUNTER, 0 },
    { "total_commands_processed", "commands_processed_total", MT_COUNTER, 0 },
    { "instantaneous_ops_per_sec", "instantaneous_ops_per_sec", MT_GAUGE, 0 },
    { "total_net_input_bytes", "net_input_bytes_total", MT_COUNTER, 0 },
    { "total_net_output_bytes", "net_output_bytes_total", MT_COUNTER, 0 },
    { "total_net_repl_input_bytes", "net_repl_input_bytes_total", MT_COUNTER, 0 },
    { "total_net_repl_output_bytes", "net_repl_output_bytes_total", MT_COUNTER, 0 },
    { "instantaneous_input_kbps", "instantaneous_input_kbps", MT_GAUGE, 0 },
    { "instantaneous_output_kbps", "instantaneous_output_kbps", MT_GAUGE, 0 },
    { "instantaneous_input_repl_kbps", "instantaneous_input_repl_kbps", MT_GAUGE, 0 },
    { "instantaneous_output_repl_kbps", "instantaneous_output_repl_kbps", MT_GAUGE, 0 },
    { "rejected_connections", "rejected_connections_total", MT_COUNTER, 0 },
    { "sync_full", "replica_resyncs_full", MT_GAUGE, 0 },
    { "sync_partial_ok", "replica_partial_resync_accepted", MT_GAUGE, 0 },
    { "sync_partial_err", "replica_partial_resync_denied", MT_GAUGE, 0 },
    { "expired_keys", "expired_keys_total", MT_COUNTER, 0 },
    { "expired_stale_perc", "expired_stale_percentage", MT_GAUGE, 0 },
    { "expired_time_cap_reached_count", "expired_time_cap_reached_total", MT_COUNTER, 0 },
    { "expire_cycle_cpu_milliseconds", "expire_cycle_cpu_time_ms_total", MT_COUNTER, 0 },
    { "evicted_keys", "evicted_keys_total", MT_COUNTER, 0 },
    { "evicted_clients", "evicted_clients_total", MT_COUNTER, 0 },
    { "total_eviction_exceeded_time", "eviction_exceeded_time_ms_total", MT_COUNTER, 0 },
    { "current_eviction_exceeded_time", "current_eviction_exceeded_time_ms", MT_GAUGE, 0 },
    { "keyspace_hits", "keyspace_hits_total", MT_COUNTER, 0 },
    { "keyspace_misses", "keyspace_misses_total", MT_COUNTER, 0 },
    { "pubsub_channels", "pubsub_channels", MT_GAUGE, 0 },
    { "pubsub_patterns", "pubsub_patterns", MT_GAUGE, 0 },
    { "pubsubshard_channels", "pubsubshard_channels", MT_GAUGE, 0 },
    { "latest_fork_usec", "latest_fork_seconds", MT_GAUGE, 6 },
    { "total_forks", "forks_total", MT_COUNTER, 0 },
    { "migrate_cached_sockets", "migrate_cached_sockets", MT_GAUGE, 0 },
    { "slave_expires_tracked_keys", "slave_expires_tracked_keys", MT_GAUGE, 0 },
    { "active_defrag_hits", "defrag_hits", MT_GAUGE, 0 },
    { "active_defrag_misses", "defrag_misses", MT_GAUGE, 0 },
    { "active_defrag_key_hits", "defrag_key_hits", MT_GAUGE, 0 },
    { "active_defrag_key_misses", "defrag_key_misses", MT_GAUGE, 0 },
    { "total_active_defrag_time", "active_defrag_time_ms_total", MT_COUNTER, 0 },
    { "current_active_defrag_time", "current_active_defrag_time_ms", MT_GAUGE, 0 },
    { "tracking_total_keys", "tracking_total_keys", MT_GAUGE, 0 },
    { "tracking_total_items", "tracking_total_items", MT_GAUGE, 0 },
    { "tracking_total_prefixes", "tracking_total_prefixes", MT_GAUGE, 0 },
    { "unexpected_error_replies", "unexpected_error_replies_total", MT_COUNTER, 0 },
    { "total_error_replies", "error_replies_total", MT_COUNTER, 0 },
    { "dump_payload_sanitizations", "dump_payload_sanitizations_total", MT_COUNTER, 0 },
    { "total_reads_processed", "reads_processed_total", MT_COUNTER, 0 },
    { "total_writes_processed", "writes_processed_total", MT_COUNTER, 0 },
    { "io_threaded_reads_processed", "io_threaded_reads_processed_total", MT_COUNTER, 0 },
    { "io_threaded_writes_processed", "io_threaded_writes_processed_total", MT_COUNTER, 0 },
    { "reply_buffer_shrinks", "reply_buffer_shrinks_total", MT_COUNTER, 0 },
    { "reply_buffer_expands", "reply_buffer_expands_total", MT_COUNTER, 0 },
    { "mailbox_messages_sent", "mailbox_messages_sent_total", MT_COUNTER, 0 },
    { "mailbox_messages_received", "mailbox_messages_received_total", MT_COUNTER, 0 },
    { "mailbox_overflows", "mailbox_overflows_total", MT_COUNTER, 0 },
    { "txn_scheduled", "txn_scheduled_total", MT_COUNTER, 0 },
    { "txn_refused", "txn_refused_total", MT_COUNTER, 0 },
    { "txn_waited_commands", "txn_waited_commands_total", MT_COUNTER, 0 },
    { "global_script_runs", "global_script_runs_total", MT_COUNTER, 0 },
    { "io_batch_waits", "io_batch_waits_total", MT_COUNTER, 0 },
    { "eventloop_cycles", "eventloop_cycles_total", MT_COUNTER, 0 },
    { "io_waits", "io_waits_total", MT_COUNTER, 0 },
    { "mailbox_doorbells", "mailbox_doorbells_total", MT_COUNTER, 0 },
    { "connected_slaves", "connected_slaves", MT_GAUGE, 0 },
    { "master_repl_offset", "master_repl_offset", MT_GAUGE, 0 },
    { "second_repl_offset", "second_repl_offset", MT_GAUGE, 0 },
    { "repl_backlog_active", "repl_backlog_is_active", MT_GAUGE, 0 },
    { "repl_backlog_size", "replication_backlog_bytes", MT_GAUGE, 0 },
    { "repl_backlog_first_byte_offset", "repl_backlog_first_byte_offset", MT_GAUGE, 0 },
    { "repl_backlog_histlen", "repl_backlog_history_bytes", MT_GAUGE, 0 },
    { "used_cpu_sys", "cpu_sys_seconds_total", MT_COUNTER, 0 },
    { "used_cpu_user", "cpu_user_seconds_total", MT_COUNTER, 0 },
    { "used_cpu_sys_children", "cpu_sys_children_seconds_total", MT_COUNTER, 0 },
    { "used_cpu_user_children", "cpu_user_children_seconds_total", MT_COUNTER, 0 },
    { "used_cpu_sys_main_thread", "cpu_sys_main_thread_seconds_total", MT_COUNTER, 0 },
    { "used_cpu_user_main_thread", "cpu_user_main_thread_seconds_total", MT_COUNTER, 0 },
    { "cluster_enabled", "cluster_enabled", MT_GAUGE, 0 },
};

/* The labels of redis_instance_info, INFO fields of the same names. */
static const char *const instance_labels[] = {
    "role",       "redis_version",    "redis_build_id",  "redis_mode",
    "os",         "maxmemory_policy", "tcp_port",        "run_id",
    "process_id", "master_replid",    "shardis_version",
};
#define NINSTANCE_LABELS (sizeof(instance_labels) / sizeof(instance_labels[0]))

/* The INFO sections whose lines carry labels. */
enum line_kind { L_CMD, L_ERR, L_LAT, L_DB, L_SHARD };

struct info_line {
    uint8_t kind;
    struct sh_slice key, val;
};

/* What the text is written from: the INFO text's lines, parsed once. */
struct scrape {
    struct rbuf *b;
    struct info_line *lines;
    int nlines, cap;
    struct sh_slice inst[NINSTANCE_LABELS];
    long long uptime;
    int64_t now_ms;
    struct latency_hist **hist;
    int nids;
};

static bool slice_is(struct sh_slice s, const char *w)
{
    return s.len == strlen(w) && memcmp(s.ptr, w, s.len) == 0;
}

static void put(struct rbuf *b, const char *s)
{
    rbuf_append(b, s, strlen(s));
}

/* A label value, escaped as the format asks; bytes outside printable ASCII
 * become '_' (a value must be UTF-8, and INFO's names are ASCII). */
static void put_label_value(struct rbuf *b, struct sh_slice v)
{
    for (size_t i = 0; i < v.len; i++) {
        unsigned char ch = (unsigned char)v.ptr[i];

        if (ch == '\\' || ch == '"') {
            char e[2] = { '\\', (char)ch };

            rbuf_append(b, e, 2);
        } else if (ch < 0x20 || ch >= 0x7f) {
            rbuf_append(b, "_", 1);
        } else {
            rbuf_append(b, &ch, 1);
        }
    }
}

/* The value of INFO text v as a sample value in out: a decimal number, or
 * "ok"/"err" as 1/0 (redis_exporter's reading); with shift, an integer moved
 * that many decimal places right. false when v is not a number. */
static bool value_text(struct sh_slice v, int shift, char *out, size_t outlen)
{
    size_t i = 0, digits = 0;
    bool dot = false;

    if (slice_is(v, "ok") || slice_is(v, "err")) {
        snprintf(out, outlen, "%d", v.ptr[0] == 'o');
        return true;
    }
    if (slice_is(v, "nan") || slice_is(v, "-nan")) {
        snprintf(out, outlen, "NaN");
        return true;
    }
    if (slice_is(v, "inf") || slice_is(v, "-inf")) {
        snprintf(out, outlen, "%sInf", v.ptr[0] == '-' ? "-" : "+");
        return true;
    }
    if (v.len == 0 || v.len >= outlen || v.len > 40) {
        return false;
    }
    if (v.ptr[0] == '-') {
        i++;
    }
    for (; i < v.len; i++) {
        if (v.ptr[i] == '.' && !dot && digits) {
            dot = true;
        } else if (v.ptr[i] >= '0' && v.ptr[i] <= '9') {
            digits++;
        } else {
            return false;
        }
    }
    if (!digits || v.ptr[v.len - 1] == '.') {
        return false;
    }
    if (shift && !dot && v.len <= 18) {
        long long n = strtoll(v.ptr, NULL, 10), p = shift == 3 ? 1000 : 1000000;
        const char *sign = n < 0 ? "-" : "";

        if (shift == 3) {
            snprintf(out, outlen, "%s%lld.%03lld", sign, llabs(n / p), llabs(n % p));
        } else {
            snprintf(out, outlen, "%s%lld.%06lld", sign, llabs(n / p), llabs(n % p));
        }
        return true;
    }
    memcpy(out, v.ptr, v.len);
    out[v.len] = '\0';
    return true;
}

/* "key=value" in a comma-separated INFO value (commandstats, keyspace). */
static bool kv_find(struct sh_slice v, const char *key, struct sh_slice *out)
{
    size_t klen = strlen(key), at = 0;

    while (at < v.len) {
        const char *comma = memchr(v.ptr + at, ',', v.len - at);
        size_t end = comma ? (size_t)(comma - v.ptr) : v.len;

        if (end - at > klen && memcmp(v.ptr + at, key, klen) == 0 && v.ptr[at + klen] == '=') {
            out->ptr = v.ptr + at + klen + 1;
            out->len = end - at - klen - 1;
            return true;
        }
        at = end + 1;
    }
    return false;
}

static void family(struct rbuf *b, const char *name, int type, const char *help)
{
    char line[512];
    int n = snprintf(line, sizeof(line), "# HELP redis_%s %s\n# TYPE redis_%s %s\n", name, help,
                     name,
                     type == MT_COUNTER ? "counter"
                     : type == MT_GAUGE ? "gauge"
                                        : "histogram");

    rbuf_append(b, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* One sample: redis_<name><suffix>{<label>="<value>"[,<label2>="<value2>"]} <num> */
static void sample(struct rbuf *b, const char *name, const char *suffix, const char *label,
                   struct sh_slice lv, const char *label2, struct sh_slice lv2, const char *num)
{
    put(b, "redis_");
    put(b, name);
    put(b, suffix);
    if (label) {
        put(b, "{");
        put(b, label);
        put(b, "=\"");
        put_label_value(b, lv);
        put(b, "\"");
        if (label2) {
            put(b, ",");
            put(b, label2);
            put(b, "=\"");
            put_label_value(b, lv2);
            put(b, "\"");
        }
        put(b, "}");
    }
    put(b, " ");
    put(b, num);
    put(b, "\n");
}

static const struct sh_slice no_label = { NULL, 0 };

static void emit_field(struct scrape *s, struct sh_slice section, struct sh_slice key,
                       struct sh_slice val)
{
    char num[64], help[160];

    for (size_t i = 0; i < SH_ARRAY_LEN(field_maps); i++) {
        const struct field_map *f = &field_maps[i];

        if (!slice_is(key, f->info)) {
            continue;
        }
        if (value_text(val, f->shift, num, sizeof(num))) {
            snprintf(help, sizeof(help), "INFO %.*s: %s",
                     (int)(section.len < 32 ? section.len : 32), section.ptr, f->info);
            family(s->b, f->name, f->type, help);
            sample(s->b, f->name, "", NULL, no_label, NULL, no_label, num);
        }
        return;
    }
}

static void keep_line(struct scrape *s, int kind, struct sh_slice key, struct sh_slice val)
{
    if (s->nlines == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->lines = sh_realloc(s->lines, sizeof(*s->lines) * (size_t)s->cap);
    }
    s->lines[s->nlines++] = (struct info_line){ (uint8_t)kind, key, val };
}

/* One "key:value" line of INFO in its section. */
static void take_line(struct scrape *s, struct sh_slice section, struct sh_slice key,
                      struct sh_slice val)
{
    static const struct {
        const char *section;
        int kind;
    } labelled[] = { { "Commandstats", L_CMD },
                     { "Errorstats", L_ERR },
                     { "Latencystats", L_LAT },
                     { "Keyspace", L_DB },
                     { "Shards", L_SHARD } };

    for (size_t i = 0; i < SH_ARRAY_LEN(labelled); i++) {
        if (slice_is(section, labelled[i].section)) {
            keep_line(s, labelled[i].kind, key, val);
            return;
        }
    }
    for (size_t i = 0; i < NINSTANCE_LABELS; i++) {
        if (slice_is(key, instance_labels[i])) {
            s->inst[i] = val;
        }
    }
    if (slice_is(key, "uptime_in_seconds")) {
        s->uptime = strtoll(val.ptr, NULL, 10);
    }
    emit_field(s, section, key, val);
}

/* Walks INFO's text (t, borrowed): scalars are written at once, labelled
 * lines kept for their families. */
static void take_info(struct scrape *s, struct sh_slice t)
{
    struct sh_slice section = { "", 0 };
    size_t at = 0;

    while (at < t.len) {
        const char *nl = memchr(t.ptr + at, '\n', t.len - at);
        size_t end = nl ? (size_t)(nl - t.ptr) : t.len;
        struct sh_slice line = { t.ptr + at, end - at };
        const char *colon;

        at = end + 1;
        if (line.len && line.ptr[line.len - 1] == '\r') {
            line.len--;
        }
        if (line.len > 2 && line.ptr[0] == '#' && line.ptr[1] == ' ') {
            section = (struct sh_slice){ line.ptr + 2, line.len - 2 };
            continue;
        }
        colon = line.len ? memchr(line.ptr, ':', line.len) : NULL;
        if (!colon) {
            continue;
        }
        take_line(s, section, (struct sh_slice){ line.ptr, (size_t)(colon - line.ptr) },
                  (struct sh_slice){ colon + 1, line.len - (size_t)(colon - line.ptr) - 1 });
    }
}

/* One labelled family from the kept lines of kind: the label value is the
 * key past its first skip bytes, the value the line's field (or, with
 * field NULL, the whole value). */
static void emit_labelled(struct scrape *s, int kind, size_t skip, const char *label,
                          const char *field, int shift, const char *name, int type,
                          const char *help)
{
    bool started = false;
    char num[64];

    for (int i = 0; i < s->nlines; i++) {
        const struct info_line *l = &s->lines[i];
        struct sh_slice v = l->val;

        if (l->kind != kind || l->key.len <= skip || (field && !kv_find(l->val, field, &v)) ||
            !value_text(v, shift, num, sizeof(num))) {
            continue;
        }
        if (!started) {
            family(s->b, name, type, help);
            started = true;
        }
        sample(s->b, name, "", label, (struct sh_slice){ l->key.ptr + skip, l->key.len - skip },
               NULL, no_label, num);
    }
}

/* commandstats' line of the command named cmd, or NULL. */
static const struct info_line *cmdstat_of(const struct scrape *s, struct sh_slice cmd)
{
    for (int i = 0; i < s->nlines; i++) {
        const struct info_line *l = &s->lines[i];

        if (l->kind == L_CMD && l->key.len == 8 + cmd.len &&
            memcmp(l->key.ptr + 8, cmd.ptr, cmd.len) == 0) {
            return l;
        }
    }
    return NULL;
}

/* Latencystats as redis_exporter's summary: a quantile label per
 * percentile, with commandstats' calls and usec as its count and sum. */
static void emit_latency_summary(struct scrape *s)
{
    static const size_t skip = sizeof("latency_percentiles_usec_") - 1;
    bool started = false;

    for (int i = 0; i < s->nlines; i++) {
        const struct info_line *l = &s->lines[i];
        struct sh_slice cmd = { l->key.ptr + skip, l->key.len - skip }, calls, usec;
        const struct info_line *st;
        size_t at = 0;
        char num[64];

        if (l->kind != L_LAT || l->key.len <= skip || !(st = cmdstat_of(s, cmd)) ||
            !kv_find(st->val, "calls", &calls) || !kv_find(st->val, "usec", &usec)) {
            continue;
        }
        if (!started) {
            put(s->b, "# HELP redis_latency_percentiles_usec A summary of latency percentile "
                      "distribution per command\n# TYPE redis_latency_percentiles_usec summary\n");
            started = true;
        }
        while (at < l->val.len) {
            const char *comma = memchr(l->val.ptr + at, ',', l->val.len - at);
            size_t end = comma ? (size_t)(comma - l->val.ptr) : l->val.len;
            const char *eq = memchr(l->val.ptr + at, '=', end - at);

            if (eq && l->val.ptr[at] == 'p' &&
                value_text((struct sh_slice){ eq + 1, (size_t)(l->val.ptr + end - eq - 1) }, 0, num,
                           sizeof(num))) {
                sample(s->b, "latency_percentiles_usec", "", "cmd", cmd, "quantile",
                       (struct sh_slice){ l->val.ptr + at + 1, (size_t)(eq - l->val.ptr - at - 1) },
                       num);
            }
            at = end + 1;
        }
        if (value_text(usec, 0, num, sizeof(num))) {
            sample(s->b, "latency_percentiles_usec", "_sum", "cmd", cmd, NULL, no_label, num);
        }
        if (value_text(calls, 0, num, sizeof(num))) {
            sample(s->b, "latency_percentiles_usec", "_count", "cmd", cmd, NULL, no_label, num);
        }
    }
}

/* One command's histogram: cumulative counts at each power-of-two level
 * from 1024 ns, labelled as LATENCY HISTOGRAM labels them (the level's
 * highest equivalent value in us), every level up to the histogram's last
 * counter, then +Inf. */
static void emit_histogram_of(struct scrape *s, const struct cmd_spec *c,
                              const struct latency_hist *h)
{
    struct sh_slice cmd = { c->fullname, strlen(c->fullname) }, usec;
    const struct info_line *st = cmdstat_of(s, cmd);
    uint64_t seen = 0;
    int i = 0;
    char le[32], num[32];

    for (int64_t level = 1024;; level *= 2) {
        int at = latency_hist_index(level);
        int64_t label = latency_hist_highest(level);

        if (at >= LATENCY_HIST_LEN) {
            at = LATENCY_HIST_LEN - 1;
            label = latency_hist_highest(latency_hist_value_at(at));
        }
        for (; i <= at; i++) {
            seen += h->counts[i];
        }
        snprintf(le, sizeof(le), "%lld", (long long)(label / 1000));
        snprintf(num, sizeof(num), "%llu", (unsigned long long)seen);
        sample(s->b, "latency_usec", "_bucket", "cmd", cmd, "le",
               (struct sh_slice){ le, strlen(le) }, num);
        if (at == LATENCY_HIST_LEN - 1) {
            break;
        }
    }
    snprintf(num, sizeof(num), "%llu", (unsigned long long)h->total);
    sample(s->b, "latency_usec", "_bucket", "cmd", cmd, "le", (struct sh_slice){ "+Inf", 4 }, num);
    if (!st || !kv_find(st->val, "usec", &usec) || !value_text(usec, 0, le, sizeof(le))) {
        snprintf(le, sizeof(le), "0");
    }
    sample(s->b, "latency_usec", "_sum", "cmd", cmd, NULL, no_label, le);
    sample(s->b, "latency_usec", "_count", "cmd", cmd, NULL, no_label, num);
}

static void emit_histograms(struct scrape *s)
{
    bool started = false;

    for (int id = 1; s->hist && id < s->nids; id++) {
        if (!s->hist[id]) {
            continue;
        }
        if (!started) {
            put(s->b, "# HELP redis_latency_usec Latency of each command in microseconds "
                      "(LATENCY HISTOGRAM)\n# TYPE redis_latency_usec histogram\n");
            started = true;
        }
        emit_histogram_of(s, cmdtab_by_id(id), s->hist[id]);
    }
}

static void emit_instance(struct scrape *s)
{
    char num[32];

    put(s->b, "# HELP redis_instance_info Information about the Redis instance\n"
              "# TYPE redis_instance_info gauge\nredis_instance_info{");
    for (size_t i = 0; i < NINSTANCE_LABELS; i++) {
        if (i) {
            put(s->b, ",");
        }
        put(s->b, instance_labels[i]);
        put(s->b, "=\"");
        put_label_value(s->b, s->inst[i]);
        put(s->b, "\"");
    }
    put(s->b, "} 1\n");
    snprintf(num, sizeof(num), "%lld", (long long)(s->now_ms / 1000) - s->uptime);
    family(s->b, "start_time_seconds", MT_GAUGE,
           "Start time of the Redis instance since unix "
           "epoch in seconds.");
    sample(s->b, "start_time_seconds", "", NULL, no_label, NULL, no_label, num);
}

/* The per-shard figures of INFO shards, each with a shard label. */
static void emit_shards(struct scrape *s)
{
    static const struct {
        const char *field, *name, *help;
        int type;
    } f[] = {
        { "keys", "shard_keys", "Keys the shard holds, every database", MT_GAUGE },
        { "clients", "shard_clients", "Clients connected to the shard's core", MT_GAUGE },
        { "commands", "shard_commands_total", "Commands the shard's clients sent", MT_COUNTER },
        { "mailbox_sent", "shard_mailbox_messages_sent_total", "Mailbox messages the shard sent",
          MT_COUNTER },
        { "mailbox_received", "shard_mailbox_messages_received_total",
          "Mailbox messages the shard received", MT_COUNTER },
        { "mailbox_overflows", "shard_mailbox_overflows_total",
          "Messages that waited for room in a full mailbox", MT_COUNTER },
        { "memory", "shard_memory_bytes", "Bytes the shard's thread holds", MT_GAUGE },
        { "ops_per_sec", "shard_instantaneous_ops_per_sec", "Commands per second on the shard",
          MT_GAUGE },
    };

    for (size_t i = 0; i < SH_ARRAY_LEN(f); i++) {
        emit_labelled(s, L_SHARD, 5, "shard", f[i].field, 0, f[i].name, f[i].type, f[i].help);
    }
}

static void emit_labelled_all(struct scrape *s)
{
    emit_labelled(s, L_CMD, 8, "cmd", "calls", 0, "commands_total", MT_COUNTER,
                  "Total number of calls per command");
    emit_labelled(s, L_CMD, 8, "cmd", "usec", 6, "commands_duration_seconds_total", MT_COUNTER,
                  "Total amount of time in seconds spent per command");
    emit_labelled(s, L_CMD, 8, "cmd", "rejected_calls", 0, "commands_rejected_calls_total",
                  MT_COUNTER, "Total number of errors prior command execution per command");
    emit_labelled(s, L_CMD, 8, "cmd", "failed_calls", 0, "commands_failed_calls_total", MT_COUNTER,
                  "Total number of errors within command execution per command");
    emit_labelled(s, L_ERR, 10, "err", "count", 0, "errors_total", MT_COUNTER,
                  "Total number of errors per error type");
    emit_latency_summary(s);
    emit_histograms(s);
    emit_labelled(s, L_DB, 0, "db", "keys", 0, "db_keys", MT_GAUGE, "Total number of keys by DB");
    emit_labelled(s, L_DB, 0, "db", "expires", 0, "db_keys_expiring", MT_GAUGE,
                  "Total number of expiring keys by DB");
    emit_labelled(s, L_DB, 0, "db", "avg_ttl", 3, "db_avg_ttl_seconds", MT_GAUGE,
                  "Avg TTL in seconds");
    emit_shards(s);
}

/* The whole text of a scrape from INFO's reply (RESP2 bulk) and the merged
 * histograms. */
struct metrics_body *metrics_text_render(int64_t now_ms, const struct rbuf *info,
                                         struct latency_hist **hist)
{
    struct metrics_body *body = sh_calloc(1, sizeof(*body));
    struct scrape s = { .b = &body->text, .now_ms = now_ms, .hist = hist, .nids = cmdtab_nids() };
    struct sh_slice t = { info->data, info->len };
    const char *crlf = t.len ? memchr(t.ptr, '\n', t.len) : NULL;

    body->refs = 1;
    for (size_t i = 0; i < NINSTANCE_LABELS; i++) {
        s.inst[i] = (struct sh_slice){ "", 0 };
    }
    put(s.b, "# HELP redis_up Information about the Redis instance\n# TYPE redis_up gauge\n"
             "redis_up 1\n");
    if (crlf && t.ptr[0] == '$') {
        size_t skip = (size_t)(crlf - t.ptr) + 1;
        long long n = strtoll(t.ptr + 1, NULL, 10);

        if (n >= 0 && skip + (size_t)n <= t.len) {
            take_info(&s, (struct sh_slice){ t.ptr + skip, (size_t)n });
        }
    }
    emit_instance(&s);
    emit_labelled_all(&s);
    sh_free(s.lines);
    return body;
}

void metrics_body_unref(struct metrics_body *b)
{
    if (b && --b->refs == 0) {
        rbuf_fini(&b->text);
        sh_free(b);
    }
}
