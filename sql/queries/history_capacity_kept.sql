-- One BESS's capacity_history rows still in the table (those before its earliest target day),
-- which bess_etl/analytics/build.py keeps unless their inputs changed.
select *
from capacity_history
where mac = $mac
order by local_date;
