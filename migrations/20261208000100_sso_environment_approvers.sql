-- Single sign-on: a provider group can make its people approvers of one
-- environment (docs/sso.md), beside the approver teams an environment names.
-- Applied at every sign-in, like group memberships: the grants a group gave are
-- kept per user and taken back at the first sign-in without that group.

alter table oidc_group_mappings
    add column environment_id bigint references environments (id) on delete cascade;
alter table oidc_group_mappings drop constraint oidc_group_mappings_grants;
-- Exactly one thing per mapping: a team, the administrator role, or approving
-- an environment.
alter table oidc_group_mappings add constraint oidc_group_mappings_grants check (
    (team_id is not null)::int + grants_admin::int + (environment_id is not null)::int = 1
);
drop index oidc_group_mappings_admin;
create unique index oidc_group_mappings_admin on oidc_group_mappings (group_name)
    where grants_admin;
create unique index oidc_group_mappings_environment on oidc_group_mappings (group_name, environment_id)
    where environment_id is not null;

create table environment_approvers (
    user_id          bigint not null references users (id) on delete cascade,
    environment_id   bigint not null references environments (id) on delete cascade,
    granted_by_group text not null,
    granted_at       timestamptz not null default now(),
    primary key (user_id, environment_id)
);
create index environment_approvers_environment on environment_approvers (environment_id);
