-- One BESS's readings of the analytics' channel types ($types) from scope_readings, which a full
-- rebuild loads with the whole lake (bess_etl/analytics/build.py).
select type, ts, value
from scope_readings
where mac = $mac and list_contains($types::integer[], type)
order by type, ts;
