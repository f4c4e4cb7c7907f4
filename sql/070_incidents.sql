-- Incidents (midsops incident, incident-status; src/maint/incident.c): the runbook's
-- severity levels, its contact list's escalations and the notes of the response.
-- One incident is open at a time: the partial unique index refuses a second even when two
-- operators start one at the same moment.
create table if not exists ops.incidents (
    id           bigserial primary key,
    severity     text not null check (severity in ('S1', 'S2', 'S3', 'S4')),
    title        text not null check (title <> ''),
    opened_at    timestamptz not null default clock_timestamp(),
    opened_by    text not null,
    -- When the response is due: opened_at plus the severity's response time, kept as it
    -- was when the incident opened.
    respond_by   timestamptz not null,
    -- The first note: someone is on it.
    responded_at timestamptz,
    closed_at    timestamptz,
    closed_by    text,
    report_path  text,
    check (closed_at is null or closed_at >= opened_at)
);
create unique index if not exists incidents_one_open on ops.incidents ((true))
    where closed_at is null;
create index if not exists incidents_opened_at on ops.incidents (opened_at);

create table if not exists ops.incident_notes (
    id          bigserial primary key,
    incident_id bigint not null references ops.incidents (id) on delete cascade,
    at          timestamptz not null default clock_timestamp(),
    author      text not null,
    body        text not null check (body <> '')
);
create index if not exists incident_notes_incident on ops.incident_notes (incident_id, at);

-- Which contact was notified, when, and how it went. The key makes each contact fire once
-- per incident: the run that inserts the row is the one that notifies.
create table if not exists ops.incident_escalations (
    incident_id bigint not null references ops.incidents (id) on delete cascade,
    contact     text not null,
    after_s     int not null check (after_s >= 0),
    fired_at    timestamptz not null default clock_timestamp(),
    delivered   boolean,
    outcome     text,
    primary key (incident_id, contact)
);
