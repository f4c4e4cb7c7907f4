-- The backup catalogue: a mirror of the repository (the repository is the source of truth
-- and works while the database is down). Progress of running backups and restores is
-- written here and announced with NOTIFY midsops_backup.
create table if not exists ops.backups (
    id            text primary key,
    type          text not null,
    status        text not null default 'running'
                  check (status in ('running', 'complete', 'failed', 'pruned')),
    environment   text,
    host          text,
    pid           int,
    started_at    timestamptz,
    finished_at   timestamptz,
    size_bytes    bigint,
    progress      float8,
    phase         text,
    message       text,
    verified_at   timestamptz,
    verify_ok     boolean,
    window_start  timestamptz,
    window_end    timestamptz,
    manifest      jsonb,
    updated_at    timestamptz not null default now()
);
create index if not exists backups_started on ops.backups (started_at);
