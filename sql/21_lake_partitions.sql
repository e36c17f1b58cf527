-- What the lake holds, per partition (mac, UTC date) and sensor type: how many readings and the
-- first and last timestamp. warehouse.py keeps it in step with the lake on every recompute and
-- rebuild (queries/refresh_lake_partitions.sql): recompute finds from it the readings next to a
-- changed partition, whose intervals the change touches, however far away they are.
create table if not exists lake_partitions (
    mac           bigint      not null,
    date          date        not null,  -- UTC date of the partition
    type          integer     not null,
    n_readings    bigint      not null,
    n_distinct_ts bigint      not null,  -- below n_readings: duplicate keys (a data check)
    first_ts      timestamptz not null,
    last_ts       timestamptz not null
);

-- The site-local days each BESS has readings on, from lake_partitions: those of each
-- partition's first and last reading (a UTC day overlaps two local days, or three only where a
-- 23-hour local day fits wholly inside it, which no zone whose midnight is away from UTC
-- midnight allows). The data checks compare daily_energy with it.
create or replace view lake_local_days as
select p.mac, timezone(s.timezone, p.first_ts)::date as local_date
from lake_partitions as p cross join settings as s
union
select p.mac, timezone(s.timezone, p.last_ts)::date as local_date
from lake_partitions as p cross join settings as s;
