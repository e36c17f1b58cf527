-- Aretas sensor type -> channel name, unit and sign (current and power get the configured sign,
-- so that charge is positive after multiplying; other channels 1). Absent channels have no row.
create or replace table channel_map as
select
    unnest($channel_types::integer[]) as type,
    unnest($channel_names::varchar[]) as channel,
    unnest($channel_units::varchar[]) as unit,
    unnest($channel_signs::double[]) as sign;

-- The sensor types that are integrated (trapezoid energy and charge).
create or replace view integrated_types as
select type from channel_map where channel in ('voltage', 'current', 'power');
