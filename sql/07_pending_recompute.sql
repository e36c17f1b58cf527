-- Partitions whose readings changed and whose derived rows are not yet recomputed. Written in the
-- same transaction as the ledger, cleared after the recompute: a run killed between the pull
-- and the recompute leaves them here, and the next run recomputes them first.
create table if not exists pending_recompute (
    mac  bigint not null,
    date date   not null,  -- UTC date of the lake partition
    primary key (mac, date)
);
