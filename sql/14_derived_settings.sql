-- The settings the derived tables were computed with (one row, as JSON). A recompute or partial
-- rebuild under other settings would mix old and new rows, so warehouse.py refuses it and asks
-- for a full rebuild, which rewrites this row.
create table if not exists derived_settings (
    settings   json        not null,
    updated_at timestamptz not null
);
