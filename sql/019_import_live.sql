-- Whether a run is alive is decided by the one-import lock (IMPORT_LOCK_KEY, 7013370001 =
-- classid 1, objid 2718402705), not by the state column: a process killed with -9 never
-- writes its end, and its row would say 'running' for ever. The lock goes with the session.
create or replace function ops.import_lock_held() returns boolean
language sql stable as $$
  select exists (select 1 from pg_locks
                  where locktype = 'advisory' and granted
                    and database = (select oid from pg_database where datname = current_database())
                    and classid = 1 and objid = 2718402705 and objsubid = 1) $$;

-- ops.import_runs as readers must see it: a 'running' or 'stopping' run whose lock is free
-- is 'interrupted' (import-resume finishes it). Writers keep using ops.import_runs.
create or replace view ops.import_runs_seen as
select r.id, r.kind, r.source_dir,
       case when r.state in ('running', 'stopping') and not ops.import_lock_held()
            then 'interrupted' else r.state end as state,
       r.phase, r.host, r.pid, r.backend_pid, r.options, r.started_at, r.updated_at,
       r.finished_at, r.files_total, r.files_done, r.bytes_total, r.bytes_done,
       r.records_total, r.records_done, r.rate, r.eta_s, r.errors, r.warnings,
       r.stop_requested, r.generation, r.summary, r.message
  from ops.import_runs r;
