-- A day's totals are the sums of its buckets: any difference beyond float rounding (1e-9
-- relative, 1e-12 absolute for totals near zero) means the two tables are out of step.
with
sums as (
    select
        mac,
        local_date,
        sum(charge_kwh) as charge_kwh,
        sum(discharge_kwh) as discharge_kwh,
        sum(charge_ah) as charge_ah,
        sum(discharge_ah) as discharge_ah,
        sum(cost) as cost,
        sum(covered_s) as covered_s,
        sum(gap_s) as gap_s
    from energy_interval
    group by mac, local_date
),

compared as (
    select
        d.mac,
        d.local_date,
        unnest([
            'charge_kwh', 'discharge_kwh', 'charge_ah', 'discharge_ah', 'cost', 'covered_s',
            'gap_s'
        ]) as quantity,
        unnest([
            d.charge_kwh, d.discharge_kwh, d.charge_ah, d.discharge_ah, d.cost, d.covered_s,
            d.gap_s
        ]) as daily_value,
        unnest([
            s.charge_kwh, s.discharge_kwh, s.charge_ah, s.discharge_ah, s.cost,
            coalesce(s.covered_s, 0), coalesce(s.gap_s, 0)
        ]) as interval_sum
    from daily_energy as d
    left join sums as s on d.mac = s.mac and d.local_date = s.local_date
)

select *
from compared
where
    (daily_value is null) <> (interval_sum is null)
    or abs(daily_value - interval_sum)
    > 1e-9 * greatest(abs(daily_value), abs(interval_sum)) + 1e-12;
