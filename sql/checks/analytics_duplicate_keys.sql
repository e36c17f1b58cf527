-- capacity_history and daily_stress hold one row per (mac, local_date).
select 'capacity_history' as table_name, mac, local_date, count(*) as n
from capacity_history
group by mac, local_date
having count(*) > 1
union all
select 'daily_stress' as table_name, mac, local_date, count(*) as n
from daily_stress
group by mac, local_date
having count(*) > 1;
