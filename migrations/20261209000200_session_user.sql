-- Whose session it is, beside the encoded session data, so that loading a
-- session reads the person in the same statement (store/sessions.rs): one
-- round trip per page view instead of a session read and then a user read.
-- Written from the session's own `user_id` on every create and save; sessions
-- saved before this column existed have none until their next save, and are
-- read the old way meanwhile. A deleted user's sessions go with them.
alter table sessions add column user_id bigint references users (id) on delete cascade;
create index sessions_user_id_idx on sessions (user_id);
