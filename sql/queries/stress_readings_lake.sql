-- The readings of the analytics' channel types ($types) in the lake partitions $files that
-- daily_stress needs for BESS $mac's target days: those days plus a day of context on each side
-- (the rest/charge classification settles within minutes, so a day is ample) (build.py).
select type, ts, value
from lake_files($files)
where list_contains($types::integer[], type)
    and ts >= (select min(day_start) from targets where mac = $mac) - interval 1 day
    and ts < (select max(day_end) from targets where mac = $mac) + interval 1 day
order by type, ts;
