select mac, date, state from partition_ledger where list_contains($macs, mac);
