-- Helpers for promote, and cheaper compression of the large raw documents.
create or replace function game.j_arr(j jsonb) returns jsonb
language sql immutable parallel safe as $$
  select case when jsonb_typeof(j) = 'array' then j else '[]'::jsonb end $$;
create or replace function game.j_obj(j jsonb) returns jsonb
language sql immutable parallel safe as $$
  select case when jsonb_typeof(j) = 'object' then j else '{}'::jsonb end $$;

-- lz4 compresses the 120 MB of raw documents several times faster than pglz; a server
-- built without it keeps the default.
do $$
declare r record;
begin
  for r in select c.table_schema, c.table_name from information_schema.columns c
           where c.table_schema in ('game', 'stage') and c.column_name = 'raw' loop
    begin
      execute format('alter table %I.%I alter column raw set compression lz4',
                     r.table_schema, r.table_name);
    exception when others then
      null;
    end;
  end loop;
end $$;
