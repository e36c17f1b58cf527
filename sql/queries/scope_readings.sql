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
from lake_files($files);
