-- Cheaper tolerant casts: promote evaluates them a few hundred thousand times. Numbers
-- outside the double range are rejected by the importer before they get here.
create or replace function game.j_num(j jsonb) returns float8
language sql immutable parallel safe as $$
  select case when jsonb_typeof(j) = 'number' then (j)::float8 end $$;
create or replace function game.j_int(j jsonb) returns int
language sql immutable parallel safe as $$
  select case when jsonb_typeof(j) = 'number' and abs((j)::float8) < 2147483647
         then round((j)::float8)::int end $$;
create or replace function game.j_txtarr(j jsonb) returns text[]
language sql immutable parallel safe as $$
  select case when jsonb_typeof(j) = 'array'
         then array(select jsonb_array_elements_text(j)) end $$;
