-- Charge and discharge totals are magnitudes: never below zero.
select 'energy_interval' as source, mac, local_date, interval_start,
    charge_kwh, discharge_kwh, charge_ah, discharge_ah
from energy_interval
where charge_kwh < 0 or discharge_kwh < 0 or charge_ah < 0 or discharge_ah < 0
union all
select 'daily_energy' as source, mac, local_date, null as interval_start,
    charge_kwh, discharge_kwh, charge_ah, discharge_ah
from daily_energy
where charge_kwh < 0 or discharge_kwh < 0 or charge_ah < 0 or discharge_ah < 0;
