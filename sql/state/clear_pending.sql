delete from pending_recompute p using done_batch d where p.mac = d.mac and p.date = d.date;
