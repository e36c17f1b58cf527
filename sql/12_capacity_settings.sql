-- Nameplate and capacity-method settings per BESS: mac = 0 is the default for every BESS without
-- its own [devices.<MAC>] row. Look a MAC up with its own row first, then mac = 0.
create or replace table capacity_settings as
select
    unnest($cap_macs::bigint[]) as mac,
    unnest($cap_nameplate_ah::double[]) as nameplate_ah,
    unnest($cap_nameplate_kwh::double[]) as nameplate_kwh,
    unnest($cap_v_full::double[]) as v_full,        -- V
    unnest($cap_v_empty::double[]) as v_empty,      -- V
    unnest($cap_soc_full_pct::double[]) as soc_full_pct,
    unnest($cap_soc_empty_pct::double[]) as soc_empty_pct,
    unnest($cap_min_delta_soc_pct::double[]) as min_delta_soc_pct,
    unnest($cap_rest_current_a::double[]) as rest_current_a,
    unnest($cap_eol_soh_pct::double[]) as eol_soh_pct,
    unnest($cap_high_voltage_v::double[]) as high_voltage_v,
    unnest($cap_high_c_rate::double[]) as high_c_rate,  -- 1/h
    unnest($cap_fade_window_days::integer[]) as fade_window_days;
