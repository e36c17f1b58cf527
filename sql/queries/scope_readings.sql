-- The readings of the partitions in scope ($files: their paths), for the build's compute steps
-- (`date` is the partition's UTC date).
create or replace temp table scope_readings (
    mac   bigint,
    date  date,
    type  integer,
    ts    timestamptz,
    value double
);

insert into scope_readings
select mac, date, type, ts, value
from read_parquet(
    $files,
    hive_partitioning = true,
    hive_types = {'mac': bigint, 'date': date}
);
