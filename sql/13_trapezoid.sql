-- The trapezoid of a straight segment from va to vb over dt_s seconds, split at its zero
-- crossing: trapezoid_pos is the area above zero (>= 0), trapezoid_neg the area below (<= 0), in
-- value-unit × s. Where va and vb have opposite signs the line crosses zero at |va|/(|va|+|vb|)
-- of the way, so the two triangles are p²/(p+|n|)·dt/2 and n²/(p+|n|)·dt/2 (p > 0 > n); the two
-- always add up to (va + vb)/2 · dt, and are exact for piecewise-linear signals.
create or replace macro trapezoid_pos(va, vb, dt_s) as
    case
        when va >= 0 and vb >= 0 then (va + vb) / 2 * dt_s
        when va <= 0 and vb <= 0 then 0::double
        else greatest(va, vb) * greatest(va, vb) / (abs(va) + abs(vb)) * dt_s / 2
    end;

create or replace macro trapezoid_neg(va, vb, dt_s) as
    case
        when va <= 0 and vb <= 0 then (va + vb) / 2 * dt_s
        when va >= 0 and vb >= 0 then 0::double
        else -(least(va, vb) * least(va, vb)) / (abs(va) + abs(vb)) * dt_s / 2
    end;

-- The value at t_ms on the straight line through (t0_ms, v0) and (t1_ms, v1): how a bucket edge
-- or a span edge cuts an interval.
-- The ends themselves are returned as they are, so an uncut interval keeps its exact values.
create or replace macro interpolate_at(t0_ms, v0, t1_ms, v1, t_ms) as
    case
        when t_ms = t0_ms then v0
        when t_ms = t1_ms then v1
        else v0 + (v1 - v0) * ((t_ms - t0_ms) / (t1_ms - t0_ms))
    end;
