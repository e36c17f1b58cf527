-- The lake partitions (mac, UTC date) lake_partitions knows, to compare with the lake itself.
select distinct mac, date from lake_partitions;
