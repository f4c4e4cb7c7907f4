-- The read-through cache behind the api functions. Everything here is UNLOGGED: the cache
-- can be rebuilt, so it needs no WAL and no RPO.
--
-- Counting never serialises readers: a read updates only rows of its own shard
-- (pg_backend_pid() % 64), per key prefix (cache.counters) and per key (cache.entry_hits);
-- figures are sums over the shards. cache.fold() moves per-key shard hits into
-- cache.entries.hits/last_hit during maintenance.
--
-- Invalidation is by generation stamp: each entry records cache.generation() (the newest
-- ops.import_generations row) when it was stored, and a read of an entry from an older
-- generation is a miss. A promote that commits its generation row therefore invalidates
-- the whole cache atomically, with no extra call; cache.invalidate(prefix) is there for
-- targeted or explicit invalidation.

create table cache.settings (
    id          int primary key default 1 check (id = 1),
    max_entries bigint not null default 100000 check (max_entries > 0),
    max_bytes   bigint not null default 268435456 check (max_bytes > 0),
    ttl_s       int not null default 3600 check (ttl_s > 0),
    updated_at  timestamptz not null default now()
);
insert into cache.settings default values on conflict do nothing;

create unlogged table cache.entries (
    key        text primary key,
    prefix     text not null,
    value      jsonb not null,
    generation int not null,
    bytes      int not null,
    created    timestamptz not null default now(),
    expires    timestamptz not null,
    hits       bigint not null default 0,
    last_hit   timestamptz
);
create index entries_expires on cache.entries (expires);

create unlogged table cache.entry_hits (
    key      text not null,
    shard    int not null,
    hits     bigint not null default 0,
    last_hit timestamptz not null,
    primary key (key, shard)
);

-- Event counters and size deltas per prefix and shard; entries/bytes are kept by the
-- statement triggers below, so the size check on a store sums a few hundred small rows
-- instead of scanning the cache.
create unlogged table cache.counters (
    prefix        text not null,
    shard         int not null,
    hits          bigint not null default 0,
    misses        bigint not null default 0,
    expiries      bigint not null default 0,
    evictions     bigint not null default 0,
    invalidations bigint not null default 0,
    stores        bigint not null default 0,
    entries       bigint not null default 0,
    bytes         bigint not null default 0,
    primary key (prefix, shard)
);

create or replace function cache.shard() returns int
language plpgsql stable parallel safe as $$ begin return pg_backend_pid() % 64; end $$;

create or replace function cache.generation() returns int
language plpgsql stable as $$
begin
    return coalesce((select max(generation) from ops.import_generations), 0);
end $$;

create or replace function cache.size_ins() returns trigger language plpgsql as $$
begin
    insert into cache.counters as c (prefix, shard, entries, bytes)
    select prefix, cache.shard(), count(*), sum(bytes) from new_rows group by prefix
    on conflict (prefix, shard) do update
        set entries = c.entries + excluded.entries, bytes = c.bytes + excluded.bytes;
    return null;
end $$;

create or replace function cache.size_del() returns trigger language plpgsql as $$
begin
    insert into cache.counters as c (prefix, shard, entries, bytes)
    select prefix, cache.shard(), -count(*), -sum(bytes) from old_rows group by prefix
    on conflict (prefix, shard) do update
        set entries = c.entries + excluded.entries, bytes = c.bytes + excluded.bytes;
    delete from cache.entry_hits h using old_rows o where h.key = o.key;
    return null;
end $$;

create or replace function cache.size_upd() returns trigger language plpgsql as $$
begin
    insert into cache.counters as c (prefix, shard, entries, bytes)
    select prefix, cache.shard(), sum(n), sum(b) from (
        select prefix, 1 as n, bytes as b from new_rows
        union all select prefix, -1, -bytes from old_rows) d
    group by prefix
    on conflict (prefix, shard) do update
        set entries = c.entries + excluded.entries, bytes = c.bytes + excluded.bytes;
    return null;
end $$;

create trigger entries_size_ins after insert on cache.entries
    referencing new table as new_rows for each statement execute function cache.size_ins();
create trigger entries_size_del after delete on cache.entries
    referencing old table as old_rows for each statement execute function cache.size_del();
create trigger entries_size_upd after update on cache.entries
    referencing old table as old_rows new table as new_rows
    for each statement execute function cache.size_upd();

create or replace function cache.count(p_prefix text, p_what text, p_n bigint default 1)
returns bigint language plpgsql as $$
begin
    if p_n = 0 then return 0; end if;
    execute format('insert into cache.counters as c (prefix, shard, %1$I) values ($1, $2, $3)
                    on conflict (prefix, shard) do update set %1$I = c.%1$I + excluded.%1$I',
                   p_what)
        using p_prefix, cache.shard(), p_n;
    return p_n;
end $$;

-- A read: the value, or NULL on a miss (missing, expired or from an older generation).
-- SQL-language helpers that are not inlined are planned again on every call, which cost
-- more than the whole hit; plpgsql keeps its plans per session. A hit updates its own
-- shard rows with plain UPDATEs (an upsert only the first time a backend meets a key).
create or replace function cache.get(p_key text, p_prefix text) returns jsonb
language plpgsql as $$
declare
    v jsonb; exp timestamptz; gen int; cur int; s int := pg_backend_pid() % 64;
