-- The backfill ledger: per lake partition (mac, UTC date), whether it has been pulled whole.
-- complete: some successful pull covered the whole UTC day; failed: the latest pull failed and
-- none covered it; partial: pulled, but only part of the day (e.g. today, by the daily run).
create or replace view partition_ledger as
with pulls as (
    select
        *,
        timezone('UTC', date::timestamp) as day_start,
        timezone('UTC', (date + 1)::timestamp) as day_end
    from ingest_log
    where flow <> 'import'
),

per_partition as (
    select
        mac,
        date,
        bool_or(state = 'ok' and window_start <= day_start and window_end >= day_end)
            as covered,
        arg_max(state, finished_at) as last_state,
        arg_max(run_id, finished_at) as last_run_id,
        arg_max(error, finished_at) as last_error,
        max(finished_at) as last_pulled_at,
        sum(rows_new) as rows_new_total,
        count(*) as pulls
    from pulls
    group by mac, date
)

select
    mac,
    date,
    case
        when covered then 'complete'
        when last_state = 'failed' then 'failed'
        else 'partial'
    end as state,
    rows_new_total,
    pulls,
    last_run_id as run_id,
    last_pulled_at,
    last_error
from per_partition;
