-- Every (mac, local day) with readings in the lake (view lake_local_days) has its daily_energy
-- row.
select l.mac, l.local_date
from lake_local_days as l
anti join daily_energy as d on l.mac = d.mac and l.local_date = d.local_date;
