-- Core: the five schemas, the schema version and the event journal.
create schema if not exists game;
create schema if not exists builds;
create schema if not exists ops;
create schema if not exists cache;
create schema if not exists stage;

create table if not exists ops.schema_version (
    version    int primary key,
    name       text not null,
    applied_at timestamptz not null default now()
);

create table if not exists ops.events (
    id       bigserial primary key,
    at       timestamptz not null default now(),
    level    text not null check (level in ('debug', 'info', 'warning', 'error')),
    source   text not null,
    message  text not null,
    host     text,
    pid      int,
    run_id   bigint
);
create index if not exists events_at on ops.events (at);
create index if not exists events_level_at on ops.events (level, at);

create extension if not exists pg_stat_statements;
