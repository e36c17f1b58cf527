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

-- The readings of lake partition files (a list of paths), with the partition's key columns
-- from the hive path; every read of named lake files goes through it.
create or replace macro lake_files(files) as table
select mac, date, type, ts, value
from read_parquet(files, hive_partitioning = true, hive_types = {'mac': bigint, 'date': date});

-- lake_partitions' rows for the readings of a table (mac, date, type, ts, ...).
create or replace macro lake_partition_summary(src) as table
select
    mac,
    date,
    type,
    count(*) as n_readings,
    count(distinct ts) as n_distinct_ts,
    min(ts) as first_ts,
    max(ts) as last_ts
from query_table(src)
group by mac, date, type;
