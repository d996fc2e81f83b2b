-- The catalog's search as you type: one lowercased text per service (team,
-- name and description, a newline between them) kept by PostgreSQL itself, and
-- a trigram index over it where the pg_trgm extension can be had.
--
-- Matching name, team and description one by one lowercased every description
-- of every service per keystroke (10,000 rows, twice: the page and its count).
-- A substring test on this column needs no per-row work, and with the index a
-- search of three or more characters reads only the rows that can match.
-- Without pg_trgm (a PostgreSQL without its contrib modules, or a role that may
-- not create it) the search still works, by scanning.

alter table services add column search_text text
    generated always as (lower(team_name || E'\n' || name || E'\n' || description)) stored;

do $$
begin
    create extension if not exists pg_trgm;
exception when others then
    raise notice 'pg_trgm is not available (%): the catalog search scans services', sqlerrm;
end
$$;

do $$
begin
    if exists (select 1 from pg_extension where extname = 'pg_trgm') then
        create index services_search_text_trgm_idx on services using gin (search_text gin_trgm_ops);
    end if;
end
$$;
