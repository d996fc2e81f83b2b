-- The approval flow: a policy per environment, a plan stored with each deploy
-- that waits for a decision, approvals bound to a digest of what is applied,
-- and deploys whose content cannot change once rendered.

-- Policy per environment. `approvals_required` replaces the yes/no
-- `requires_approval`: 0 means no approval, 1–5 that many distinct approvers.
alter table environments
    add column approvals_required integer not null default 0,
    -- teams whose members may approve here (administrators always may).
    add column approver_teams text[] not null default '{}',
    -- how long a request waits for its decisions before it is rejected as expired.
    add column approval_ttl_hours integer not null default 72,
    -- every image of a deploy must be pinned by digest (`…@sha256:…`).
    add column require_image_digest boolean not null default false,
    -- a FAIL in the readiness checklist blocks the request (an administrator
    -- may override it with a written reason).
    add column checklist_must_pass boolean not null default false,
    -- what a request inside a freeze window does: wait as `held`, or be refused.
    add column freeze_action text not null default 'hold',
    add constraint environments_approvals_required check (approvals_required between 0 and 5),
    add constraint environments_approval_ttl_hours check (approval_ttl_hours between 1 and 720),
    add constraint environments_freeze_action check (freeze_action in ('hold', 'refuse'));

update environments set approvals_required = 1 where requires_approval;
update environments set checklist_must_pass = true where production_rules;
alter table environments drop column requires_approval;

-- Deploys: the digest of their content, the plan shown to approvers, and the
-- times a waiting deploy moves on by itself.
alter table deploys
    -- sha256 over the canonical rendered manifests, their images, the namespace
    -- and the Secret references: what approvals are bound to.
    add column content_digest text not null default '',
    -- the plan (dry run, spec diff, images, new Secret references and sidecars,
    -- wiring, checklist) as JSON, computed at request time.
    add column plan jsonb,
    add column plan_computed_at timestamptz,
    -- the latest succeeded deploy of the pair when the plan was computed: when a
    -- newer one succeeds, the plan is stale, recomputed, and its approvals void.
    add column plan_base_deploy_id bigint references deploys (id) on delete set null,
    -- who wrote the deployed revision (separation of duties).
    add column revision_author_id bigint references users (id) on delete set null,
    -- the pusher's email when the provider sent one.
    add column pusher_email text not null default '',
    -- a deploy waiting for decisions is rejected as expired after this.
    add column decision_deadline timestamptz,
    -- a `held` deploy (freeze window) moves on after this.
    add column held_until timestamptz,
    drop constraint deploys_state,
    add constraint deploys_state check (state in ('requested', 'held', 'awaiting_approval', 'queued',
        'applying', 'progressing', 'succeeded', 'failed', 'rejected', 'superseded'));

create index deploys_awaiting_idx on deploys (decision_deadline) where state = 'awaiting_approval';
create index deploys_held_idx on deploys (held_until) where state = 'held';

-- What a deploy applies is fixed once rendered: the manifests, their hash and
-- digest, the image, the namespace and the revision. A later write of any of
-- them (a bug, a stolen credential) is refused by the database itself; the
-- worker checks the digest against the approvals as well.
create function deploys_content_immutable() returns trigger language plpgsql as $$
begin
    if old.manifests_hash <> '' and (
        new.manifests is distinct from old.manifests
        or new.manifests_hash is distinct from old.manifests_hash
        or new.content_digest is distinct from old.content_digest
        or new.image is distinct from old.image
        or new.namespace is distinct from old.namespace
        or new.revision_id is distinct from old.revision_id
        or new.revision_hash is distinct from old.revision_hash
        or new.service_id is distinct from old.service_id
        or new.environment_id is distinct from old.environment_id)
    then
        raise exception 'deploy % was rendered; its content is immutable', old.id
            using errcode = 'insufficient_privilege';
    end if;
    return new;
end;
$$;
create trigger deploys_content_immutable before update on deploys
    for each row execute function deploys_content_immutable();

-- Approvals: bound to the digest decided on; voided (not deleted) when the plan
-- they were given on is recomputed. A user decides a deploy once per plan.
alter table approvals
    add column digest text not null default '',
    add column voided_at timestamptz,
    add column void_reason text not null default '',
    drop constraint approvals_deploy_id_user_id_key;
create unique index approvals_deploy_id_user_id_key on approvals (deploy_id, user_id)
    where voided_at is null;

-- A decision is history: only voiding may change it.
create function approvals_decision_immutable() returns trigger language plpgsql as $$
begin
    if new.deploy_id is distinct from old.deploy_id
        or new.user_id is distinct from old.user_id and new.user_id is not null
        or new.decision is distinct from old.decision
        or new.digest is distinct from old.digest
        or new.comment is distinct from old.comment
        or (old.voided_at is not null and new.voided_at is distinct from old.voided_at)
    then
        raise exception 'approval % is immutable', old.id using errcode = 'insufficient_privilege';
    end if;
    return new;
end;
$$;
create trigger approvals_decision_immutable before update on approvals
    for each row execute function approvals_decision_immutable();
