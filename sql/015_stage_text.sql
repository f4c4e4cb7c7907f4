-- Staging lookups go by (run, kind, key).
drop index if exists stage.records_run_kind;
create index if not exists records_run_kind_key on stage.records (run_id, kind, key);
-- Lengths of the nested lists, so promote removes surplus children without re-reading
-- every parent document.
alter table game.powers add column if not exists effect_count int;
alter table game.enhancement_sets add column if not exists bonus_count int;
alter table game.tags add column if not exists bears_count int;
alter table game.tags add column if not exists affects_count int;
alter table game.exclusion_groups add column if not exists member_count int;
alter table game.recharge_groups add column if not exists member_count int;
create index if not exists history_gen_kind on game.history (generation, kind);
