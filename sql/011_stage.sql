-- Staging: one UNLOGGED table fed by COPY, one row per source file. A crash empties it;
-- resume compares its rows with ops.import_files and stages again when they are gone.
create unlogged table stage.records (
    run_id bigint not null,
    kind   text not null,
    key    text not null,
    path   text not null,
    sha    text not null,
    raw    jsonb -- null: the file is unchanged from the current generation (not re-parsed)
);
create index records_run_kind on stage.records (run_id, kind);
