-- The (mac, local day) pairs a rebuild recomputes: for each BESS in the lake or already in
-- daily_energy (only $macs when given), the local days $start..$end (null: from the first to
-- the last reading in the lake, plus every day daily_energy holds, so no stale row survives).
create or replace temp table targets as
with
cfg as (
    select timezone from settings
),

lake_extent as (
    select
        p.mac,
        timezone(cfg.timezone, min(p.first_ts))::date as first_day,
        timezone(cfg.timezone, max(p.last_ts))::date as last_day
    from lake_partitions as p
    cross join cfg
    group by p.mac, cfg.timezone
),

known as (
    select mac from lake_extent
    union
    select distinct mac from daily_energy
),

wanted as (
    select mac
    from known
    where $macs::bigint[] is null or list_contains($macs::bigint[], mac)
),

ranges as (
    select
        w.mac,
        coalesce($start::date, x.first_day) as first_day,
        coalesce($end::date, x.last_day) as last_day
    from wanted as w
    left join lake_extent as x on w.mac = x.mac
),

days as (
    select
        mac,
        unnest(range(first_day, last_day + 1, interval 1 day))::date as local_date
    from ranges
    where first_day is not null and last_day is not null
    union
    select d.mac, d.local_date
    from daily_energy as d
    semi join wanted as w on d.mac = w.mac
    where
        ($start::date is null or d.local_date >= $start::date)
        and ($end::date is null or d.local_date <= $end::date)
)

from target_days(days);
