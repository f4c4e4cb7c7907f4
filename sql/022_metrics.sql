-- Samples taken by `midsops collect` (cron or a systemd timer) for perf-monitor history,
-- perf-analyze and the weekly report. Counters are stored raw (cumulative); rates are
-- computed between neighbouring samples.
create table ops.metrics (
    id              bigserial primary key,
    at              timestamptz not null default now(),
    xact_total      bigint,  -- commits + rollbacks of all databases
    tps             float8,  -- since the previous sample
    db_size         bigint,
    connections     int,
    buffer_hit_pct  float8,
    cache_hits      bigint,  -- api cache counters (cumulative)
    cache_misses    bigint,
    cache_hit_pct   float8,  -- since the previous sample, else overall
    cache_entries   bigint,
    cache_bytes     bigint,
    query_mean_ms   float8,  -- pg_stat_statements mean over all statements, if present
    dead_tuples     bigint,
    waiting_locks   int,
    longest_txn_s   float8,
    import_rate     float8,  -- records/s of the latest import run
    mem_used        bigint,  -- bytes, host
    extra           jsonb
);
create index metrics_at on ops.metrics (at);
