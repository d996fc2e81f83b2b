-- Whether the readiness checklist applies production rules in an environment
-- (e.g. DEBUG on is a FAIL there, a WARN elsewhere). A property an administrator
-- sets, instead of the checklist keying on the literal name `production`:
-- environments are admin-defined and a "live" or "prod-eu" is production too.
alter table environments
    add column production_rules boolean not null default false;

-- The seeded production environment keeps the rules it had by name.
update environments set production_rules = true where name = 'production';
