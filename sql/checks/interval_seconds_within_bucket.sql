-- Integrated seconds plus gap seconds cannot exceed a bucket's length (a double-counted or
-- mis-cut interval would).
select e.mac, e.interval_start, e.covered_s, e.gap_s, e.ah_covered_s, e.ah_gap_s
from energy_interval as e
cross join settings as s
where
    e.covered_s + e.gap_s > s.interval_minutes * 60 + 1e-6
    or e.ah_covered_s + e.ah_gap_s > s.interval_minutes * 60 + 1e-6;
