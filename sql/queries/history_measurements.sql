-- One BESS's cycles that gave a capacity estimate, for its capacity history.
select end_ts, capacity_ah, capacity_kwh, method
from cycles
where mac = $mac and capacity_ah is not null
order by cycle_index;
