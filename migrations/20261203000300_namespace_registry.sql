-- Which team and environment own each namespace Slipway deploys into. A row is
-- written in the transaction that first resolves the namespace (a deploy
-- request, the demo seed), and from then on the namespace belongs to that
-- pair: a deploy of any other (team, environment) into it is refused, and a
-- pattern or team that would give it to another pair is refused when saved.
create table namespaces (
    name            text primary key,
    team_id         bigint not null references teams (id) on delete cascade,
    environment_id  bigint not null references environments (id) on delete cascade,
    created_at      timestamptz not null default now()
);

create index namespaces_team_environment on namespaces (team_id, environment_id);

-- Namespaces no pattern may give, kept by administrators (besides the built-in
-- rule: `default`, `kube-*`). `slipway serve` and `run` add Slipway's own
-- namespace (SLIPWAY_OWN_NAMESPACE) at start.
create table reserved_namespaces (
    name        text primary key,
    reason      text not null default '',
    created_by  text not null,
    created_at  timestamptz not null default now()
);

insert into reserved_namespaces (name, reason, created_by)
values ('slipway', 'Slipway''s own namespace', 'migration');
