-- energy_interval has one row per (mac, interval_start).
select mac, interval_start, count(*) as copies
from energy_interval
group by mac, interval_start
having count(*) > 1;