begin
    select value, expires, generation into v, exp, gen from cache.entries where key = p_key;
    cur := coalesce((select max(generation) from ops.import_generations), 0);
    if v is not null and exp > now() and gen = cur then
        update cache.entry_hits set hits = hits + 1, last_hit = now()
        where key = p_key and shard = s;
        if not found then
            insert into cache.entry_hits as h (key, shard, hits, last_hit)
            values (p_key, s, 1, now())
            on conflict (key, shard) do update set hits = h.hits + 1, last_hit = excluded.last_hit;
        end if;
        update cache.counters set hits = hits + 1 where prefix = p_prefix and shard = s;
        if not found then
            insert into cache.counters as c (prefix, shard, hits) values (p_prefix, s, 1)
            on conflict (prefix, shard) do update set hits = c.hits + 1;
        end if;
        return v;
    end if;
    insert into cache.counters as c (prefix, shard, misses, expiries, invalidations)
    values (p_prefix, s, 1, (v is not null and exp <= now())::int,
            (v is not null and exp > now() and gen <> cur)::int)
    on conflict (prefix, shard) do update
        set misses = c.misses + 1, expiries = c.expiries + excluded.expiries,
            invalidations = c.invalidations + excluded.invalidations;
    return null;
end $$;

-- Remove least recently used entries down to 90% of the limits. One evictor at a time;
-- a store that finds another one running leaves the work to it.
create or replace function cache.evict() returns bigint language plpgsql as $$
declare
    st cache.settings; n bigint := 0; cur_n bigint; cur_b bigint;
begin
    if not pg_try_advisory_xact_lock(hashtext('midsops cache evict')) then
        return 0;
    end if;
    select * into st from cache.settings where id = 1;
    select coalesce(sum(entries), 0), coalesce(sum(bytes), 0) into cur_n, cur_b from cache.counters;
    if cur_n <= st.max_entries and cur_b <= st.max_bytes then
        return 0;
    end if;
    with ranked as (
        select e.key, e.prefix, e.bytes,
               greatest(e.last_hit, h.last_hit, e.created) as used
        from cache.entries e
        left join (select key, max(last_hit) as last_hit from cache.entry_hits group by key) h
          using (key)
    ), ordered as (
        select key, prefix,
               count(*) over w as n_cum, sum(bytes) over w as b_cum
        from ranked window w as (order by used desc, key rows unbounded preceding)
    ), gone as (
        delete from cache.entries e using ordered o
        where e.key = o.key
          and (o.n_cum > st.max_entries * 0.9 or o.b_cum > st.max_bytes * 0.9)
        returning e.prefix
    )
    select coalesce(sum(k), 0) into n from (
        select cache.count(prefix, 'evictions', count(*)) as k from gone group by prefix) t;
    return n;
end $$;

-- p_gen is the generation read BEFORE the value was computed: a promote that commits in
-- between then leaves the entry stamped old (a harmless extra miss), never a stale value
-- stamped new.
create or replace function cache.put(p_key text, p_prefix text, p_value jsonb,
                                     p_gen int default null) returns jsonb
language plpgsql as $$
declare
    st cache.settings; cur_n bigint; cur_b bigint;
begin
    select * into st from cache.settings where id = 1;
    insert into cache.entries as e (key, prefix, value, generation, bytes, created, expires)
    values (p_key, p_prefix, p_value, coalesce(p_gen, cache.generation()),
            pg_column_size(p_value), now(),
            now() + make_interval(secs => st.ttl_s))
    on conflict (key) do update
        set value = excluded.value, generation = excluded.generation, bytes = excluded.bytes,
            created = excluded.created, expires = excluded.expires, hits = 0, last_hit = null;
    perform cache.count(p_prefix, 'stores');
    select coalesce(sum(entries), 0), coalesce(sum(bytes), 0) into cur_n, cur_b from cache.counters;
    if cur_n > st.max_entries or cur_b > st.max_bytes then
        perform cache.evict();
    end if;
    return p_value;
end $$;

-- Move per-shard hit counts into the entries (maintenance; readers never wait on it
-- for longer than one small delete).
create or replace function cache.fold() returns bigint language plpgsql as $$
declare n bigint;
begin
    with d as (delete from cache.entry_hits returning key, hits, last_hit),
    s as (select key, sum(hits) as hits, max(last_hit) as last_hit from d group by key)
    update cache.entries e set hits = e.hits + s.hits,
                               last_hit = greatest(e.last_hit, s.last_hit)
    from s where e.key = s.key;
    get diagnostics n = row_count;
    return n;
end $$;

create or replace function cache.cleanup() returns bigint language plpgsql as $$
declare n bigint := 0;
begin
    with gone as (
        delete from cache.entries
        where expires <= now() or generation <> cache.generation()
        returning prefix, expires <= now() as expired)
    select coalesce(sum(k), 0) into n from (
        select cache.count(prefix, 'expiries', count(*) filter (where expired))
             + cache.count(prefix, 'invalidations', count(*) filter (where not expired)) as k
        from gone group by prefix) t;
    return n;
end $$;

-- Drop entries whose key starts with p_prefix (NULL: all). Returns the number dropped.
-- The import engine may call this in its promote transaction; the generation stamp
-- already makes a promoted generation invalidate everything.
create or replace function cache.invalidate(p_prefix text default null) returns bigint
language plpgsql as $$
declare n bigint := 0;
begin
    with gone as (
        delete from cache.entries
        where p_prefix is null or starts_with(key, p_prefix)
        returning prefix)
    select coalesce(sum(k), 0) into n from (
        select cache.count(prefix, 'invalidations', count(*)) as k from gone group by prefix) t;
    return n;
end $$;

-- Empties the cache and resets the counters.
create or replace function cache.clear() returns bigint language plpgsql as $$
declare n bigint;
begin
    delete from cache.entries;
    get diagnostics n = row_count;
    truncate cache.entry_hits, cache.counters;
    return n;
end $$;
