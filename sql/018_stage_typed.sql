-- Typed staging: the importer already holds every document parsed, so it sends the typed
-- columns with the raw text, and promote copies values instead of pulling them out of
-- jsonb again on the server (most of promote's time went there).
--   stage.records.f   the typed top-level columns of a record, in the order promote's
--                     table lists them (text, cast by promote)
--   stage.effects     one row per effects[i] of a staged power
--   stage.templates   one row per effects[i].templates[j]
-- batch numbers the staging transaction a row came in, so promote can take the staged
-- rows batch by batch while staging goes on (null: staged by the server).
alter table stage.records add column if not exists f text[];
alter table stage.records add column if not exists batch int;

create unlogged table stage.effects (
    run_id              bigint not null,
    batch               int,
    key                 text not null, -- the power's natural key
    idx                 int not null,
    chance              float8,
    ppm                 float8,
    delay               float8,
    is_pvp              text,
    requires_expression text,
    template_count      int not null
);

create unlogged table stage.templates (
    run_id           bigint not null,
    batch            int,
    key              text not null, -- the power's natural key
    effect_idx       int not null,
    idx              int not null,
    attribs          text[],
    type             text,
    application_type text,
    aspect           text,
    target           text,
    table_name       text,
    scale            float8,
    magnitude        float8,
    duration         text
);

-- An effect's source record is effects[idx] of its power's raw, as a template's is
-- effects[idx].templates[j] (017): it is no longer stored a second time. The view gives
-- every effect its source record for readers that want it.
alter table game.power_effects add column if not exists template_count int;
update game.power_effects set template_count = jsonb_array_length(game.j_arr(raw->'templates'))
 where raw is not null;
alter table game.power_effects alter column raw drop not null;
update game.power_effects set raw = null where raw is not null;

create or replace view game.power_effects_source as
select e.id, e.power_id, e.idx, p.raw->'effects'->e.idx as raw
  from game.power_effects e join game.powers p on p.id = e.power_id;

-- Text arrays keep string elements; anything else in them is null. The importer applies
-- the same rule on its side (src/import/typed.c), and rollback uses this one.
create or replace function game.j_txtarr(j jsonb) returns text[]
language sql immutable parallel safe as $$
  select case when jsonb_typeof(j) = 'array'
         then array(select case when jsonb_typeof(e) = 'string' then e #>> '{}' end
                    from jsonb_array_elements(j) e) end $$;
