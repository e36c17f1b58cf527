-- channel_intervals(src, channels): consecutive readings of one channel of one BESS as
-- intervals, the atoms every total is summed from. `src` is any relation with the lake's columns
-- (mac, type, ts, value): the readings view, a CTE that prunes it, or the build's scope.
-- `channels` lists the channel names to return (null: every type, unknown ones included); with
-- 'vi' in it (or null), current intervals also carry V·I.
--
-- Values are charge-positive (channel_map.sign applied). An interval is a gap (is_gap: not
-- integrated) when it is longer than max_gap_s. V·I (kW) is the current's own series: at each
-- current reading, current × the voltage as of that instant (the latest voltage reading at or
-- before it, at most max_gap_s older) / 1000, in vi0 and vi1; vi_is_gap is also true when either
-- end has no voltage as of it. Other channels (and current without 'vi') have vi_is_gap null.
create or replace macro channel_intervals(src, channels) as table
with
cfg as (
    select
        max_gap_s * 1000 as max_gap_ms,
        channels is null or list_contains(channels, 'vi') as with_vi
    from settings
),

named as (
    select
        r.mac,
        r.type,
        m.channel,
        m.unit,
        epoch_ms(r.ts) as t_ms,
        r.value * coalesce(m.sign, 1) as value
    from query_table(src) as r
    left join channel_map as m on r.type = m.type
),

voltage as (
    select n.mac, n.t_ms, n.value as voltage_v
    from named as n
    cross join cfg
    where n.channel = 'voltage' and cfg.with_vi
),

points as (
    -- every wanted channel; current goes through the as-of join below when V·I is wanted
    select
        n.mac,
        n.type,
        n.channel,
        n.unit,
        n.t_ms,
        n.value,
        null::double as vi_kw,
        false as has_vi
    from named as n
    cross join cfg
    where
        (channels is null or list_contains(channels, n.channel))
        and not (cfg.with_vi and n.channel is not distinct from 'current')
    union all
    select
        c.mac,
        c.type,
        c.channel,
        c.unit,
        c.t_ms,
        c.value,
        case when c.t_ms - v.t_ms <= cfg.max_gap_ms then c.value * v.voltage_v / 1000 end
            as vi_kw,
        true as has_vi
    from named as c
    asof left join voltage as v on c.mac = v.mac and c.t_ms >= v.t_ms
    cross join cfg
    where c.channel = 'current' and cfg.with_vi
),

intervals as (
    select
        mac,
        type,
        channel,
        unit,
        lag(t_ms) over w as t0_ms,
        t_ms as t1_ms,
        lag(value) over w as v0,
        value as v1,
        lag(vi_kw) over w as vi0,
        vi_kw as vi1,
        has_vi
    from points
    window w as (partition by mac, type order by t_ms)
)

select
    i.mac,
    i.type,
    i.channel,
    i.unit,
    i.t0_ms,
    i.t1_ms,
    i.v0,
    i.v1,
    i.vi0,
    i.vi1,
    (i.t1_ms - i.t0_ms) / 1000 as dt_s,
    i.t1_ms - i.t0_ms > cfg.max_gap_ms as is_gap,
    case
        when i.has_vi then i.t1_ms - i.t0_ms > cfg.max_gap_ms or i.vi0 is null or i.vi1 is null
    end as vi_is_gap
from intervals as i
cross join cfg
where i.t0_ms is not null;
