-- Per BESS and site-local day with readings: energy, charge, coverage, cost, reading statistics,
-- efficiency, equivalent full cycles and the V·I cross-check. Energy columns are sums of the
-- day's energy_interval rows, so the two always agree.
create table if not exists daily_energy (
    mac                      bigint not null,
    local_date               date   not null,
    day_start                timestamptz not null,  -- local midnight
    day_s                    double not null,  -- seconds in the local day: 82800/86400/90000
    charge_kwh               double,  -- null: no kWh source all day
    discharge_kwh            double,
    net_kwh                  double,  -- charge − discharge: energy stored
    charge_ah                double,
    discharge_ah             double,
    net_ah                   double,
    covered_s                double not null,  -- seconds the kWh source integrated
    coverage                 double not null,  -- covered_s / day_s
    gap_s                    double not null,  -- seconds inside gaps longer than max_gap_s
    ah_covered_s             double not null,
    ah_coverage              double not null,
    ah_gap_s                 double not null,
    n_readings               bigint not null,  -- readings of every type that day
    voltage_min_v            double,
    voltage_mean_v           double,  -- mean of the readings (not time-weighted)
    voltage_max_v            double,
    current_min_a            double,  -- current statistics are charge-positive
    current_mean_a           double,
    current_max_a            double,
    battery_temp_min_c       double,
    battery_temp_mean_c      double,
    battery_temp_max_c       double,
    cost                     double,  -- in settings.currency; < 0: money earned
    roundtrip_efficiency_pct double,  -- 100 × discharge / charge kWh; an efficiency only over a
                                      -- span that ends at the state of charge it began with;
                                      -- null when either direction is under 1 % of nameplate
    coulombic_efficiency_pct double,  -- 100 × discharge / charge Ah; null likewise
    equivalent_full_cycles   double,  -- (charge + discharge kWh) / (2 × nameplate_kwh)
    vi_buckets               bigint not null,  -- buckets whose kWh came from V·I (no power)
    power_charge_kwh         double,  -- the power channel's own totals
    power_discharge_kwh      double,
    vi_charge_kwh            double,  -- V·I totals over every bucket it covers
    vi_discharge_kwh         double,
    vi_vs_power_diff_pct     double   -- 100 × (V·I − power) / power throughput, on the buckets
                                      -- both cover
);

-- The build's compute step, for the `targets` temp table (see sql/30_energy_interval.sql).
delete from daily_energy as d
using targets as t
where d.mac = t.mac and d.local_date = t.local_date;

insert into daily_energy by name
with
days as (
    select
        mac,
        local_date,
        day_start,
        epoch(day_end) - epoch(day_start) as day_s
    from targets
),

reading_days as (
    select
        b.mac,
        m.channel,
        b.local_date,
        sum(b.n) as n,
        -- the channel sign makes current charge-positive (a negative sign swaps min and max)
        min(least(b.lo * coalesce(m.sign, 1), b.hi * coalesce(m.sign, 1))) as lo,
        max(greatest(b.lo * coalesce(m.sign, 1), b.hi * coalesce(m.sign, 1))) as hi,
        sum(b.total * coalesce(m.sign, 1)) as total
    from scope_reading_buckets as b
    left join channel_map as m on b.type = m.type
    group by all
),

day_stats as (
    select
        mac,
        local_date,
        sum(n) as n_readings,
        min(lo) filter (where channel = 'voltage') as voltage_min_v,
        sum(total) filter (where channel = 'voltage')
        / sum(n) filter (where channel = 'voltage') as voltage_mean_v,
        max(hi) filter (where channel = 'voltage') as voltage_max_v,
        min(lo) filter (where channel = 'current') as current_min_a,
        sum(total) filter (where channel = 'current')
        / sum(n) filter (where channel = 'current') as current_mean_a,
        max(hi) filter (where channel = 'current') as current_max_a,
        min(lo) filter (where channel = 'battery_temp') as battery_temp_min_c,
        sum(total) filter (where channel = 'battery_temp')
        / sum(n) filter (where channel = 'battery_temp') as battery_temp_mean_c,
        max(hi) filter (where channel = 'battery_temp') as battery_temp_max_c
    from reading_days
    group by mac, local_date
),

