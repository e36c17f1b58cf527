-- One BESS's daily stress rows for the report (the DoD histogram sums the bands).
select *
from daily_stress
where mac = $mac
order by local_date;
