"""Battery analytics kernels: pure functions over numpy arrays and Arrow tables, no I/O.

- `cycles`: charge/discharge segmentation, cycles, capacity measurements (the `cycles` table);
- `capacity`: the per-day capacity history, fade and state of health (`capacity_history`);
- `stress`: per-day stress metrics: rainflow depth-of-discharge histogram, time at high voltage
  and at high C-rate, temperature.

Each module's docstring holds its output column contract.
"""
