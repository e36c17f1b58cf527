-- Each BESS's latest capacity estimate and state of health (capacity_history is the analytics'
-- table; warehouse.py runs this only once it exists).
select mac, arg_max(capacity_ah, local_date), arg_max(soh_pct, local_date)
from capacity_history
where capacity_ah is not null
group by mac;
