-- Drop BESS $mac's cycles starting at or after $start_ms (epoch ms; 0: all of them) before an
-- incremental re-detection inserts them again (bess_etl/analytics/build.py).
delete from cycles
where mac = $mac and epoch_ms(start_ts) >= $start_ms;