day_energy as (
    select
        e.mac,
        e.local_date,
        sum(e.charge_kwh) as charge_kwh,
        sum(e.discharge_kwh) as discharge_kwh,
        sum(e.charge_ah) as charge_ah,
        sum(e.discharge_ah) as discharge_ah,
        sum(e.covered_s) as covered_s,
        sum(e.gap_s) as gap_s,
        sum(e.ah_covered_s) as ah_covered_s,
        sum(e.ah_gap_s) as ah_gap_s,
        sum(e.cost) as cost,
        count(*) filter (where e.kwh_source = 'vi') as vi_buckets,
        sum(e.power_charge_kwh) as power_charge_kwh,
        sum(e.power_discharge_kwh) as power_discharge_kwh,
        sum(e.vi_charge_kwh) as vi_charge_kwh,
        sum(e.vi_discharge_kwh) as vi_discharge_kwh,
        sum(e.vi_charge_kwh + e.vi_discharge_kwh) filter (
            where e.power_covered_s > 0 and e.vi_covered_s > 0
        ) as vi_both_kwh,
        sum(e.power_charge_kwh + e.power_discharge_kwh) filter (
            where e.power_covered_s > 0 and e.vi_covered_s > 0
        ) as power_both_kwh
    from energy_interval as e
    semi join targets as t on e.mac = t.mac and e.local_date = t.local_date
    group by e.mac, e.local_date
),

nameplate as (
    -- each BESS's own [devices.<MAC>] row, else the default row (mac = 0)
    select
        d.mac,
        coalesce(own.nameplate_kwh, dflt.nameplate_kwh) as nameplate_kwh,
        coalesce(own.nameplate_ah, dflt.nameplate_ah) as nameplate_ah
    from (select distinct mac from days) as d
    left join capacity_settings as own on d.mac = own.mac
    cross join (
        select nameplate_kwh, nameplate_ah from capacity_settings where mac = 0
    ) as dflt
)

select
    d.mac,
    d.local_date,
    d.day_start,
    d.day_s,
    e.charge_kwh,
    e.discharge_kwh,
    e.charge_kwh - e.discharge_kwh as net_kwh,
    e.charge_ah,
    e.discharge_ah,
    e.charge_ah - e.discharge_ah as net_ah,
    coalesce(e.covered_s, 0) as covered_s,
    coalesce(e.covered_s, 0) / d.day_s as coverage,
    coalesce(e.gap_s, 0) as gap_s,
    coalesce(e.ah_covered_s, 0) as ah_covered_s,
    coalesce(e.ah_covered_s, 0) / d.day_s as ah_coverage,
    coalesce(e.ah_gap_s, 0) as ah_gap_s,
    s.n_readings,
    s.voltage_min_v,
    s.voltage_mean_v,
    s.voltage_max_v,
    s.current_min_a,
    s.current_mean_a,
    s.current_max_a,
    s.battery_temp_min_c,
    s.battery_temp_mean_c,
    s.battery_temp_max_c,
    e.cost,
    -- a day that barely charged (a partial first day) would show thousands of per cent
    case
        when least(e.charge_kwh, e.discharge_kwh) >= 0.01 * n.nameplate_kwh
            then 100 * e.discharge_kwh / e.charge_kwh
    end as roundtrip_efficiency_pct,
    case
        when least(e.charge_ah, e.discharge_ah) >= 0.01 * n.nameplate_ah
            then 100 * e.discharge_ah / e.charge_ah
    end as coulombic_efficiency_pct,
    (e.charge_kwh + e.discharge_kwh) / (2 * n.nameplate_kwh) as equivalent_full_cycles,
    coalesce(e.vi_buckets, 0) as vi_buckets,
    e.power_charge_kwh,
    e.power_discharge_kwh,
    e.vi_charge_kwh,
    e.vi_discharge_kwh,
    100 * (e.vi_both_kwh - e.power_both_kwh) / nullif(e.power_both_kwh, 0)
        as vi_vs_power_diff_pct
from days as d
inner join day_stats as s on d.mac = s.mac and d.local_date = s.local_date
left join day_energy as e on d.mac = e.mac and d.local_date = e.local_date
left join nameplate as n on d.mac = n.mac;
