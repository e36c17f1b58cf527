insert into pending_recompute by name select mac, date from pending_batch
on conflict do nothing;
