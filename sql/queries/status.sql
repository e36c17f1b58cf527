-- `bess-etl status`: one row per BESS known to the warehouse.
with bess as (
    select mac from ingest_state
    union
    select mac from data_quality
    union
    select mac from devices where is_bess
),

quality as (
    select
        mac,
        count(*) filter (where rows_new > 0) as lake_days,
        sum(rows_new) as readings,
        sum(duplicates) as duplicates,
        sum(out_of_order) as out_of_order,
        sum(invalid_null + invalid_nan + invalid_inf + invalid_out_of_range) as quarantined
    from data_quality
    group by mac
),

ledger as (
    select
        mac,
        count(*) filter (where state = 'complete') as complete_days,
        count(*) filter (where state = 'failed') as failed_days
    from partition_ledger
    group by mac
),

last_run as (
    select flow, state, finished_at, run_id
    from runs
    order by started_at desc
    limit 1
)

select
    b.mac,
    d.description,
    strftime(s.watermark at time zone 'UTC', '%Y-%m-%d %H:%M:%SZ') as watermark_utc,
    coalesce(q.lake_days, 0) as lake_days,
    coalesce(l.complete_days, 0) as complete_days,
    coalesce(l.failed_days, 0) as failed_days,
    coalesce(q.readings, 0) as readings,
    coalesce(q.duplicates, 0) as duplicates,
    coalesce(q.out_of_order, 0) as out_of_order,
    coalesce(q.quarantined, 0) as quarantined,
    r.flow || ' ' || r.state || ' '
    || coalesce(strftime(r.finished_at at time zone 'UTC', '%Y-%m-%d %H:%M:%SZ'), '') as last_run
from bess as b
left join devices as d on b.mac = d.mac
left join ingest_state as s on b.mac = s.mac
left join quality as q on b.mac = q.mac
left join ledger as l on b.mac = l.mac
left join last_run as r on true
order by b.mac;
