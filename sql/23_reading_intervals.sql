-- Every interval of every channel in the lake, with its trapezoid split at the zero crossing,
-- plus the derived V·I series (channel 'vi', unit kW, type null) on the current's intervals.
-- Areas are in the channel's unit × hours and charge-positive: for current pos_area_h is Ah
-- charged and -neg_area_h Ah discharged; for power and 'vi' they are kWh. Gaps (is_gap) have no
-- area. Filter on mac (and t0/t1) when querying: the view reads the whole lake.
create or replace view reading_intervals as
with
intervals as (
    from channel_intervals(readings, null)
),

atoms as (
    select mac, type, channel, unit, t0_ms, t1_ms, v0, v1, dt_s, is_gap
    from intervals
    union all
    select mac, null::integer, 'vi', 'kW', t0_ms, t1_ms, vi0, vi1, dt_s, vi_is_gap
    from intervals
    where vi_is_gap is not null
)

select
    mac,
    type,
    channel,
    unit,
    timezone('UTC', epoch_ms(t0_ms)) as t0,
    timezone('UTC', epoch_ms(t1_ms)) as t1,
    v0,
    v1,
    dt_s,
    is_gap,
    case when is_gap then 0::double else trapezoid_pos(v0, v1, dt_s) / 3600 end as pos_area_h,
    case when is_gap then 0::double else trapezoid_neg(v0, v1, dt_s) / 3600 end as neg_area_h
from atoms;
