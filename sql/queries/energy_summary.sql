-- Per BESS, totals over the days in temp table `summary_days` (mac, local_date), for run
-- summaries.
select
    d.mac,
    count(*) as days,
    sum(d.charge_kwh) as charge_kwh,
    sum(d.discharge_kwh) as discharge_kwh,
    sum(d.cost) as cost,
    sum(d.charge_ah) as charge_ah,
    sum(d.discharge_ah) as discharge_ah
from daily_energy as d
semi join summary_days as s on d.mac = s.mac and d.local_date = s.local_date
group by d.mac
order by d.mac;
