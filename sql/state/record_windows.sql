-- $windows: one row per pulled window (ingest_log's columns), registered from Arrow.
insert into ingest_log by name select * from windows_batch;
