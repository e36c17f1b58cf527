-- Time-of-use periods: local wall-clock [start_local, end_local) on the listed weekdays
-- ('mon'..'sun'). The lowest period_order that matches a bucket's start wins; a bucket no period
-- matches gets the flat prices in `settings`.
create or replace table tariff_periods as
select
    unnest($period_orders::integer[]) as period_order,
    unnest($period_names::varchar[]) as name,
    unnest($period_days::varchar[][]) as days,
    unnest($period_starts::time[]) as start_local,
    unnest($period_ends::time[]) as end_local,  -- '24:00:00' for the end of the day
    unnest($period_import_per_kwh::double[]) as import_per_kwh,
    unnest($period_export_per_kwh::double[]) as export_per_kwh;
