-- The console's last three trends, kept by `midsops collect` so `:trend 24h` can backfill
-- them as it does the others: replication lag (a standby's replay delay in seconds, or a
-- primary's largest standby lag in bytes: only one of the two is set), the age of the last
-- archived WAL segment and of the last complete backup, in seconds. NULL: not known then.
alter table ops.metrics
    add column replay_lag_s      float8,
    add column replica_lag_bytes bigint,
    add column wal_age_s         float8,
    add column backup_age_s      float8;
