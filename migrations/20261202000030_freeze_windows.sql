-- Freeze windows: periods in which deploys to an environment must not run.
-- `once` windows are a range of instants; `weekly` windows repeat in local time
-- of `time_zone` (see docs/freeze-windows.md for how they are evaluated).
create table freeze_windows (
    id              bigserial primary key,
    environment_id  bigint not null references environments (id) on delete cascade,
    kind            text not null,
    -- once: the instants, converted from local times in `time_zone` when added.
    starts_at       timestamptz,
    ends_at         timestamptz,
    -- weekly: 0 = Monday … 6 = Sunday; both null for a window that repeats every day.
    start_day       smallint,
    end_day         smallint,
    -- weekly: local wall-clock times in `time_zone`, to the minute.
    start_time      time,
    end_time        time,
    -- an IANA name (`Europe/Berlin`), checked against the bundled database on insert.
    time_zone       text not null,
    reason          text not null,
    created_by      text not null,
    created_at      timestamptz not null default now(),
    constraint freeze_windows_kind check (kind in ('once', 'weekly')),
    constraint freeze_windows_once check (
        kind <> 'once' or (starts_at is not null and ends_at is not null and ends_at > starts_at
            and start_day is null and end_day is null and start_time is null and end_time is null)),
    constraint freeze_windows_weekly check (
        kind <> 'weekly' or (starts_at is null and ends_at is null
            and start_time is not null and end_time is not null
            and (start_day is null) = (end_day is null))),
    constraint freeze_windows_days check (start_day between 0 and 6 and end_day between 0 and 6),
    constraint freeze_windows_minutes check (
        extract(second from start_time) = 0 and extract(second from end_time) = 0),
    constraint freeze_windows_time_zone_length check (length(time_zone) between 1 and 64),
    constraint freeze_windows_reason_length check (length(btrim(reason)) between 1 and 500)
);
create index freeze_windows_environment_id_idx on freeze_windows (environment_id);
