-- The verified body of each push delivery, so an administrator can redeliver
-- it (for instance after unpinning an environment that held it). A push
-- payload names commits and paths, never a secret; it is capped by the
-- request body limit.
alter table hook_deliveries
    add column payload bytea;
