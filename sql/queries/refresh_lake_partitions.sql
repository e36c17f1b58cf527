-- Bring lake_partitions in step with the lake for the partitions in temp table
-- `refresh_partitions` (mac, date): drop their rows, then summarise the files $files (those of
-- them that still exist; warehouse.py skips this insert when there are none).
delete from lake_partitions as p
using refresh_partitions as r
where p.mac = r.mac and p.date = r.date;

insert into lake_partitions by name
with files as (from lake_files($files))
from lake_partition_summary(files);
