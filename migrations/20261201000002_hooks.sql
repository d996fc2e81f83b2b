-- Git push webhooks: a hook belongs to one service and deploys it to one
-- environment when a push matches its ref pattern.
create table hooks (
    -- random and unguessable: it is the path of `POST /hooks/{id}`.
    id                 uuid primary key,
    service_id         bigint not null references services (id) on delete cascade,
    environment_id     bigint not null references environments (id) on delete restrict,
    -- a pattern over full refs: `refs/heads/main`, `refs/heads/release/*`, `refs/tags/v*`.
    ref_pattern        text not null,
    -- the image to deploy, with `{sha}`, `{short_sha}`, `{tag}` and `{branch}` filled in.
    image_template     text not null,
    -- deploy only when a pushed commit touches one of these path prefixes; empty: always.
    paths              text[] not null default '{}',
    -- the signing secret, encrypted with SLIPWAY_SECRET_KEY (key id, nonce, ciphertext);
    -- never stored or logged in clear.
    secret_sealed      bytea not null,
    -- after a rotation the old secret stays valid until `previous_valid_until`.
    previous_sealed    bytea,
    previous_valid_until timestamptz,
    created_by         text not null,
    created_at         timestamptz not null default now(),
    constraint hooks_ref_pattern_format check (ref_pattern ~ '^refs/(heads|tags)/' and length(ref_pattern) <= 255),
    constraint hooks_image_template_length check (length(image_template) between 1 and 512),
    constraint hooks_previous check ((previous_sealed is null) = (previous_valid_until is null))
);
create index hooks_service_id_idx on hooks (service_id);

-- Every delivery a hook received, with what Slipway made of it. Unique per
-- (hook, delivery id): a redelivery answers the first result and creates nothing.
create table hook_deliveries (
    id            bigserial primary key,
    hook_id       uuid not null references hooks (id) on delete cascade,
    provider      text not null,
    delivery_id   text not null,
    event         text not null,
    ref           text not null default '',
    sha           text not null default '',
    pusher        text not null default '',
    -- `deployed`, `ignored`, `refused` or `failed`, and why.
    result        text not null,
    reason        text not null default '',
    deploy_id     bigint references deploys (id) on delete set null,
    created_at    timestamptz not null default now(),
    constraint hook_deliveries_hook_id_delivery_id_key unique (hook_id, delivery_id),
    constraint hook_deliveries_result check (result in ('deployed', 'ignored', 'refused', 'failed')),
    constraint hook_deliveries_provider check (provider in ('github', 'gitlab', 'gitea'))
);
create index hook_deliveries_hook_id_id_idx on hook_deliveries (hook_id, id desc);

-- The commit a webhook deploy came from, shown in the history.
alter table deploys
    add column commit_sha text not null default '',
    add column commit_message text not null default '',
    add column commit_author text not null default '',
    add column pusher text not null default '',
    add column compare_url text not null default '';

-- Per environment, the refs that may deploy there from webhooks (patterns as
-- for hooks); empty: any ref a hook matches.
alter table environments
    add column webhook_refs text[] not null default '{}';
