-- energy_between(for_mac, span_start, span_end): charge and discharge kWh and Ah, and cost, of
-- one BESS over any span [span_start, span_end] (TIMESTAMPTZ; text without a zone is read in
-- the session's zone), its edges cut like bucket edges, so energy_between over a local day equals
-- that day's daily_energy and the sum of its energy_interval rows.
--
-- It reads only that MAC's lake partitions and readings from (the span's first bucket start −
-- 2 × max_gap_s) to (its last bucket end + max_gap_s) before any window function. That is exact:
-- an interval that can contribute is a non-gap one (≤ max_gap_s) touching those buckets, so both
-- its ends lie in that range, and the voltage as of each end (for V·I) at most max_gap_s before.
-- covered_s is the seconds the kWh source integrated inside the span (gaps are not reported
-- here: a gap's far end may lie outside what is read).
create or replace macro energy_between(for_mac, span_start, span_end) as table
with
reach as (
    select
        epoch_ms(span_start::timestamptz)
        // (interval_minutes * 60000) * (interval_minutes * 60000)
        - 2 * max_gap_s * 1000 as from_ms,
        (epoch_ms(span_end::timestamptz) + interval_minutes * 60000 - 1)
        // (interval_minutes * 60000) * (interval_minutes * 60000)
        + max_gap_s * 1000 as to_ms
    from settings
),

lake as (
    select r.mac, r.type, r.ts, r.value
    from readings as r
    cross join reach
    where
        r.mac = for_mac
        and r.date >= epoch_ms(reach.from_ms::bigint)::date
        and r.date <= epoch_ms(reach.to_ms::bigint)::date
        and r.ts >= timezone('UTC', epoch_ms(reach.from_ms::bigint))
        and r.ts <= timezone('UTC', epoch_ms(reach.to_ms::bigint))
),

intervals as (
    from channel_intervals(lake, ['power', 'current', 'vi'])
),

buckets as (
    from
        bucket_energy(
            intervals,
            epoch_ms(span_start::timestamptz),
            epoch_ms(span_end::timestamptz)
        )
),

totals as (
    select
        sum(charge_kwh) as charge_kwh,
        sum(discharge_kwh) as discharge_kwh,
        sum(charge_kwh) - sum(discharge_kwh) as net_kwh,
        sum(charge_ah) as charge_ah,
        sum(discharge_ah) as discharge_ah,
        sum(cost) as cost,
        coalesce(sum(covered_s), 0) as covered_s,
        coalesce(sum(ah_covered_s), 0) as ah_covered_s
    from buckets
)

select
    for_mac::bigint as mac,
    span_start::timestamptz as span_start,
    span_end::timestamptz as span_end,
    totals.*
from totals;
