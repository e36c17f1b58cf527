-- Lake partitions holding two readings with the same (type, ts): the lake must be unique on
-- (mac, type, ts). Counted when lake_partitions is refreshed from the files.
select mac, date, type, n_readings, n_distinct_ts
from lake_partitions
where n_distinct_ts <> n_readings;
