-- One BESS's daily charge and discharge totals, every day, for its capacity history.
select local_date, charge_ah, discharge_ah, charge_kwh, discharge_kwh
from daily_energy
where mac = $mac
order by local_date;
