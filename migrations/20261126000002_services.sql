-- Services and their immutable, numbered spec revisions.

create table services (
    id               bigserial primary key,
    team_id          bigint not null references teams (id) on delete restrict,
    name             text not null,
    -- denormalised from the current revision for the catalog's filters.
    kind             text not null,
    framework        text not null default '',
    current_revision integer not null default 0,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    constraint services_team_id_name_key unique (team_id, name),
    constraint services_name_format check (name ~ '^[a-z0-9]([-a-z0-9]{0,43}[a-z0-9])?$'),
    constraint services_kind check (kind in ('web', 'worker', 'cron', 'stateful'))
);
create index services_name_idx on services (name);
create index services_kind_idx on services (kind);

create table service_revisions (
    id         bigserial primary key,
    service_id bigint not null references services (id) on delete cascade,
    number     integer not null,
    -- the text as the author wrote it (comments kept) and the parsed spec.
    spec_yaml  text not null,
    spec       jsonb not null,
    -- sha256 of the canonical JSON of the spec: equal specs, equal hashes.
    hash       text not null,
    author_id  bigint references users (id) on delete set null,
    author     text not null,
    message    text not null default '',
    created_at timestamptz not null default now(),
    constraint service_revisions_service_id_number_key unique (service_id, number)
);

-- Revisions are history: never rewritten, only appended (a service's deletion cascades).
create function service_revisions_refuse_update() returns trigger language plpgsql as $$
begin
    raise exception 'service revisions are immutable' using errcode = 'insufficient_privilege';
end;
$$;
create trigger service_revisions_no_update before update on service_revisions
    for each row execute function service_revisions_refuse_update();
