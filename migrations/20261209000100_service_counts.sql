-- How many services each team has of each kind, kept by the database itself.
--
-- The catalog says how many services match on every page view. Counting them
-- (`count(*)` over every visible service) read all 10,000 rows of a fleet per
-- view; without a search text or a state filter the answer is a sum over at
-- most teams × kinds rows of this table instead (store/catalog.rs).
--
-- Every writer goes through `services`, so a trigger on it keeps the counts
-- exact: insert and delete, and a change of team or kind. A team's deletion
-- takes its rows with it.

create table service_counts (
    team_id  bigint not null references teams (id) on delete cascade,
    kind     text not null,
    services bigint not null,
    primary key (team_id, kind),
    constraint service_counts_not_negative check (services >= 0)
);

insert into service_counts (team_id, kind, services)
select team_id, kind, count(*) from services group by team_id, kind;

create function service_counts_track() returns trigger
language plpgsql as $$
begin
    if tg_op in ('UPDATE', 'DELETE') then
        update service_counts set services = services - 1
        where team_id = old.team_id and kind = old.kind;
    end if;
    if tg_op in ('INSERT', 'UPDATE') then
        insert into service_counts (team_id, kind, services)
        values (new.team_id, new.kind, 1)
        on conflict (team_id, kind) do update set services = service_counts.services + 1;
    end if;
    return null;
end
$$;

create trigger services_count
    after insert or delete or update of team_id, kind on services
    for each row execute function service_counts_track();
