-- No daily_energy row outlives its readings (a day whose readings left the lake).
select d.mac, d.local_date, d.n_readings
from daily_energy as d
anti join lake_local_days as l on d.mac = l.mac and d.local_date = l.local_date;
