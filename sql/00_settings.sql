-- The run's settings as one row, rewritten from the config on every build, so SQL reads
-- configuration from tables and never from text formatted into it.
create or replace table settings as
select
    $timezone::varchar as timezone,               -- site zone: local days, wall clock, tariff
    $max_gap_s::double as max_gap_s,              -- longer intervals are gaps, not integrated
    $interval_minutes::integer as interval_minutes,  -- energy_interval bucket (UTC grid = local)
    $current_sign::varchar as current_sign,       -- charge_positive | discharge_positive
    $sign::double as sign,                        -- multiplier making current and kW charge > 0
    $import_per_kwh::double as import_per_kwh,    -- flat price per kWh charged (outside periods)
    $export_per_kwh::double as export_per_kwh,    -- flat credit per kWh discharged
    $currency::varchar as currency,
    $lake_dir::varchar as lake_dir;

-- Site-local days (mac, local_date) with their bounds: the `targets` rows of a compute run.
create or replace macro target_days(days) as table
select
    d.mac,
    d.local_date,
    timezone(s.timezone, d.local_date::timestamp) as day_start,
    timezone(s.timezone, (d.local_date + 1)::timestamp) as day_end
from query_table(days) as d
cross join settings as s;

-- A hash of what the last schema build ran (every build file's schema statements, their
-- parameters, the lake's path, the DuckDB version): bess_etl/warehouse.py build_schema skips a
-- build that would change nothing, since re-creating the views re-lists the whole lake.
create table if not exists schema_build (fingerprint varchar not null);
