-- Optional per-environment limits that administrators set: a ResourceQuota
-- (totals per team namespace) and a LimitRange (largest container), rendered by
-- Slipway into each team namespace of the environment. Null: not limited. The
-- quantities are Kubernetes quantities (`4`, `500m`, `8Gi`), checked on save.
create table environment_quotas (
    environment_id  bigint primary key references environments (id) on delete cascade,
    requests_cpu    text,
    requests_memory text,
    pods            integer,
    max_cpu         text,
    max_memory      text,
    updated_by      text not null,
    updated_at      timestamptz not null default now(),
    constraint environment_quotas_pods check (pods is null or pods > 0)
);
