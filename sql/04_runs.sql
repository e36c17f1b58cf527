-- One row per flow run: what it pulled and recomputed (also left as a Prefect artifact).
create table if not exists runs (
    run_id            varchar primary key,
    flow              varchar not null,
    started_at        timestamptz not null,
    finished_at       timestamptz,
    state             varchar not null,  -- running | completed | failed
    macs              bigint[],
    rows_pulled       bigint,
    partitions_changed bigint,
    days_recomputed   bigint,
    summary           json
);
