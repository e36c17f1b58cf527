select mac, epoch_ms(watermark) as watermark_ms from ingest_state;
