-- One BESS's days for the report: daily energy and cost, cumulative throughput and the capacity
-- history beside them (null before the analytics have run).
select
    d.local_date,
    d.charge_kwh,
    d.discharge_kwh,
    d.cost,
    d.coverage,
    sum(coalesce((d.charge_kwh + d.discharge_kwh) / 2, 0)) over (order by d.local_date)
        as cumulative_throughput_kwh,  -- Σ (charge + discharge) / 2
    h.cumulative_efc,
    h.capacity_ah,
    h.capacity_smoothed_ah,
    h.soh_pct,
    h.fade_pct_per_year,
    h.fade_pct_per_100_efc,
    h.projected_eol_date
from daily_energy as d
left join capacity_history as h on d.mac = h.mac and d.local_date = h.local_date
where d.mac = $mac
order by d.local_date;
