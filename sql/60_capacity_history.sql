-- Per BESS and site-local day: throughput, equivalent full cycles, the day's capacity estimate
-- (from `cycles`), a smoothed capacity robust to a bad measurement, state of health, fade rates
-- from a trailing Theil–Sen fit and the projected end-of-life date; see
-- bess_etl/analytics/capacity.py. Computed in Python (warehouse.PYTHON_STEPS
-- ["60_capacity_history"]) from daily_energy and cycles over the BESS's whole history whenever
-- any of its days is a target (cumulative cycles and trailing fits look back); the rows before
-- its earliest target day are redone only from a day whose inputs changed.
create table if not exists capacity_history (
    mac                    bigint not null,
    local_date             date   not null,
    charge_ah              double,  -- daily_energy's totals of the day
    discharge_ah           double,
    charge_kwh             double,
    discharge_kwh          double,
    throughput_ah          double,  -- (charge + discharge) / 2
    throughput_kwh         double,
    efc                    double,  -- equivalent full cycles: throughput_kwh / nameplate_kwh
    cumulative_efc         double,  -- summed from the BESS's first day
    n_measurements         integer not null,  -- capacity measurements ending this day
    capacity_ah            double,  -- the day's estimate; null without a measurement
    capacity_kwh           double,
    method                 varchar,  -- how capacity_ah was measured (see cycles.method)
    fit_points             integer not null,  -- estimates in the trailing fit window
    capacity_smoothed_ah   double,  -- Theil–Sen line of the window, at this day
    capacity_smoothed_kwh  double,
    soh_pct                double,  -- 100 × capacity_smoothed_ah / nameplate_ah
    soh_kwh_pct            double,  -- 100 × capacity_smoothed_kwh / nameplate_kwh
    fade_pct_per_year      double,  -- SoH points lost per year (> 0 while fading)
    fade_pct_per_100_efc   double,  -- SoH points lost per 100 equivalent full cycles
    projected_eol_date     date     -- the fitted line reaches eol_soh_pct (default 80 %)
);

-- The compute step: the targets' BESS lose their rows from their earliest target day on; the
-- Python step redoes those (and any earlier ones whose inputs changed).
delete from capacity_history
where local_date >= (select min(t.local_date) from targets t where t.mac = capacity_history.mac);
