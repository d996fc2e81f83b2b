-- The access lifecycle: sessions that end when they must, tokens with an
-- expiry and scopes, and an audit log that the serving role cannot rewrite.

-- Bumped whenever a user's sessions must end (a password change, disabling the
-- account). A session remembers the epoch it was signed in under and is refused
-- once the user's differs, so no session row has to be found and deleted.
alter table users add column session_epoch integer not null default 0;

-- Tokens expire. Tokens made before this migration get 90 days from now (the
-- default is evaluated once for the existing rows): long enough that no CI
-- pipeline breaks on the day of the upgrade, short enough that forgotten tokens
-- die. The default also keeps older code inserting without it working while
-- replicas of two versions overlap.
alter table api_tokens
    add column expires_at timestamptz not null default (now() + interval '90 days');

-- What a token may do. Every token reads what its owner may read (`read`);
-- `deploy` allows every write but approval decisions, `approve` those. Existing
-- tokens keep doing what they did: all three.
alter table api_tokens
    add column scopes text[] not null default '{read,deploy,approve}',
    add constraint api_tokens_scopes_known
        check (scopes <@ array['read', 'deploy', 'approve']::text[] and 'read' = any (scopes));

-- An append-only log cannot hold a foreign key that `on delete set null` would
-- rewrite: deleting a user would have failed on the append-only trigger. The
-- id stays as the historical fact it is (Slipway disables users, it never
-- deletes them; see docs/access.md).
alter table audit_log drop constraint audit_log_actor_user_id_fkey;

-- The serving role. Migrations run as the schema owner; `slipway serve` may
-- connect as a login role that is a member of `slipway_app` and owns nothing,
-- so it can neither rewrite the audit log nor drop or disable its triggers
-- (both need ownership). Roles are cluster-wide: it is created once, by the
-- first database that needs it.
do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'slipway_app') then
        create role slipway_app nologin;
    end if;
exception
    -- another database's migration created it at the same moment
    when duplicate_object or unique_violation then null;
    when insufficient_privilege then
        raise exception 'role slipway_app is missing and % may not create it', current_user
            using hint = 'create it once as an administrator: create role slipway_app nologin (docs/access.md)';
end
$$;

grant usage on schema public to slipway_app;
grant select, insert, update, delete on all tables in schema public to slipway_app;
grant usage, select on all sequences in schema public to slipway_app;
-- Tables and sequences later migrations create (as the same owner) get the same grants.
alter default privileges in schema public
    grant select, insert, update, delete on tables to slipway_app;
alter default privileges in schema public
    grant usage, select on sequences to slipway_app;

-- The audit log: read and append, nothing else (no update, delete or truncate;
-- the triggers refuse those even to the owner).
revoke all on audit_log from slipway_app;
grant select, insert on audit_log to slipway_app;
-- `/readyz` reads which migrations are applied; only the owner applies them.
revoke all on _sqlx_migrations from slipway_app;
grant select on _sqlx_migrations to slipway_app;
