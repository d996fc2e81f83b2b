-- Namespaces deployed to before the registry existed belong to the pair that
-- deployed there first, so deploys requested before this release (and every
-- later one of that pair) keep working, and another pair that shares the
-- namespace through an ambiguous pattern is refused from now on.
insert into namespaces (name, team_id, environment_id, created_at)
select distinct on (d.namespace) d.namespace, s.team_id, d.environment_id, d.created_at
from deploys d
join services s on s.id = d.service_id
where d.namespace <> ''
order by d.namespace, d.created_at, d.id
on conflict (name) do nothing;
