-- Each BESS's cycles are numbered 0, 1, 2, ... once each and tile time: every cycle ends where
-- the next one starts, and none ends before it starts.
with
numbered as (
    select
        mac,
        cycle_index,
        start_ts,
        end_ts,
        lead(start_ts) over (partition by mac order by cycle_index) as next_start_ts,
        row_number() over (partition by mac order by cycle_index) - 1 as expected_index
    from cycles
)

select mac, cycle_index, start_ts, end_ts, next_start_ts
from numbered
where
    cycle_index != expected_index
    or end_ts < start_ts
    or (next_start_ts is not null and end_ts != next_start_ts);
