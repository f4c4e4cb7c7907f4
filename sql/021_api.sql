-- The web API's read functions (plpgsql, so each session plans them once). api.X(...) answers from cache.entries and computes through
-- api.X_uncached(...) on a miss. Unknown names are cached too (as JSON null) so a storm
-- of bad lookups does not reach the game tables; the functions return SQL NULL for them.
create schema if not exists api;

create or replace function api.power_uncached(p_full_name text) returns jsonb
language plpgsql stable as $$
begin
    return (
    select jsonb_build_object(
        'full_name', p.full_name, 'key', p.key, 'name', p.name,
        'display_name', p.display_name, 'type', p.type,
        'available_level', p.available_level, 'accuracy', p.accuracy,
        'endurance_cost', p.endurance_cost, 'recharge_time', p.recharge_time,
        'activation_time', p.activation_time, 'range', p.range, 'radius', p.radius,
        'arc', p.arc, 'max_targets_hit', p.max_targets_hit, 'max_boosts', p.max_boosts,
        'effect_area', p.effect_area, 'target_type', p.target_type,
        'retired', p.retired, 'generation', p.generation,
        'powerset', (select jsonb_build_object('key', ps.key, 'name', ps.name,
                                               'display_name', ps.display_name,
                                               'display_fullname', ps.display_fullname)
                     from game.powersets ps where ps.id = p.powerset_id),
        'archetypes', coalesce((select jsonb_agg(jsonb_build_object(
                                   'name', a.name, 'display_name', a.display_name) order by a.name)
                                from game.archetypes a where a.name = any (p.archetypes)),
                               '[]'::jsonb),
        'effects', coalesce((select jsonb_agg(jsonb_build_object(
                'idx', e.idx, 'chance', e.chance, 'ppm', e.ppm, 'delay', e.delay,
                'is_pvp', e.is_pvp, 'requires', e.requires_expression,
                'templates', coalesce((select jsonb_agg(jsonb_build_object(
                        'attribs', t.attribs, 'type', t.type,
                        'application_type', t.application_type, 'aspect', t.aspect,
                        'target', t.target, 'table', t.table_name, 'scale', t.scale,
                        'magnitude', t.magnitude, 'duration', t.duration) order by t.idx)
                    from game.effect_templates t where t.effect_id = e.id), '[]'::jsonb))
                order by e.idx)
            from game.power_effects e where e.power_id = p.id), '[]'::jsonb))
    from game.powers p
    where lower(p.key) = lower(p_full_name)
    );
end $$;

create or replace function api.powerset_powers_uncached(p_powerset text) returns jsonb
language plpgsql stable as $$
begin
    return (
    select jsonb_build_object(
        'key', ps.key, 'name', ps.name, 'display_name', ps.display_name,
        'display_fullname', ps.display_fullname,
        'powers', coalesce((select jsonb_agg(jsonb_build_object(
                'full_name', p.full_name, 'name', p.name, 'display_name', p.display_name,
                'type', p.type, 'available_level', p.available_level, 'retired', p.retired)
                order by p.available_level nulls last, p.name)
            from game.powers p where p.powerset_id = ps.id), '[]'::jsonb))
    from game.powersets ps
    where ps.key = lower(p_powerset)
    );
end $$;

create or replace function api.set_bonuses_uncached(p_set text) returns jsonb
language plpgsql stable as $$
begin
    return (
    select jsonb_build_object(
        'key', s.key, 'name', s.name, 'display_name', s.display_name,
        'group_name', s.group_name, 'min_level', s.min_level, 'max_level', s.max_level,
        'bonuses', coalesce((select jsonb_agg(jsonb_build_object(
                'idx', b.idx, 'min_boosts', b.min_boosts, 'max_boosts', b.max_boosts,
                'auto_powers', b.auto_powers, 'is_pvp', b.is_pvp) order by b.idx)
            from game.set_bonuses b where b.set_id = s.id), '[]'::jsonb),
        'enhancements', coalesce((select jsonb_agg(jsonb_build_object(
                'key', x.key, 'name', x.computed_name, 'boost_type', x.boost_type,
                'min_slot_level', x.min_slot_level, 'max_level', x.max_level)
                order by x.key)
            from game.enhancements x where x.set_id = s.id), '[]'::jsonb))
    from game.enhancement_sets s
    where s.key = p_set or lower(s.key) = lower(p_set) or lower(s.name) = lower(p_set)
    order by (s.key = p_set) desc, s.id
    limit 1
    );
end $$;

