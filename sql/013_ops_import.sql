-- Import runs, their files and errors, and the generations they produced.
create table ops.import_runs (
    id             bigserial primary key,
    kind           text not null default 'import' check (kind in ('import', 'rollback')),
    source_dir     text,
    state          text not null default 'running'
                   check (state in ('running', 'stopping', 'stopped', 'failed', 'completed')),
    phase          text not null default 'scan',
    host           text,
    pid            int,
    backend_pid    int,
    options        jsonb not null default '{}',
    started_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now(),
    finished_at    timestamptz,
    files_total    int not null default 0,
    files_done     int not null default 0,
    bytes_total    bigint not null default 0,
    bytes_done     bigint not null default 0,
    records_total  bigint not null default 0,
    records_done   bigint not null default 0,
    rate           float8,
    eta_s          float8,
    errors         int not null default 0,
    warnings       int not null default 0,
    stop_requested boolean not null default false,
    generation     int,
    summary        jsonb,
    message        text
);
create index import_runs_state on ops.import_runs (state);

create table ops.import_files (
    run_id    bigint not null references ops.import_runs (id) on delete cascade,
    path      text not null,
    size      bigint not null,
    sha256    text not null,
    records   int not null default 1,
    committed_at timestamptz not null default now(),
    primary key (run_id, path)
);

create table ops.import_errors (
    id        bigserial primary key,
    run_id    bigint references ops.import_runs (id) on delete cascade,
    at        timestamptz not null default now(),
    severity  text not null default 'error' check (severity in ('error', 'warning')),
    path      text,
    json_path text,
    code      text not null,
    message   text not null
);
create index import_errors_at on ops.import_errors (at);
create index import_errors_run on ops.import_errors (run_id);

create table ops.import_generations (
    generation int primary key,
    run_id     bigint references ops.import_runs (id) on delete set null,
    kind       text not null,
    previous   int,
    created_at timestamptz not null default now(),
    counts     jsonb
);
