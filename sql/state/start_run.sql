insert into runs (run_id, flow, started_at, state, macs) values ($run_id, $flow, now(), 'running', $macs);
