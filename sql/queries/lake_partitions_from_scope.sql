-- A full rebuild reads the whole lake into scope_readings once and summarises lake_partitions
-- from it, instead of reading every file twice.
delete from lake_partitions;

insert into lake_partitions by name
from lake_partition_summary(scope_readings);
