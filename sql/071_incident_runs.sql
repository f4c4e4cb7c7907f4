-- Wizard runs attached to an incident: a run started while an incident is open belongs to
-- it, so the incident's report lists the steps taken and their outcomes. The store sets it
-- when the run first reaches the database (src/runbook/store.c), from the run's start time,
-- so a run recorded offline and synced later attaches to the incident open when it began.
alter table ops.wizard_runs
    add column if not exists incident_id bigint references ops.incidents (id) on delete set null;
create index if not exists wizard_runs_incident on ops.wizard_runs (incident_id)
    where incident_id is not null;
