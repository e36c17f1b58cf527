-- The readings of the analytics' channel types ($types) in the lake partitions $files (one
-- BESS's whole history; bess_etl/analytics/build.py).
select type, ts, value
from read_parquet(
    $files,
    hive_partitioning = true,
    hive_types = {'mac': bigint, 'date': date}
)
where list_contains($types::integer[], type)
order by type, ts;
