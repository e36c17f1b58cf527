-- BESS $mac's existing cycles in start order (start in epoch ms, whether it measured capacity,
-- the capacity it measured) with the earliest target day's start beside each: what
-- bess_etl/analytics/build.py picks an incremental restart point from.
select
    epoch_ms(c.start_ts) as start_ms,
    c.is_capacity_measurement,
    c.capacity_ah,
    t.first_day_start
from cycles as c
cross join (select min(day_start) as first_day_start from targets where mac = $mac) as t
where c.mac = $mac
order by c.start_ts;
