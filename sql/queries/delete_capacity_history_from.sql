-- Drop BESS $mac's capacity_history rows from local day $first on, before the rows redone from
-- that day are inserted (bess_etl/analytics/build.py).
delete from capacity_history
where mac = $mac and local_date >= $first;
