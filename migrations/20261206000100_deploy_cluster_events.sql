-- The Kubernetes events of a deploy's objects (and of the ReplicaSets, pods
-- and Jobs their controllers made), copied into the deploy's record when its
-- rollout ends: Kubernetes keeps events for an hour, the ledger keeps them
-- with the deploy. Event messages come from controllers and the kubelet
-- (names, reasons, exit codes), never from a Secret's value.
create table deploy_cluster_events (
    id          bigserial primary key,
    deploy_id   bigint not null references deploys (id) on delete cascade,
    uid         text not null check (length(uid) between 1 and 128),
    type        text not null check (type in ('Normal', 'Warning')),
    reason      text not null check (length(reason) <= 256),
    object_kind text not null check (length(object_kind) <= 64),
    object_name text not null check (length(object_name) <= 253),
    message     text not null check (length(message) <= 4096),
    count       integer not null check (count >= 1),
    first_seen  timestamptz not null,
    last_seen   timestamptz not null,
    unique (deploy_id, uid)
);
create index deploy_cluster_events_by_deploy on deploy_cluster_events (deploy_id, last_seen);
