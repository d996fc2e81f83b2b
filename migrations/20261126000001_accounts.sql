-- Accounts, teams, sessions, API tokens, login throttling and the audit log.

create table teams (
    id           bigserial primary key,
    name         text not null,
    display_name text not null default '',
    created_at   timestamptz not null default now(),
    constraint teams_name_key unique (name),
    -- team names become part of Kubernetes namespace names: DNS-1123 labels, short.
    constraint teams_name_format check (name ~ '^[a-z0-9]([-a-z0-9]{0,28}[a-z0-9])?$')
);

create table users (
    id            bigserial primary key,
    -- stored lower-cased so the unique constraint is case-insensitive.
    email         text not null,
    password_hash text not null,
    is_admin      boolean not null default false,
    created_at    timestamptz not null default now(),
    disabled_at   timestamptz,
    constraint users_email_key unique (email),
    constraint users_email_lower check (email = lower(email))
);

create table team_members (
    team_id    bigint not null references teams (id) on delete cascade,
    user_id    bigint not null references users (id) on delete cascade,
    role       text not null default 'member',
    created_at timestamptz not null default now(),
    constraint team_members_pkey primary key (team_id, user_id),
    constraint team_members_role check (role in ('member'))
);
create index team_members_user_id_idx on team_members (user_id);

-- tower-sessions records; `data` is MessagePack of the session map.
create table sessions (
    id          text primary key,
    data        bytea not null,
    expiry_date timestamptz not null,
    -- the absolute timeout: a session older than this is refused whatever its activity.
    created_at  timestamptz not null default now()
);
create index sessions_expiry_date_idx on sessions (expiry_date);

create table api_tokens (
    id           bigserial primary key,
    user_id      bigint not null references users (id) on delete cascade,
    name         text not null,
    -- sha256 of the token; the token itself is shown once and never stored.
    token_hash   text not null,
    created_at   timestamptz not null default now(),
    last_used_at timestamptz,
    revoked_at   timestamptz,
    constraint api_tokens_token_hash_key unique (token_hash),
    constraint api_tokens_user_id_name_key unique (user_id, name)
);

create table login_attempts (
    id          bigserial primary key,
    email       text not null,
    client_addr text not null,
    succeeded   boolean not null,
    created_at  timestamptz not null default now()
);
create index login_attempts_email_idx on login_attempts (email, created_at);
create index login_attempts_client_addr_idx on login_attempts (client_addr, created_at);

create table audit_log (
    id            bigserial primary key,
    created_at    timestamptz not null default now(),
    actor_user_id bigint references users (id) on delete set null,
    -- a readable actor even after the user is gone: an email, `webhook:<id>` or `system`.
    actor         text not null,
    action        text not null,
    target        text not null,
    detail        jsonb not null default '{}'::jsonb,
    client_addr   text
);
create index audit_log_created_at_idx on audit_log (created_at desc);

-- The audit log is append-only: the database itself refuses to change history.
create function audit_log_refuse_change() returns trigger language plpgsql as $$
begin
    raise exception 'audit_log is append-only' using errcode = 'insufficient_privilege';
end;
$$;
create trigger audit_log_no_update before update or delete on audit_log
    for each row execute function audit_log_refuse_change();
create trigger audit_log_no_truncate before truncate on audit_log
    for each statement execute function audit_log_refuse_change();
