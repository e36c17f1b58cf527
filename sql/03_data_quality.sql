-- Per lake partition (mac, UTC date): what ingest saw among readings new to the lake, accumulated
-- over pulls. Invalid readings are in the quarantine area of the lake with their reason.
create table if not exists data_quality (
    mac                  bigint not null,
    date                 date   not null,
    rows_valid           bigint not null default 0,
    rows_new             bigint not null default 0,
    duplicates           bigint not null default 0,
    out_of_order         bigint not null default 0,
    invalid_null         bigint not null default 0,
    invalid_nan          bigint not null default 0,
    invalid_inf          bigint not null default 0,
    invalid_out_of_range bigint not null default 0,
    updated_at           timestamptz,
    primary key (mac, date)
);
