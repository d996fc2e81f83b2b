-- The sha a push moved its ref from (`ref` and `sha` already hold where to). A
-- delivery that arrives after a newer push of the same ref (a provider's retry,
-- the network) is told apart by this chain and ignored rather than deployed
-- over the newer commit (see `webhook::chain`). Empty for rows recorded before
-- this column and for other events: they link to nothing.
alter table hook_deliveries
    add column before_sha text not null default '';

-- The recorded pushes of one hook's ref, newest first, read on every push.
create index hook_deliveries_hook_id_ref_id_idx on hook_deliveries (hook_id, ref, id desc);
