"""The built-in simulator: the Aretas REST API over a simulated fleet with a physical model of
two LFP battery packs, deterministic for a seed, with its ground truth.

Modules, from the physics up:
    rng        counter-based random draws (every draw a pure function of its coordinates)
    climate    coastal-BC air temperature, humidity, sun position, clearness
    lfp        16S LFP pack: OCV curve, R0 + 2 RC elements, thermal constants, CC-CV charge
    plan       the daily duty plan in SoC targets, capacity fade and equivalent full cycles
    day        one local day of one pack on a 1 s grid (DayTrace)
    fleet      the account's locations, devices and sensor types
    signals    true values of the environment sensor and the machine tools
    sampling   reading grid, jitter, noise, rounding and data faults per device-day (Chunk)
    encode     the byrange JSON, formatted with vectorised numpy
    service    Simulator: any window's readings, as the API returns them
    server     the ASGI app: endpoints, tokens, HTTP faults
    hosting    ways to serve it: in-process transport, uvicorn (blocking or in a thread)
    truth      the ground truth table and its CSV
    bench      speed figures: `uv run python -m bess_etl.simulator.bench`
"""

from bess_etl.simulator.hosting import (
    SimulatorTransport,
    asgi_transport,
    create_app,
    serve,
    serve_in_thread,
)
from bess_etl.simulator.server import SimulatorApp
from bess_etl.simulator.service import Simulator
from bess_etl.simulator.truth import (
    PLAN_SCHEMA,
    TRUTH_SCHEMA,
    plan_table,
    truth_table,
    write_truth_csv,
)

__all__ = [
    "PLAN_SCHEMA",
    "TRUTH_SCHEMA",
    "Simulator",
    "SimulatorApp",
    "SimulatorTransport",
    "asgi_transport",
    "create_app",
    "plan_table",
    "serve",
    "serve_in_thread",
    "truth_table",
    "write_truth_csv",
]
