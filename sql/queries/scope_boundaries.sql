-- Stand-in readings just outside the scope, one per BESS and integrated channel where the lake
-- has readings before (or after) it: the interval from the real reading out there to the
-- scope's first (last) reading is then a gap, as it is in the whole lake (it is longer than
-- max_gap_s since the scope reaches max_gap_s past every target day), and its seconds inside a
-- target day count in gap_s. Their values are never integrated.
create or replace temp table scope_boundaries as
with
cfg as (
    select max_gap_s from settings
),

scope_ends as (
    select mac, min(date) as first_date, max(date) as last_date
    from scope_partitions
    group by mac
),

outside as (
    select
        e.mac,
        p.type,
        bool_or(p.date < e.first_date) as has_before,
        bool_or(p.date > e.last_date) as has_after,
        any_value(e.first_date) as first_date,
        any_value(e.last_date) as last_date
    from scope_ends as e
    inner join lake_partitions as p on e.mac = p.mac
    where p.type in (select type from integrated_types)
    group by e.mac, p.type
)

select
    o.mac,
    o.type,
    timezone('UTC', o.first_date::timestamp) - to_seconds(cfg.max_gap_s + 1) as ts,
    0::double as value
from outside as o
cross join cfg
where o.has_before
union all
select
    o.mac,
    o.type,
    timezone('UTC', (o.last_date + 1)::timestamp) + to_seconds(cfg.max_gap_s + 1) as ts,
    0::double as value
from outside as o
cross join cfg
where o.has_after;
