-- Wizard runs and their steps: who did what, when, with what outcome. A run recorded
-- offline (database unreachable) is synced in later by its local_id.
create table if not exists ops.wizard_runs (
    id           bigserial primary key,
    local_id     text not null unique,
    runbook      text not null,
    title        text not null,
    operator     text not null,
    host         text not null,
    status       text not null check (status in ('running', 'paused', 'done', 'failed', 'aborted')),
    reason       text,
    started_at   timestamptz not null,
    ended_at     timestamptz,
    updated_at   timestamptz not null default now(),
    current_step text,
    worst        int not null default 0,
    offline      boolean not null default false,
    version      int not null default 0,
    driver_host  text,
    driver_pid   int,
    state        jsonb not null
);
create index if not exists wizard_runs_started on ops.wizard_runs (started_at desc);

create table if not exists ops.wizard_steps (
    run_id         bigint not null references ops.wizard_runs (id) on delete cascade,
    seq            int not null,
    step_id        text not null,
    section        text,
    kind           text not null,
    title          text not null,
    started_at     timestamptz not null,
    ended_at       timestamptz,
    outcome        text not null,
    exit_status    int,
    output_excerpt text,
    reason         text,
    detail         text,
    actor          text,
    primary key (run_id, seq)
);
