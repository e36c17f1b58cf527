-- The lake partitions the `targets` days can depend on: per target day, the UTC dates from
-- (local midnight − 2 × max_gap_s) to (next local midnight + max_gap_s). Every non-gap interval
-- touching the day has both ends in that range, and the voltage as of each end (for V·I) is at
-- most max_gap_s older.
create or replace temp table scope_partitions as
select distinct
    p.mac,
    p.date
from targets as t
cross join settings as s
inner join lake_partitions as p
    on
        t.mac = p.mac
        and p.date >= timezone('UTC', t.day_start - to_seconds(2 * s.max_gap_s))::date
        and p.date <= timezone('UTC', t.day_end + to_seconds(s.max_gap_s))::date;
