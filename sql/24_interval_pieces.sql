-- interval_pieces(ivals, lo_ms, hi_ms): intervals (channel_intervals' columns) cut at every edge
-- of the bucket grid (interval_minutes on the UTC grid, which config validation makes equal to the
-- site-local grid, so local midnight is an edge too), the value linearly interpolated at each
-- edge, so buckets add up exactly to days and days to any span.
--
-- Only the buckets that [lo_ms, hi_ms] (epoch ms; null: unbounded) touches are returned, and
-- within them the integrated part is clipped to [lo_ms, hi_ms]: pos_area / neg_area (value × s),
-- covered_s and gap_s count the clipped part only, bucket_covered_s the whole bucket (a bucket's
-- kWh source is chosen on the whole bucket, so a span's total is the sum of its buckets' parts).
-- vi_* are the same for the V·I values of current intervals (zero for other channels).
create or replace macro interval_pieces(ivals, lo_ms, hi_ms) as table
with
grid as (
    select
        interval_minutes * 60000 as bucket_ms,
        lo_ms // (interval_minutes * 60000) * (interval_minutes * 60000) as lo_edge_ms,
        (hi_ms + interval_minutes * 60000 - 1) // (interval_minutes * 60000)
        * (interval_minutes * 60000) as hi_edge_ms
    from settings
),

cut as (
    -- one row per bucket an interval overlaps (one that ends on an edge stops before it)
    select
        i.mac,
        i.type,
        i.channel,
        i.t0_ms,
        i.t1_ms,
        i.v0,
        i.v1,
        i.vi0,
        i.vi1,
        i.is_gap,
        i.vi_is_gap,
        g.bucket_ms,
        g.lo_edge_ms,
        g.hi_edge_ms,
        unnest(range(i.t0_ms // g.bucket_ms, (i.t1_ms - 1) // g.bucket_ms + 1)) as bucket
    from query_table(ivals) as i
    cross join grid as g
    where
        (lo_ms is null or i.t1_ms > g.lo_edge_ms)
        and (hi_ms is null or i.t0_ms < g.hi_edge_ms)
),

pieces as (
    select
        mac,
        type,
        channel,
        bucket * bucket_ms as bucket_start_ms,
        t0_ms,
        t1_ms,
        v0,
        v1,
        vi0,
        vi1,
        is_gap,
        vi_is_gap,
        greatest(t0_ms, bucket * bucket_ms) as a_ms,
        least(t1_ms, (bucket + 1) * bucket_ms) as b_ms,
        greatest(t0_ms, bucket * bucket_ms, coalesce(lo_ms, t0_ms)) as ca_ms,
        least(t1_ms, (bucket + 1) * bucket_ms, coalesce(hi_ms, t1_ms)) as cb_ms
    from cut
    where
        (lo_ms is null or bucket * bucket_ms >= lo_edge_ms)
        and (hi_ms is null or bucket * bucket_ms < hi_edge_ms)
),

clipped as (
    select
        *,
        cb_ms > ca_ms as in_span,
        (cb_ms - ca_ms) / 1000 as clip_s,
        interpolate_at(t0_ms, v0, t1_ms, v1, ca_ms) as va,
        interpolate_at(t0_ms, v0, t1_ms, v1, cb_ms) as vb,
        interpolate_at(t0_ms, vi0, t1_ms, vi1, ca_ms) as wa,
        interpolate_at(t0_ms, vi0, t1_ms, vi1, cb_ms) as wb
    from pieces
)

select
    mac,
    type,
    channel,
    bucket_start_ms,
    case when is_gap then 0::double else (b_ms - a_ms) / 1000 end as bucket_covered_s,
    case when not is_gap and in_span then clip_s else 0::double end as covered_s,
    case when is_gap and in_span then clip_s else 0::double end as gap_s,
    case when not is_gap and in_span then trapezoid_pos(va, vb, clip_s) else 0::double end
        as pos_area,
    case when not is_gap and in_span then trapezoid_neg(va, vb, clip_s) else 0::double end
        as neg_area,
    -- vi_is_gap is null where there is no V·I: neither covered nor a gap
    case when not vi_is_gap then (b_ms - a_ms) / 1000 else 0::double end as vi_bucket_covered_s,
    case when not vi_is_gap and in_span then clip_s else 0::double end as vi_covered_s,
    case when vi_is_gap and in_span then clip_s else 0::double end as vi_gap_s,
    case when not vi_is_gap and in_span then trapezoid_pos(wa, wb, clip_s) else 0::double end
        as vi_pos_area,
    case when not vi_is_gap and in_span then trapezoid_neg(wa, wb, clip_s) else 0::double end
        as vi_neg_area
from clipped;
