-- For every BESS with a capacity history, each daily_energy day has its row, with the same
-- charge and discharge totals to float rounding (a stale history after a recompute shows here).
with
histories as (
    select distinct mac from capacity_history
),

pairs as (
    select
        d.mac,
        d.local_date,
        h.mac is null as missing,
        unnest([d.charge_kwh, d.discharge_kwh, d.charge_ah, d.discharge_ah]) as daily_value,
        unnest([h.charge_kwh, h.discharge_kwh, h.charge_ah, h.discharge_ah]) as history_value
    from daily_energy as d
    semi join histories as m on d.mac = m.mac
    left join capacity_history as h on d.mac = h.mac and d.local_date = h.local_date
)

select mac, local_date, bool_or(missing) as history_missing, count(*) as values_differing
from pairs
where
    missing
    or (daily_value is null) != (history_value is null)
    or abs(daily_value - history_value) > 1e-9 * greatest(abs(daily_value), 1e-3)
group by mac, local_date;
