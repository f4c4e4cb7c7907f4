-- Retention of import history (history-prune, src/import/prune.c).
-- A rollback to generation G rebuilds it from the saved versions of every later generation
-- (game.history where generation > G). history-prune keeps the newest keep_generations
-- generations: the saved versions of the oldest kept one and of everything before it are
-- deleted, and those generations are marked here. Their ops.import_generations rows stay
-- (a few hundred bytes each): validate-all-data sums their counts against the game tables.
alter table ops.import_generations add column if not exists history_pruned_at timestamptz;

-- The oldest generation a rollback can still rebuild exactly; 0 while nothing was pruned.
create or replace function ops.rollback_floor() returns int
language sql stable as $$
  select coalesce(max(generation), 0) from ops.import_generations
   where history_pruned_at is not null $$;

-- A rollback to a generation before the floor would stage what is left of the history and
-- silently promote a record set that never existed. The rollback records its run while it
-- holds the import lock, which history-prune also takes, so this check cannot race a prune;
-- it refuses older midsops binaries too. SQLSTATE MH001.
create or replace function ops.import_runs_refuse_pruned() returns trigger
language plpgsql as $$
declare
  fl int := ops.rollback_floor();
  target int := (new.options->>'to')::int;
begin
  if fl > 0 and target is not null and target < fl then
    raise exception 'generation % can no longer be restored: history-prune removed its saved versions; the oldest generation a rollback can restore is %', target, fl
      using errcode = 'MH001';
  end if;
  return new;
end $$;

drop trigger if exists import_runs_refuse_pruned on ops.import_runs;
create trigger import_runs_refuse_pruned before insert on ops.import_runs
  for each row when (new.kind = 'rollback') execute function ops.import_runs_refuse_pruned();
