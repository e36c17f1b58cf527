-- One row per pulled window (or imported file slice): the backfill ledger and the run history.
-- A window is [window_start, window_end) inside one UTC-date partition of one MAC.
create table if not exists ingest_log (
    run_id        varchar     not null,
    flow          varchar     not null,  -- daily | backfill | import
    mac           bigint      not null,
    date          date        not null,  -- UTC date of the lake partition
    window_start  timestamptz not null,
    window_end    timestamptz not null,  -- exclusive
    state         varchar     not null,  -- ok | failed
    rows_received bigint,                -- readings in the response, invalid ones included
    rows_valid    bigint,
    rows_new      bigint,                -- readings the lake did not have
    duplicates    bigint,
    out_of_order  bigint,
    invalid       bigint,
    changed       boolean,               -- the partition file was rewritten
    error         varchar,
    started_at    timestamptz,
    finished_at   timestamptz
);
