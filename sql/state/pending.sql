select mac, date from pending_recompute order by mac, date;
