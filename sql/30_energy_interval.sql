-- Per BESS and bucket (interval_minutes, default 15, on the site-local grid): charge and
-- discharge kWh and Ah, the seconds integrated and in gaps, and cost. Rows exist for the buckets
-- that some interval of power, current or V·I reaches, on local days that have readings.
-- Columns as in bucket_energy (sql/25): kWh comes from kwh_source; power_* and vi_* keep both
-- estimates for the cross-check in daily_energy.
create table if not exists energy_interval (
    mac                  bigint      not null,
    interval_start       timestamptz not null,  -- the bucket's first instant
    interval_start_local timestamp   not null,  -- the same on the site's wall clock
    local_date           date        not null,  -- site-local day the bucket belongs to
    charge_kwh           double,                -- null: no kWh source covers the bucket
    discharge_kwh        double,                -- >= 0, like every *_kwh and *_ah here
    charge_ah            double,                -- null: no current in the bucket
    discharge_ah         double,
    kwh_source           varchar,               -- power | vi | null
    covered_s            double      not null,  -- seconds the kWh source integrated
    gap_s                double      not null,  -- seconds inside its gaps (> max_gap_s)
    ah_covered_s         double      not null,  -- the same for the current channel
    ah_gap_s             double      not null,
    power_charge_kwh     double,                -- from the power channel alone
    power_discharge_kwh  double,
    power_covered_s      double      not null,
    vi_charge_kwh        double,                -- from V·I alone
    vi_discharge_kwh     double,
    vi_covered_s         double      not null,
    tariff_period        varchar,               -- null: the flat prices
    import_price_per_kwh double      not null,
    export_price_per_kwh double      not null,
    cost                 double                 -- in settings.currency; < 0: money earned
);

-- The build's compute step (warehouse.py runs it for the `targets` temp table of (mac,
-- local_date); `scope_readings` holds the readings those days can depend on,
-- `scope_reading_buckets` counts them per bucket and local day, and `scope_boundaries` has one
-- stand-in reading per channel where the lake has readings before or after the scope, so the gap
-- from or to them is counted). Days without readings get no rows, even inside a gap.
delete from energy_interval as e
using targets as t
where e.mac = t.mac and e.local_date = t.local_date;

insert into energy_interval by name
with
scope as (
    select mac, type, ts, value from scope_readings
    union all
    select mac, type, ts, value from scope_boundaries
),

intervals as (
    from channel_intervals(scope, ['power', 'current', 'vi'])
),

buckets as (
    from bucket_energy(intervals, null, null)
),

days as (
    select t.mac, t.local_date
    from targets as t
    semi join scope_reading_buckets as r on t.mac = r.mac and t.local_date = r.local_date
)

select b.*
from buckets as b
semi join days as d on b.mac = d.mac and b.local_date = d.local_date;
