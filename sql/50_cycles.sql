-- One row per BESS × detected cycle (a charge phase and the discharge phase after it), from the
-- current with hysteresis; see bess_etl/analytics/cycles.py for the definitions. Computed in
-- Python (warehouse.PYTHON_STEPS["50_cycles"]: bess_etl.analytics.build:build_cycles): when any
-- day of a BESS is a target, its cycles are redone from a restart cycle before its earliest
-- target day (or over its whole history in the lake), so an incremental run equals a full
-- rebuild.
create table if not exists cycles (
    mac                      bigint      not null,
    cycle_index              integer     not null,  -- 0-based over the BESS's whole history
    start_ts                 timestamptz not null,
    end_ts                   timestamptz not null,  -- the next cycle's start_ts
    duration_s               double,
    charge_s                 double,  -- covered seconds in charge segments
    discharge_s              double,
    rest_s                   double,
    gap_s                    double,  -- seconds inside current gaps longer than max_gap_s
    charge_ah                double,
    discharge_ah             double,
    charge_kwh               double,
    discharge_kwh            double,
    kwh_source               varchar,  -- 'power' or 'vi'
    dod_pct                  double,  -- 100 × discharge_ah / nameplate_ah
    mean_c_rate              double,  -- 1/h: Ah moved per active hour / nameplate_ah
    max_c_rate               double,  -- 1/h: max |current| / nameplate_ah
    coulombic_efficiency_pct double,  -- null for a partial cycle
    energy_efficiency_pct    double,
    voltage_min_v            double,
    voltage_max_v            double,
    battery_temp_min_c       double,
    battery_temp_mean_c      double,  -- mean of the readings (not time-weighted)
    battery_temp_max_c       double,
    soc_min_pct              double,  -- null without a SoC channel
    soc_max_pct              double,
    is_partial               boolean     not null,  -- cut by the start or end of the data
    is_capacity_measurement  boolean     not null,  -- a discharge from full to empty
    capacity_ah              double,  -- the measurement (or a delta_soc estimate), else null
    capacity_kwh             double,
    method                   varchar  -- full_to_empty_voltage | full_to_empty_soc | delta_soc
);

-- The compute step: the targets' BESS lose every cycle starting on or after their earliest target
-- day; the Python step deletes the rest of what it redoes (from its restart cycle on) and inserts.
delete from cycles
where start_ts >= (select min(t.day_start) from targets t where t.mac = cycles.mac);
