-- Single sign-on (docs/sso.md): who a user is at the identity provider, which
-- provider groups grant which team membership or the administrator role, and
-- which memberships a group granted (so sign-in can take them back).

-- The provider's (issuer, subject) of a user first seen through it. A user
-- created that way has no password: its password_hash is '!sso', which is no
-- PHC string, so no password ever verifies.
alter table users add column oidc_issuer text;
alter table users add column oidc_subject text;
alter table users add constraint users_oidc_identity_pair
    check ((oidc_issuer is null) = (oidc_subject is null));
create unique index users_oidc_identity on users (oidc_issuer, oidc_subject)
    where oidc_subject is not null;

create table oidc_group_mappings (
    id           bigserial primary key,
    group_name   text not null,
    -- The team whose member the group's users become, or null for a mapping
    -- that only grants the administrator role.
    team_id      bigint references teams (id) on delete cascade,
    grants_admin boolean not null default false,
    created_at   timestamptz not null default now(),
    constraint oidc_group_mappings_name check (length(group_name) between 1 and 200),
    constraint oidc_group_mappings_grants check (team_id is not null or grants_admin)
);
create unique index oidc_group_mappings_team on oidc_group_mappings (group_name, team_id)
    where team_id is not null;
create unique index oidc_group_mappings_admin on oidc_group_mappings (group_name)
    where team_id is null;

-- The group a membership came from; null for one an administrator granted by
-- hand, which sign-in never takes away.
alter table team_members add column granted_by_group text;

-- Whether the administrator role came from a group (then sign-in without that
-- group takes it back) or was granted by hand.
alter table users add column admin_by_group boolean not null default false;