-- Substring search over display and full names; LIKE metacharacters in the text are
-- literal.
create or replace function api.search_powers_uncached(p_text text, p_limit int default 20)
returns jsonb language plpgsql stable as $$
begin
    return (
    select coalesce(jsonb_agg(r order by r->>'display_name', r->>'full_name'), '[]'::jsonb)
    from (select jsonb_build_object('full_name', p.full_name, 'display_name', p.display_name,
                                    'powerset', p.powerset_name,
                                    'available_level', p.available_level) as r
          from game.powers p
          where not p.retired
            and (p.display_name ilike '%' || replace(replace(replace(p_text, '\', '\\'), '%', '\%'), '_', '\_') || '%'
              or p.full_name ilike '%' || replace(replace(replace(p_text, '\', '\\'), '%', '\%'), '_', '\_') || '%')
          order by p.display_name, p.full_name
          limit greatest(1, least(p_limit, 200))) t
    );
end $$;

create or replace function api.power(p_full_name text) returns jsonb
language plpgsql as $$
declare v jsonb; k text := 'power:' || lower(p_full_name); g int;
begin
    v := cache.get(k, 'power');
    if v is null then
        g := cache.generation(); -- before computing: see cache.put
        v := cache.put(k, 'power', coalesce(api.power_uncached(p_full_name), 'null'::jsonb), g);
    end if;
    return nullif(v, 'null'::jsonb);
end $$;

create or replace function api.powerset_powers(p_powerset text) returns jsonb
language plpgsql as $$
declare v jsonb; k text := 'powerset:' || lower(p_powerset); g int;
begin
    v := cache.get(k, 'powerset');
    if v is null then
        g := cache.generation(); -- before computing: see cache.put
        v := cache.put(k, 'powerset',
                       coalesce(api.powerset_powers_uncached(p_powerset), 'null'::jsonb), g);
    end if;
    return nullif(v, 'null'::jsonb);
end $$;

create or replace function api.set_bonuses(p_set text) returns jsonb
language plpgsql as $$
declare v jsonb; k text := 'setbonus:' || lower(p_set); g int;
begin
    v := cache.get(k, 'setbonus');
    if v is null then
        g := cache.generation(); -- before computing: see cache.put
        v := cache.put(k, 'setbonus', coalesce(api.set_bonuses_uncached(p_set), 'null'::jsonb), g);
    end if;
    return nullif(v, 'null'::jsonb);
end $$;

create or replace function api.search_powers(p_text text, p_limit int default 20) returns jsonb
language plpgsql as $$
declare v jsonb; k text := 'search:' || p_limit || ':' || lower(p_text);
    g int;
begin
    v := cache.get(k, 'search');
    if v is null then
        g := cache.generation(); -- before computing: see cache.put
        v := cache.put(k, 'search', api.search_powers_uncached(p_text, p_limit), g);
    end if;
    return v;
end $$;

-- Pre-fill the hot set without counting misses: every powerset and set, powers by how
-- many builds use them (up to p_powers), and searches for the 200 most frequent words of
-- power names. Returns the entries stored.
create or replace function cache.warm(p_powers int default 100000) returns bigint
language plpgsql as $$
declare n bigint := 0; r record; g int := cache.generation();
begin
    for r in select key from game.powersets where not retired loop
        perform cache.put('powerset:' || lower(r.key), 'powerset',
                          coalesce(api.powerset_powers_uncached(r.key), 'null'::jsonb), g);
        n := n + 1;
    end loop;
    for r in select key from game.enhancement_sets where not retired loop
        perform cache.put('setbonus:' || lower(r.key), 'setbonus',
                          coalesce(api.set_bonuses_uncached(r.key), 'null'::jsonb), g);
        n := n + 1;
    end loop;
    for r in select p.key from game.powers p
             left join (select power_id, count(*) as uses from builds.build_powers
                        group by power_id) u on u.power_id = p.id
             where not p.retired
             order by u.uses desc nulls last, p.id
             limit greatest(p_powers, 0) loop
        perform cache.put('power:' || lower(r.key), 'power',
                          coalesce(api.power_uncached(r.key), 'null'::jsonb), g);
        n := n + 1;
    end loop;
    -- Searches: the most frequent words of power names are what people type.
    for r in select w from (select lower(w) as w, count(*) as c
                            from game.powers, regexp_split_to_table(display_name, '\s+') w
                            where not retired and length(w) >= 3 group by 1) t
             order by c desc, w limit 200 loop
        perform cache.put('search:20:' || r.w, 'search', api.search_powers_uncached(r.w, 20), g);
        n := n + 1;
    end loop;
    return n;
end $$;
