-- Environments, deploys with their timeline, approvals and environment pins.

create table environments (
    id                       bigserial primary key,
    name                     text not null,
    -- order in which the portal lists environments (development before production).
    position                 integer not null default 0,
    -- `{team}`, `{environment}` and `{service}` are replaced; the result must be a DNS-1123 label.
    namespace_pattern        text not null default '{team}-{environment}',
    -- a deploy waits for an administrator's approval before it is queued.
    requires_approval        boolean not null default false,
    -- a deploy fails before applying when a Secret key the spec references is missing.
    block_on_missing_secrets boolean not null default false,
    -- which cluster the environment targets; `default` is the one SLIPWAY_KUBECONFIG names
    -- (the only one this version of Slipway manages).
    cluster                  text not null default 'default',
    created_at               timestamptz not null default now(),
    updated_at               timestamptz not null default now(),
    constraint environments_name_key unique (name),
    -- `app.kubernetes.io/instance` is `{service}-{environment}` and stops at 63 characters;
    -- services may be 45 long, so environments stay at 17.
    constraint environments_name_format check (name ~ '^[a-z0-9]([-a-z0-9]{0,15}[a-z0-9])?$'),
    constraint environments_namespace_pattern_nonempty check (length(namespace_pattern) between 1 and 200)
);

-- The three default environments are configuration every installation starts with
-- (the spec's `environments:` overrides name them), not demo data.
insert into environments (name, position, requires_approval, block_on_missing_secrets) values
    ('development', 1, false, false),
    ('staging',     2, false, false),
    ('production',  3, true,  true);

create table deploys (
    id               bigserial primary key,
    service_id       bigint not null references services (id) on delete cascade,
    environment_id   bigint not null references environments (id) on delete restrict,
    -- the revision deployed, by number (for people) and by row (for integrity).
    revision         integer not null,
    revision_id      bigint not null references service_revisions (id) on delete restrict,
    -- the revision's content hash; approvals are bound to it.
    revision_hash    text not null,
    image            text not null,
    -- the namespace rendered into, from the environment's pattern at request time.
    namespace        text not null,
    state            text not null default 'requested',
    -- why the deploy failed, was rejected or superseded; empty otherwise.
    reason           text not null default '',
    trigger          text not null,
    -- who asked: a user (kept as text after the user is gone), `webhook:<id>` or `system`.
    requested_by_id  bigint references users (id) on delete set null,
    requested_by     text not null,
    -- for a rollback: the deploy whose revision and image it restores.
    rollback_of      bigint references deploys (id) on delete set null,
    -- the rendered objects as multi-document YAML (Secret references only, never values)
    -- and their sha256: exactly what the worker applies.
    manifests        text not null default '',
    manifests_hash   text not null default '',
    -- unified diff of the server-side dry run against what was live, before applying.
    diff             text,
    -- the worker holding the deploy (a per-process uuid) and until when; a lease that
    -- runs out means the worker died, and another worker takes the deploy over.
    lease_owner      uuid,
    lease_expires_at timestamptz,
    attempts         integer not null default 0,
    created_at       timestamptz not null default now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    updated_at       timestamptz not null default now(),
    constraint deploys_state check (state in ('requested', 'awaiting_approval', 'queued', 'applying',
        'progressing', 'succeeded', 'failed', 'rejected', 'superseded')),
    constraint deploys_trigger check (trigger in ('user', 'webhook', 'rollback')),
    constraint deploys_lease check ((lease_owner is null) = (lease_expires_at is null))
);
-- Latest deploy per (service, environment): the catalog's `distinct on` and the history pages.
create index deploys_service_id_environment_id_id_idx on deploys (service_id, environment_id, id desc);
-- The cross-service history, newest first.
create index deploys_created_at_idx on deploys (created_at desc);
-- The worker's claim query scans only queued deploys, oldest first.
create index deploys_queued_idx on deploys (id) where state = 'queued';
-- The worker's lease sweep scans only running deploys.
create index deploys_running_lease_idx on deploys (lease_expires_at) where state in ('applying', 'progressing');
-- One deploy at a time per service and environment, enforced by the database itself:
-- two workers racing for two queued deploys of one pair cannot both win.
create unique index deploys_one_running_key on deploys (service_id, environment_id)
    where state in ('applying', 'progressing');
create index deploys_rollback_of_idx on deploys (rollback_of) where rollback_of is not null;

-- Every state change of a deploy, with time and actor: the deploy page's timeline.
create table deploy_events (
    id         bigserial primary key,
    deploy_id  bigint not null references deploys (id) on delete cascade,
    from_state text,
    to_state   text not null,
    actor      text not null,
    message    text not null default '',
    created_at timestamptz not null default now()
);
create index deploy_events_deploy_id_idx on deploy_events (deploy_id, id);

-- An administrator's decision on a deploy, bound to the exact revision and image decided on.
create table approvals (
    id            bigserial primary key,
    deploy_id     bigint not null references deploys (id) on delete cascade,
    user_id       bigint references users (id) on delete set null,
    approver      text not null,
    decision      text not null,
    comment       text not null default '',
    revision_hash text not null,
    image         text not null,
    created_at    timestamptz not null default now(),
    constraint approvals_deploy_id_user_id_key unique (deploy_id, user_id),
    constraint approvals_decision check (decision in ('approve', 'reject'))
);

-- A rollback pins its service in its environment: automatic deploys (webhooks) are held
-- until a person unpins it, so the next push does not silently undo the rollback.
create table environment_pins (
    id              bigserial primary key,
    service_id      bigint not null references services (id) on delete cascade,
    environment_id  bigint not null references environments (id) on delete cascade,
    deploy_id       bigint references deploys (id) on delete set null,
    pinned_by       text not null,
    reason          text not null default '',
    created_at      timestamptz not null default now(),
    unpinned_at     timestamptz,
    unpinned_by     text
);
-- At most one active pin per service and environment; old pins stay as history.
create unique index environment_pins_active_key on environment_pins (service_id, environment_id)
    where unpinned_at is null;
