-- The clusters Slipway manages. Until now every environment targeted the one
-- cluster of Slipway's configuration, recorded as the text `default`; now an
-- environment names a registered cluster, and a deploy records the cluster it
-- was planned for (so history says where it went, and a deploy is never applied
-- to another cluster than the one its plan and approvals were made against).

create table clusters (
    name               text primary key,
    -- `configured`: the cluster of Slipway's own configuration (SLIPWAY_KUBECONFIG,
    --   the local control plane of `slipway run`, or in-cluster), registered at every
    --   start under SLIPWAY_CLUSTER_NAME and never edited here;
    -- `kubeconfig`: a kubeconfig document (inline credentials only);
    -- `token`: an API server URL, a ServiceAccount token and the CA;
    -- `in_cluster`: the cluster Slipway's own pod runs in.
    source             text not null,
    -- the API server's URL, for people; never a credential.
    server             text,
    -- the kubeconfig or the token and CA, sealed with SLIPWAY_SECRET_KEY and bound
    -- to the cluster's name (secret::SecretKey::seal); never shown again.
    credentials_sealed bytea,
    created_by         text not null default 'slipway',
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    constraint clusters_name_format check (name ~ '^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$'),
    constraint clusters_source_known check (source in ('configured', 'kubeconfig', 'token', 'in_cluster')),
    constraint clusters_credentials_iff_stored
        check ((source in ('kubeconfig', 'token')) = (credentials_sealed is not null))
);

-- One configured cluster at most (its name follows SLIPWAY_CLUSTER_NAME).
create unique index clusters_one_configured on clusters ((true)) where source = 'configured';

insert into clusters (name, source) values ('default', 'configured');
update environments set cluster = 'default' where cluster not in (select name from clusters);

-- A cluster that environments target cannot be removed; renaming the configured
-- cluster (SLIPWAY_CLUSTER_NAME changed) moves its environments with it.
alter table environments alter column cluster drop default;
alter table environments add constraint environments_cluster_registered
    foreign key (cluster) references clusters (name) on update cascade on delete restrict;

-- Null for deploys made before clusters were registered (they went to the
-- configured cluster). No foreign key: history outlives a registration.
alter table deploys add column cluster text;
