-- The webhook endpoint only records a verified push (result `queued`) and
-- answers; a judge in the background (`domain::hook_judge`) turns queued
-- deliveries into deploys, one hook at a time and in arrival order, so the
-- endpoint answers in milliseconds whatever rendering and policy cost.
alter table hook_deliveries drop constraint hook_deliveries_result;
alter table hook_deliveries add constraint hook_deliveries_result
    check (result in ('queued', 'deployed', 'ignored', 'refused', 'failed'));

-- When the result was decided: on arrival for other events, by the judge for
-- pushes; null while queued.
alter table hook_deliveries add column judged_at timestamptz;

-- The judge's queue: the oldest queued deliveries first.
create index hook_deliveries_queued_idx on hook_deliveries (id) where result = 'queued';
