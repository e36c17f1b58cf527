-- The (mac, local day) pairs to recompute after the lake partitions in temp table
-- `changed_partitions` (mac, date) changed: every local day that the partition's UTC day touches,
-- and every day touched by the intervals that begin or end in it. Those reach back to the
-- nearest earlier reading of each integrated channel and forward to the nearest later one
-- (found in lake_partitions), which is within max_gap_s unless the interval is a gap, whose
-- seconds still count on the days it spans.
create or replace temp table targets as
with
cfg as (
    select timezone from settings
),

changed as (
    select
        mac,
        date,
        timezone('UTC', date::timestamp) as part_start,
        timezone('UTC', (date + 1)::timestamp) as part_end
    from changed_partitions
),

neighbours as (
    -- per changed partition and channel: the last reading before it and the first after it
    select
        c.mac,
        c.date,
        p.type,
        max(p.last_ts) filter (where p.date < c.date) as prev_ts,
        min(p.first_ts) filter (where p.date > c.date) as next_ts
    from changed as c
    inner join lake_partitions as p on c.mac = p.mac
    where p.type in (select type from integrated_types)
    group by c.mac, c.date, p.type
),

spans as (
    select
        c.mac,
        least(c.part_start, min(n.prev_ts)) as span_start,
        greatest(c.part_end, max(n.next_ts)) as span_end
    from changed as c
    left join neighbours as n on c.mac = n.mac and c.date = n.date
    group by c.mac, c.date, c.part_start, c.part_end
),

days as (
    select distinct
        s.mac,
        unnest(
            range(
                timezone(cfg.timezone, s.span_start)::date,
                timezone(cfg.timezone, s.span_end)::date + 1,
                interval 1 day
            )
        )::date as local_date
    from spans as s
    cross join cfg
)

from target_days(days);
