-- The current revision's metadata.description, kept on the service so the
-- catalog can search it (and show it) without reading every revision's spec.
-- Written with each new current revision (store/services.rs).
alter table services add column description text not null default '';

update services s
set description = coalesce(r.spec -> 'metadata' ->> 'description', '')
from service_revisions r
where r.service_id = s.id and r.number = s.current_revision;
