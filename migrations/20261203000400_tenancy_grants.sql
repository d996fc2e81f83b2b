-- Tenancy grants (docs/exposure.md): which public hosts a team may serve, which
-- Service types that reach outside the cluster it may use, which Ingress
-- annotations any spec may carry, which DNS zones count as internal, and which
-- (host, path) pairs each service holds.

-- A DNS suffix a team may serve Ingress hosts under: the suffix itself and any
-- name below it. Wildcard hosts (`*.x`) only when `wildcard` is set.
create table host_grants (
    id              bigserial primary key,
    team_id         bigint not null references teams (id) on delete cascade,
    -- null: every environment
    environment_id  bigint references environments (id) on delete cascade,
    -- lower case, no leading dot or `*.`
    suffix          text not null,
    wildcard        boolean not null default false,
    created_by      text not null,
    created_at      timestamptz not null default now(),
    constraint host_grants_suffix check (suffix ~ '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$' and length(suffix) <= 253)
);
-- One grant per team, environment (or all) and suffix.
create unique index host_grants_key on host_grants (team_id, coalesce(environment_id, 0), suffix);

-- A Service type beyond ClusterIP that a team may use in one environment.
create table exposure_grants (
    id               bigserial primary key,
    team_id          bigint not null references teams (id) on delete cascade,
    environment_id   bigint not null references environments (id) on delete cascade,
    service_type     text not null,
    -- whether specs may pick fixed nodePort numbers (they squat ports on every node)
    fixed_node_ports boolean not null default false,
    created_by       text not null,
    created_at       timestamptz not null default now(),
    constraint exposure_grants_type check (service_type in ('NodePort', 'LoadBalancer')),
    constraint exposure_grants_key unique (team_id, environment_id, service_type)
);

-- The Ingress annotation allow-list: a key (or key prefix) and an anchored
-- regular expression its value must match as a whole. Keys that are never
-- allowed (cert-manager.io/, slipway.dev/, snippets, auth, LB groups) are
-- refused by the spec validator whatever this table says.
create table annotation_rules (
    id             bigserial primary key,
    key            text not null,
    is_prefix      boolean not null default false,
    value_pattern  text not null,
    created_by     text not null,
    created_at     timestamptz not null default now(),
    constraint annotation_rules_key unique (key, is_prefix)
);

-- DNS zones an ExternalName may not point into, beyond the built-in ones
-- (`svc`, `cluster.local`, `internal`, `localhost`, …).
create table internal_zones (
    id          bigserial primary key,
    zone        text not null,
    created_by  text not null,
    created_at  timestamptz not null default now(),
    constraint internal_zones_zone_key unique (zone)
);

-- The (host, path) pairs a service's Ingress routes in an environment. Written
-- in the deploy request's transaction (under an advisory lock per host), and
-- replaced by the service's next deploy request to that environment, which
-- drops the pairs it no longer routes. Another service asking for a pair held
-- here is refused with the holder's name.
create table host_claims (
    id              bigserial primary key,
    host            text not null,
    path            text not null,
    service_id      bigint not null references services (id) on delete cascade,
    environment_id  bigint not null references environments (id) on delete cascade,
    deploy_id       bigint references deploys (id) on delete set null,
    created_at      timestamptz not null default now(),
    constraint host_claims_key unique (host, path, service_id, environment_id)
);
create index host_claims_host on host_claims (host);
