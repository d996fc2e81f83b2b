-- The overview and its status fragment, polled by crowds, read the service
-- row that their URL names from memory (store/identity.rs keeps it while it
-- hears the `slipway_identity` channel). A service row updated (a new
-- revision, a new name or team) or deleted says so here, in the writing
-- transaction, whoever wrote it: `s:<service id>`.
create function slipway_service_changed() returns trigger
language plpgsql as $$
begin
    perform pg_notify('slipway_identity', 's:' || old.id);
    return null;
end
$$;

create trigger services_identity after update or delete on services
    for each row execute function slipway_service_changed();
