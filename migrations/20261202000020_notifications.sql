-- Outgoing notifications of deploy events: administrators configure targets
-- (webhooks), every matching event becomes one message per target, and a
-- background sender posts it, signed, retrying with backoff.
create table notification_targets (
    -- random: the path of `/admin/notifications/{id}` and the context the secret is sealed to.
    id             uuid primary key,
    name           text not null,
    -- where messages are posted; may itself be a credential (a Slack webhook
    -- URL is), so pages show only its origin and logs never show it.
    url            text not null,
    -- `json`: Slipway's own body; `slack`: `{"text": …}` for an incoming webhook.
    format         text not null,
    -- only deploys to this environment; null: every environment.
    environment_id bigint references environments (id) on delete restrict,
    -- the events it wants (names of `NotificationEvent`, never `test`).
    events         text[] not null,
    -- the signing secret, encrypted with SLIPWAY_SECRET_KEY (key id, nonce,
    -- ciphertext) and bound to the id; never stored or logged in clear.
    secret_sealed  bytea not null,
    -- a disabled target gets no new messages, and its pending ones wait.
    enabled        boolean not null default true,
    created_by     text not null,
    created_at     timestamptz not null default now(),
    constraint notification_targets_name_key unique (name),
    constraint notification_targets_name_length check (length(name) between 1 and 100),
    constraint notification_targets_url_scheme check (url ~ '^https?://' and length(url) <= 2000),
    constraint notification_targets_format check (format in ('json', 'slack')),
    constraint notification_targets_events check (
        cardinality(events) > 0
        and events <@ array['awaiting_approval', 'approved', 'rejected', 'expired', 'succeeded', 'failed']::text[])
);

-- One message per target and event, its body built when the event happened:
-- what is sent (and signed) is what was true then, whenever it goes out.
create table notification_messages (
    id              bigserial primary key,
    target_id       uuid not null references notification_targets (id) on delete cascade,
    event           text not null,
    -- the deploy it is about; null for a test message, or once the deploy is gone.
    deploy_id       bigint references deploys (id) on delete set null,
    -- the exact bytes posted and signed.
    body            bytea not null,
    state           text not null default 'pending',
    attempts        integer not null default 0,
    -- when the sender may take it next: its due time, then the retry backoff,
    -- and while a sender posts it, the end of that sender's claim.
    next_attempt_at timestamptz not null default now(),
    created_at      timestamptz not null default now(),
    delivered_at    timestamptz,
    constraint notification_messages_state check (state in ('pending', 'delivered', 'failed')),
    constraint notification_messages_event check (event in
        ('awaiting_approval', 'approved', 'rejected', 'expired', 'succeeded', 'failed', 'test'))
);
-- The sender's claim: due pending messages, oldest due first. Partial, so
-- delivered and failed history costs the claim nothing.
create index notification_messages_due_idx
    on notification_messages (next_attempt_at, id) where state = 'pending';
-- A target's page: its newest messages.
create index notification_messages_target_id_id_idx on notification_messages (target_id, id desc);
create index notification_messages_deploy_id_idx on notification_messages (deploy_id);

-- Every attempt to post a message, answered or not.
create table notification_attempts (
    id           bigserial primary key,
    message_id   bigint not null references notification_messages (id) on delete cascade,
    -- 1 for the first try.
    attempt      integer not null,
    -- the HTTP status answered; null when there was no answer (refused, timed out).
    status       integer,
    error        text not null default '',
    duration_ms  integer not null,
    at           timestamptz not null default now(),
    constraint notification_attempts_message_id_attempt_key unique (message_id, attempt)
);
