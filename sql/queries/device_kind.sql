-- Whether the account lists a MAC as a BESS (no row: not listed, e.g. imported data).
select is_bess from devices where mac = $mac
