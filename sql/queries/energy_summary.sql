-- Per BESS, totals over the days in temp table `summary_days` (mac, local_date), for run
-- summaries, with its latest capacity estimate and state of health (null before any).
select
    d.mac,
    count(*) as days,
    sum(d.charge_kwh) as charge_kwh,
    sum(d.discharge_kwh) as discharge_kwh,
    sum(d.cost) as cost,
    sum(d.charge_ah) as charge_ah,
    sum(d.discharge_ah) as discharge_ah,
    any_value(c.capacity_ah) as capacity_ah,
    any_value(c.soh_pct) as soh_pct
from daily_energy as d
semi join summary_days as s on d.mac = s.mac and d.local_date = s.local_date
left join (
    select
        mac,
        arg_max(capacity_ah, local_date) as capacity_ah,
        arg_max(soh_pct, local_date) as soh_pct
    from capacity_history
    where capacity_ah is not null
    group by mac
) as c on d.mac = c.mac
group by d.mac
order by d.mac;
