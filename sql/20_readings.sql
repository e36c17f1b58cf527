-- The lake: every reading of every BESS, channel names joined from the mapping (unknown types
-- are kept, with a null channel). `date` is the UTC date of the lake partition; `ts` is UTC.
-- {{readings_glob}} is the lake's absolute glob, put in by warehouse.py as a quoted literal: a
-- table function's path inside CREATE VIEW is the one thing that cannot be a bound parameter.
create or replace view readings as
with lake as (
    select mac, date, type, ts, value
    from read_parquet(
        {{readings_glob}},
        hive_partitioning = true,
        hive_types = {'mac': bigint, 'date': date}
    )
)

select
    lake.mac,
    lake.date,
    lake.type,
    m.channel,
    m.unit,
    lake.ts,
    lake.value
from lake
left join channel_map as m on lake.type = m.type;
