-- A template's source record is already part of its effect's raw (effects[].templates[]),
-- so it is no longer stored a second time: checksums and readers derive it from there.
-- Writing every template's jsonb again was a large part of promote.
alter table game.effect_templates alter column raw drop not null;
update game.effect_templates set raw = null where raw is not null;
