-- The one way midsops_operator signals other sessions: only the backends an import run
-- holds (its recorded pids, which must still be midsops import sessions of this database).
-- pg_signal_backend would let the operator cancel any non-superuser session of the whole
-- cluster; this lets it stop an import that another operator's login started. SECURITY
-- DEFINER runs as the schema's owner (the login that ran the migrations); plpgsql so the
-- body is checked when called, after ops.import_runs exists.
create or replace function ops.import_signal(run bigint, terminate boolean default false,
                                             out total int, out signalled int)
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
begin
  select count(*)::int,
         count(*) filter (where case when terminate then pg_terminate_backend(b.pid)
                                     else pg_cancel_backend(b.pid) end)::int
    into total, signalled
    from (select a.pid from pg_stat_activity a, ops.import_runs r
           where r.id = run and a.datname = current_database()
             and a.application_name like 'midsops import%'
             and a.pid = any (array_append(array(select jsonb_array_elements_text(
                   coalesce(r.options->'backend_pids', '[]')))::int[], r.backend_pid))) b;
end $$;
revoke all on function ops.import_signal(bigint, boolean) from public;
