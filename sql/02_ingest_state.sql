-- Per MAC: the instant up to which readings have been pulled without a hole. `daily` pulls from
-- watermark minus the configured lookback (late data) up to now.
create table if not exists ingest_state (
    mac             bigint primary key,
    watermark       timestamptz not null,
    last_run_id     varchar,
    updated_at      timestamptz
);
