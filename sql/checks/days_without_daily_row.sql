-- Every (mac, local day) with readings in the lake has its daily_energy row. The local days
-- holding a UTC-date partition's readings are those of its first and its last reading (a UTC day
-- overlaps two local days, or three only where a 23-hour local day fits wholly inside it, which
-- no zone whose midnight is away from UTC midnight allows).
with
cfg as (
    select timezone from settings
),

lake_days as (
    select p.mac, timezone(cfg.timezone, p.first_ts)::date as local_date
    from lake_partitions as p cross join cfg
    union
    select p.mac, timezone(cfg.timezone, p.last_ts)::date as local_date
    from lake_partitions as p cross join cfg
)

select l.mac, l.local_date
from lake_days as l
anti join daily_energy as d on l.mac = d.mac and l.local_date = d.local_date;
