-- Per BESS and site-local day: stress metrics for battery-life work: rainflow-counted cycles by
-- depth-of-discharge band, time at high voltage and at high C-rate, battery temperature; see
-- bess_etl/analytics/stress.py. Computed in Python (warehouse.PYTHON_STEPS["70_daily_stress"])
-- for the target days only: a day's metrics depend on that day's readings (and, through the
-- rest/charge classification, on the minutes around its midnights).
create table if not exists daily_stress (
    mac                 bigint not null,
    local_date          date   not null,
    soc_source          varchar,  -- 'soc' (the SoC channel) or 'coulomb_count' (% of nameplate)
    dod_00_10_cycles    double,   -- rainflow cycle counts (a half cycle counts 0.5) by depth of
    dod_10_20_cycles    double,   -- discharge band, % of nameplate_ah
    dod_20_30_cycles    double,
    dod_30_40_cycles    double,
    dod_40_50_cycles    double,
    dod_50_60_cycles    double,
    dod_60_70_cycles    double,
    dod_70_80_cycles    double,
    dod_80_90_cycles    double,
    dod_90_100_cycles   double,   -- depths above 100 % count here
    rainflow_cycles     double,   -- sum of the bands
    rainflow_efc        double,   -- Σ count × depth / 100: equivalent full cycles of the swings
    max_dod_pct         double,
    high_voltage_s      double,   -- seconds at voltage >= high_voltage_v (0: v_full)
    high_c_rate_s       double,   -- seconds at |current| >= high_c_rate × nameplate_ah
    max_c_rate          double,   -- 1/h: max |current| / nameplate_ah
    battery_temp_min_c  double,
    battery_temp_mean_c double,   -- mean of the readings (not time-weighted)
    battery_temp_max_c  double
);

-- The compute step: the target days lose their rows; the Python step inserts them again.
delete from daily_stress
using targets t
where daily_stress.mac = t.mac and daily_stress.local_date = t.local_date;
