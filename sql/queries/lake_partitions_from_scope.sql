-- A full rebuild reads the whole lake into scope_readings once and summarises lake_partitions
-- from it, instead of reading every file twice.
delete from lake_partitions;

insert into lake_partitions by name
select
    mac,
    date,
    type,
    count(*) as n_readings,
    count(distinct ts) as n_distinct_ts,
    min(ts) as first_ts,
    max(ts) as last_ts
from scope_readings
group by mac, date, type;
