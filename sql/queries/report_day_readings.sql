-- One BESS's voltage, current (charge-positive) and power readings over site-local day $day, in
-- site-local time, for the report's traces.
select
    m.channel,
    timezone($timezone, r.ts) as local_ts,
    r.value * coalesce(m.sign, 1) as value
from readings as r
inner join channel_map as m on r.type = m.type
where
    r.mac = $mac
    and m.channel in ('voltage', 'current', 'power')
    and r.date between $day::date - 1 and $day::date + 1
    and r.ts >= timezone($timezone, $day::timestamp)
    and r.ts < timezone($timezone, ($day::date + 1)::timestamp)
order by m.channel, r.ts;
