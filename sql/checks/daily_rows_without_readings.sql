-- No daily_energy row outlives its readings (a day whose readings left the lake).
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

select d.mac, d.local_date, d.n_readings
from daily_energy as d
anti join lake_days as l on d.mac = l.mac and d.local_date = l.local_date;
