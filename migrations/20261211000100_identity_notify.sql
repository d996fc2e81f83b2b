-- Every replica keeps the sessions it has loaded, with their person, for a few
-- seconds (store/identity.rs), and must hear at once when one of them is no
-- longer true. These triggers say so on the `slipway_identity` channel in the
-- writing transaction, so the notice goes out exactly when the change commits,
-- whatever wrote it: the portal, the API, the CLI, another replica or SQL by
-- hand. The payload is `u:<user id>` (that user's sessions are read again) or
-- `*` (all of them: a team or an environment was renamed). It never carries a
-- session id: those are credentials.
create function slipway_identity_changed() returns trigger
language plpgsql as $$
declare
    before_id bigint;
    after_id bigint;
begin
    if tg_table_name in ('teams', 'environments') then
        perform pg_notify('slipway_identity', '*');
        return null;
    end if;
    if tg_table_name = 'users' then
        if tg_op <> 'INSERT' then before_id := old.id; end if;
        if tg_op <> 'DELETE' then after_id := new.id; end if;
    else
        -- sessions, team_members, environment_approvers: whose row it is.
        if tg_op <> 'INSERT' then before_id := old.user_id; end if;
        if tg_op <> 'DELETE' then after_id := new.user_id; end if;
    end if;
    if before_id is not null then
        perform pg_notify('slipway_identity', 'u:' || before_id);
    end if;
    if after_id is not null and after_id is distinct from before_id then
        perform pg_notify('slipway_identity', 'u:' || after_id);
    end if;
    return null;
end
$$;

-- A session saved (its data, expiry or owner) or ended (logout, purge, a
-- deleted user). New sessions are in no replica's memory yet.
create trigger sessions_identity after update or delete on sessions
    for each row execute function slipway_identity_changed();
-- Disabled, demoted or promoted, sessions ended (epoch), email changed, deleted.
create trigger users_identity
    after update of email, is_admin, session_epoch, disabled_at or delete on users
    for each row execute function slipway_identity_changed();
create trigger team_members_identity after insert or update or delete on team_members
    for each row execute function slipway_identity_changed();
create trigger environment_approvers_identity
    after insert or update or delete on environment_approvers
    for each row execute function slipway_identity_changed();
create trigger teams_identity after update of name on teams
    for each row execute function slipway_identity_changed();
create trigger environments_identity after update of name on environments
    for each row execute function slipway_identity_changed();
