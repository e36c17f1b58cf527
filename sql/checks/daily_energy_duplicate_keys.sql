-- daily_energy has one row per (mac, local_date).
select mac, local_date, count(*) as copies
from daily_energy
group by mac, local_date
having count(*) > 1;
