-- The operator's way to cancel or terminate one client backend (midsops session-cancel,
-- session-terminate, and the console's sessions view), without pg_signal_backend, which
-- db-roles takes back. SECURITY DEFINER runs as the schema's owner; a superuser's session
-- may only be signalled by a superuser, and no one signals the session asking. It says what
-- it found (the backend's user, database, application, state and query) so the caller can
-- record what it stopped, and who asked (login); refused says why it did not, NULL when it
-- signalled.
create or replace function ops.session_signal(target int, terminate boolean default false,
                                              out backend boolean, out signalled boolean,
                                              out user_name text, out db_name text,
                                              out app text, out state text, out query text,
                                              out refused text, out login text)
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
declare
  su boolean;
begin
  backend := false;
  signalled := false;
  login := session_user;
  select true, a.usename::text, a.datname::text, a.application_name, a.state, a.query,
         coalesce(r.rolsuper, false)
    into backend, user_name, db_name, app, state, query, su
    from pg_stat_activity a left join pg_roles r on r.oid = a.usesysid
   where a.pid = target and a.backend_type = 'client backend';
  if backend is not true then
    backend := false;
    refused := 'not a client backend of this cluster';
    return;
  end if;
  if target = pg_backend_pid() then
    refused := 'this is the session asking';
    return;
  end if;
  if su and not (select rolsuper from pg_roles where rolname = session_user) then
    refused := 'a superuser''s session: only a superuser may signal it';
    return;
  end if;
  signalled := case when terminate then pg_terminate_backend(target)
                    else pg_cancel_backend(target) end;
end $$;
revoke all on function ops.session_signal(int, boolean) from public;
