-- The newest deploy of each service in each environment, kept by the database
-- itself so that every writer (the deployer, rollbacks, fixtures) keeps it right.
--
-- The catalog shows this per row and filters on its state. Looking it up per
-- candidate service (`order by id desc limit 1` on deploys) made a state filter
-- over 10,000 services cost ~45 ms; this table makes it one indexed semi-join.

create table latest_deploys (
    service_id     bigint not null references services (id) on delete cascade,
    environment_id bigint not null references environments (id) on delete restrict,
    deploy_id      bigint not null references deploys (id) on delete cascade,
    state          text not null,
    created_at     timestamptz not null,
    primary key (service_id, environment_id)
);
-- The catalog's state filter: which services have a latest deploy in this state.
create index latest_deploys_state_service_id_idx on latest_deploys (state, service_id);

-- Upsert on every insert and state change of a deploy. Deploy ids come from a
-- sequence, so "newest" is the highest id; the `where` keeps a slower
-- transaction holding an older deploy from overwriting a newer one, and a state
-- change of an older deploy from touching the row at all. `on conflict` locks the
-- row, so concurrent deploys of one pair serialise here.
create function latest_deploys_track() returns trigger
language plpgsql as $$
begin
    insert into latest_deploys (service_id, environment_id, deploy_id, state, created_at)
    values (new.service_id, new.environment_id, new.id, new.state, new.created_at)
    on conflict (service_id, environment_id) do update
        set deploy_id = excluded.deploy_id,
            state = excluded.state,
            created_at = excluded.created_at
        where latest_deploys.deploy_id <= excluded.deploy_id;
    return null;
end
$$;

create trigger deploys_track_latest
    after insert or update of state on deploys
    for each row execute function latest_deploys_track();

-- Deploys that existed before this migration.
insert into latest_deploys (service_id, environment_id, deploy_id, state, created_at)
select distinct on (service_id, environment_id) service_id, environment_id, id, state, created_at
from deploys
order by service_id, environment_id, id desc;
