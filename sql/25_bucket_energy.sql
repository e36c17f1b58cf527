-- bucket_energy(ivals, lo_ms, hi_ms): per BESS and bucket of the grid, the energy, charge and
-- cost of intervals `ivals` (channel_intervals of 'power', 'current' and 'vi') clipped to
-- [lo_ms, hi_ms] (epoch ms; null: unbounded). energy_interval stores it unclipped;
-- energy_between sums it over a span.
--
-- kWh source, per bucket: the power channel when any of its non-gap intervals covers part of
-- the bucket, else V·I (the current intervals' vi0/vi1) when that does, else none (kWh null).
-- The choice is made on the whole bucket even when a span clips it, so spans add up. covered_s
-- and gap_s are the chosen source's (with no source: the larger gap of the two). Ah always comes
-- from current; a bucket the current does not cover has null Ah.
--
-- Cost: a bucket takes the tariff in force at its start (local wall clock and weekday): the
-- first time-of-use period that matches by period_order, else the flat prices. cost =
-- import price × kWh charged − export price × kWh discharged (negative: money earned).
create or replace macro bucket_energy(ivals, lo_ms, hi_ms) as table
with
cfg as (
    select timezone, import_per_kwh, export_per_kwh from settings
),

per_channel as (
    -- summed per channel first, then pivoted: fewer aggregates over the many pieces
    select
        mac,
        channel,
        bucket_start_ms,
        sum(pos_area) as pos_area,
        sum(neg_area) as neg_area,
        sum(covered_s) as covered_s,
        sum(gap_s) as gap_s,
        sum(bucket_covered_s) as bucket_covered_s,
        sum(vi_pos_area) as vi_pos_area,
        sum(vi_neg_area) as vi_neg_area,
        sum(vi_covered_s) as vi_covered_s,
        sum(vi_gap_s) as vi_gap_s,
        sum(vi_bucket_covered_s) as vi_bucket_covered_s
    from interval_pieces(ivals, lo_ms, hi_ms)
    where channel in ('power', 'current')
    group by mac, channel, bucket_start_ms
),

per_bucket as (
    -- areas are in value × s: / 3600 makes kW·s kWh and A·s Ah; V·I rides on current
    select
        mac,
        bucket_start_ms,
        coalesce(sum(pos_area) filter (where channel = 'power'), 0) / 3600 as power_charge_kwh,
        0 - coalesce(sum(neg_area) filter (where channel = 'power'), 0) / 3600
            as power_discharge_kwh,
        coalesce(sum(covered_s) filter (where channel = 'power'), 0) as power_covered_s,
        coalesce(sum(gap_s) filter (where channel = 'power'), 0) as power_gap_s,
        coalesce(sum(bucket_covered_s) filter (where channel = 'power'), 0) as power_bucket_s,
        coalesce(sum(vi_pos_area), 0) / 3600 as vi_charge_kwh,
        0 - coalesce(sum(vi_neg_area), 0) / 3600 as vi_discharge_kwh,
        coalesce(sum(vi_covered_s), 0) as vi_covered_s,
        coalesce(sum(vi_gap_s), 0) as vi_gap_s,
        coalesce(sum(vi_bucket_covered_s), 0) as vi_bucket_s,
        coalesce(sum(pos_area) filter (where channel = 'current'), 0) / 3600 as current_charge_ah,
        0 - coalesce(sum(neg_area) filter (where channel = 'current'), 0) / 3600
            as current_discharge_ah,
        coalesce(sum(covered_s) filter (where channel = 'current'), 0) as ah_covered_s,
        coalesce(sum(gap_s) filter (where channel = 'current'), 0) as ah_gap_s,
        coalesce(sum(bucket_covered_s) filter (where channel = 'current'), 0) as ah_bucket_s
    from per_channel
    group by mac, bucket_start_ms
),

sourced as (
    select
        b.*,
        case
            when b.power_bucket_s > 0 then 'power'
            when b.vi_bucket_s > 0 then 'vi'
        end as kwh_source,
        timezone('UTC', epoch_ms(b.bucket_start_ms)) as interval_start,
        timezone(cfg.timezone, timezone('UTC', epoch_ms(b.bucket_start_ms)))
            as interval_start_local
    from per_bucket as b
    cross join cfg
),

priced as (
    select
        s.*,
        p.name as tariff_period,
        coalesce(p.import_per_kwh, cfg.import_per_kwh) as import_price_per_kwh,
        coalesce(p.export_per_kwh, cfg.export_per_kwh) as export_price_per_kwh
    from sourced as s
    cross join cfg
    left join tariff_periods as p
        on
            list_contains(
                p.days,
                ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'][isodow(s.interval_start_local)]
            )
            and s.interval_start_local::time >= p.start_local
            and s.interval_start_local::time < p.end_local
    qualify row_number() over (partition by s.mac, s.bucket_start_ms order by p.period_order) = 1
),

chosen as (
    select
        *,
        case kwh_source
            when 'power' then power_charge_kwh when 'vi' then vi_charge_kwh
        end as charge_kwh,
        case kwh_source
            when 'power' then power_discharge_kwh when 'vi' then vi_discharge_kwh
        end as discharge_kwh
    from priced
)

select
    mac,
    interval_start,
    interval_start_local,
    interval_start_local::date as local_date,
    charge_kwh,
    discharge_kwh,
    case when ah_bucket_s > 0 then current_charge_ah end as charge_ah,
    case when ah_bucket_s > 0 then current_discharge_ah end as discharge_ah,
    kwh_source,
    case kwh_source
        when 'power' then power_covered_s when 'vi' then vi_covered_s else 0::double
    end as covered_s,
    case kwh_source
        when 'power' then power_gap_s
        when 'vi' then vi_gap_s
        else greatest(power_gap_s, vi_gap_s)
    end as gap_s,
    ah_covered_s,
    ah_gap_s,
    case when power_bucket_s > 0 then power_charge_kwh end as power_charge_kwh,
    case when power_bucket_s > 0 then power_discharge_kwh end as power_discharge_kwh,
    power_covered_s,
    case when vi_bucket_s > 0 then vi_charge_kwh end as vi_charge_kwh,
    case when vi_bucket_s > 0 then vi_discharge_kwh end as vi_discharge_kwh,
    vi_covered_s,
    tariff_period,
    import_price_per_kwh,
    export_price_per_kwh,
    import_price_per_kwh * charge_kwh - export_price_per_kwh * discharge_kwh as cost
from chosen;
