-- Watermarks only move forward.
insert into ingest_state by name
select mac, watermark, run_id as last_run_id, now() as updated_at from watermark_batch
on conflict (mac) do update set
    watermark = greatest(ingest_state.watermark, excluded.watermark),
    last_run_id = excluded.last_run_id,
    updated_at = excluded.updated_at;
