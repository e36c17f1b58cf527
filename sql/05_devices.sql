-- The account's devices as `client/locationview` lists them, and whether each is a battery.
create table if not exists devices (
    mac              bigint primary key,
    description      varchar,
    location_id      bigint,
    location         varchar,
    city             varchar,
    state            varchar,
    country          varchar,
    lat              double,
    lon              double,
    last_report_time timestamptz,
    is_bess          boolean,   -- reports the battery channels (voltage and current or power)
    updated_at       timestamptz
);
