update runs set
    finished_at = now(),
    state = $state,
    rows_pulled = $rows_pulled,
    partitions_changed = $partitions_changed,
    days_recomputed = $days_recomputed,
    summary = $summary
where run_id = $run_id;
