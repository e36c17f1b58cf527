-- The scope's readings counted per BESS, type and bucket, with the local day of the bucket:
-- which target days have readings at all (only those get rows) and the reading statistics of
-- daily_energy. Counting per bucket first (integer arithmetic) and putting buckets on local days
-- is cheaper than converting every reading to local time; a bucket never straddles midnight.
create or replace temp table scope_reading_buckets as
with
cfg as (
    select timezone, interval_minutes * 60000 as bucket_ms from settings
),

per_bucket as (
    select
        r.mac,
        r.type,
        epoch_ms(r.ts) // cfg.bucket_ms * cfg.bucket_ms as bucket_start_ms,
        count(*) as n,
        min(r.value) as lo,
        max(r.value) as hi,
        sum(r.value) as total
    from scope_readings as r
    cross join cfg
    group by all
)

select
    b.*,
    timezone(cfg.timezone, timezone('UTC', epoch_ms(b.bucket_start_ms)))::date as local_date
from per_bucket as b
cross join cfg;
