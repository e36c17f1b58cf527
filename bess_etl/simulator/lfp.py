"""Electrical and thermal constants of a 16S LFP pack, and the static parts of its model.

Equivalent circuit (charge-positive current I, amperes):

    V = OCV(SoC) + I*R0 + V1 + V2
    dV1/dt = (I*R1*f_end(SoC) - V1) / tau1      charge transfer, fast
    dV2/dt = (I*R2 - V2) / tau2                 solid-state diffusion, slow

All resistances scale with 1/nameplate_ah (a 200 Ah pack is two 100 Ah strings in parallel)
and with an Arrhenius factor of the battery temperature. `f_end` makes the charge-transfer
resistance climb in the last ~2 % of SoC when charging into full or discharging into empty:
that is what tapers the current of a constant-voltage charge and what makes the voltage
collapse at the end of a full discharge, while mid-range behaviour is untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import PchipInterpolator

CELLS_IN_SERIES = 16

# Open-circuit voltage of one LFP cell (V) against SoC: steep below 5 %, a flat plateau around
# 3.26..3.34 V, and a rise to 3.45 V at full, which is where a full pack rests after a charge
# (16 x 3.45 = 55.2 V, the value of the real account's sample at rest).
OCV_CELL_KNOTS: tuple[tuple[float, float], ...] = (
    (0.000, 2.850),
    (0.005, 2.950),
    (0.010, 3.060),
    (0.020, 3.110),
    (0.050, 3.170),
    (0.100, 3.200),
    (0.200, 3.255),
    (0.300, 3.280),
    (0.400, 3.292),
    (0.500, 3.300),
    (0.600, 3.306),
    (0.700, 3.315),
    (0.800, 3.328),
    (0.900, 3.340),
    (0.950, 3.358),
    (0.980, 3.385),
    (0.990, 3.405),
    (1.000, 3.450),
)

# Resistances of a 100 Ah pack at 25 degC (ohm) and time constants (s).
R0_OHM_100AH = 0.020
R1_OHM_100AH = 0.008
R2_OHM_100AH = 0.012
TAU1_S = 30.0
TAU2_S = 600.0
# f_end = 1 + A_high*exp(-(1-s)/W_high) charging, 1 + A_low*exp(-s/W_low) discharging
END_HIGH_GAIN = 35.0
END_HIGH_WIDTH = 0.012
END_LOW_GAIN = 15.0
END_LOW_WIDTH = 0.008
# Arrhenius temperature dependence of all resistances.
ACTIVATION_J_PER_MOL = 15_000.0
GAS_J_PER_MOL_K = 8.314
T_REF_K = 298.15
# Thermal: the pack follows the air with a lag (thermal mass), sits a little above it
# (electronics in the enclosure) and warms by I^2 R through a thermal resistance.
AMBIENT_LAG_S = 2.5 * 3600.0
ENCLOSURE_OFFSET_C = 0.8
HEATING_LAG_S = 20 * 60.0
THERMAL_RES_K_PER_W_100AH = 0.08

# Duty: C-rates refer to the nameplate (as an inverter's settings would).
DEEP_C_RATE = 0.25  # CC charge and CC discharge of the deep cycle
RECOVERY_C_RATE = 0.10  # recovery charge after the low-voltage cut-off
SOLAR_PEAK_C_RATE = 0.35  # clear-sky PV current at the zenith
STANDBY_C_RATE = 0.004  # inverter standby draw at night (0.4 A for 100 Ah)
CV_ABOVE_V_FULL_V = 0.8  # the charger's constant-voltage set point above capacity.v_full

_OCV_TABLE_N = 4001
_SOC_TABLE = np.linspace(0.0, 1.0, _OCV_TABLE_N)
_OCV_CELL_TABLE = PchipInterpolator(*np.array(OCV_CELL_KNOTS).T)(_SOC_TABLE)


def ocv_v(soc: np.ndarray | float) -> np.ndarray:
    """Pack open-circuit voltage (V) at SoC (0..1, clipped)."""
    s = np.clip(soc, 0.0, 1.0)
    return CELLS_IN_SERIES * np.interp(s, _SOC_TABLE, _OCV_CELL_TABLE)


def end_factor(soc: np.ndarray | float, current_a: np.ndarray | float) -> np.ndarray:
    """Multiplier (>= 1) of the charge-transfer resistance: it climbs while charging near full
    and while discharging near empty (pushing lithium where there is no room left), not the
    other way round, so a discharge from full or a charge from empty starts normally."""
    s = np.clip(soc, 0.0, 1.0)
    charging = np.asarray(current_a) > 0
    return (
        1.0
        + END_HIGH_GAIN * np.exp(-(1.0 - s) / END_HIGH_WIDTH) * charging
        + END_LOW_GAIN * np.exp(-s / END_LOW_WIDTH) * ~charging
    )


def temp_factor(temp_c: np.ndarray | float) -> np.ndarray:
    """Arrhenius multiplier of every resistance; 1 at 25 degC, ~1.7 at 0 degC."""
    t_k = np.asarray(temp_c, dtype=np.float64) + 273.15
    return np.exp(ACTIVATION_J_PER_MOL / GAS_J_PER_MOL_K * (1.0 / t_k - 1.0 / T_REF_K))


@dataclass(frozen=True)
class Pack:
    """One pack's constants, scaled to its nameplate."""

    nameplate_ah: float
    v_full: float  # capacity.v_full of the config: the charger's CV set point sits above it

    @property
    def scale(self) -> float:
        return 100.0 / self.nameplate_ah

    @property
    def r0_ohm(self) -> float:
        return R0_OHM_100AH * self.scale

    @property
    def r1_ohm(self) -> float:
        return R1_OHM_100AH * self.scale

    @property
    def r2_ohm(self) -> float:
        return R2_OHM_100AH * self.scale

    @property
    def thermal_res_k_per_w(self) -> float:
        return THERMAL_RES_K_PER_W_100AH * self.scale

    @property
    def v_cv(self) -> float:
        return self.v_full + CV_ABOVE_V_FULL_V

    @property
    def deep_current_a(self) -> float:
        return DEEP_C_RATE * self.nameplate_ah

    @property
    def recovery_current_a(self) -> float:
        return RECOVERY_C_RATE * self.nameplate_ah

    @property
    def solar_peak_a(self) -> float:
        return SOLAR_PEAK_C_RATE * self.nameplate_ah

    @property
    def standby_a(self) -> float:
        return STANDBY_C_RATE * self.nameplate_ah

    def r_steady_ohm(
        self,
        soc: np.ndarray | float,
        temp_c: np.ndarray | float,
        current_a: np.ndarray | float,
    ) -> np.ndarray:
        """Total resistance once both RC elements have settled (ohm), for a current of this
        sign (charge positive)."""
        r1 = self.r1_ohm * end_factor(soc, current_a)
        return (self.r0_ohm + r1 + self.r2_ohm) * temp_factor(temp_c)

    def cc_cv_charge(
        self, soc_start: float, capacity_ah: float, temp_c: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Current of a CC-CV charge from `soc_start` to SoC 1 against time since its start:
        (t_s, current_a). CC at the deep rate until the steady-state terminal voltage reaches
        the CV set point, then the current that holds it there,
        I(s) = (V_cv - OCV(s)) / R_ss(s), which tapers as OCV and f_end rise; the charge ends
        at SoC 1 (at about C/20 at 25 degC). The CV part is solved quasi-statically over SoC
        (dt = C*ds/I(s)), which is vectorised and exact enough at minute time scales."""
        i_cc = self.deep_current_a
        s = np.linspace(0.0, 1.0, 20_001)
        v_cc = ocv_v(s) + i_cc * self.r_steady_ohm(s, temp_c, i_cc)
        above = np.nonzero((v_cc >= self.v_cv) & (s >= soc_start))[0]
        s_cv = s[above[0]] if len(above) else 1.0
        cc_s = max(0.0, (s_cv - soc_start)) * capacity_ah * 3600.0 / i_cc
        s_grid = np.linspace(max(s_cv, soc_start), 1.0, 2001)
        i_cv = (self.v_cv - ocv_v(s_grid)) / self.r_steady_ohm(s_grid, temp_c, i_cc)
        i_cv = np.clip(i_cv, 0.02 * self.nameplate_ah, i_cc)
        dt_per_ds = capacity_ah * 3600.0 / i_cv
        t_cv = np.concatenate(
            [[0.0], np.cumsum(0.5 * (dt_per_ds[1:] + dt_per_ds[:-1]) * np.diff(s_grid))]
        )
        t = np.concatenate([[0.0, cc_s], cc_s + t_cv[1:]])
        current = np.concatenate([[i_cc, i_cc], i_cv[1:]])
        return t, current

    def full_discharge_kwh(self, capacity_ah: float, temp_c: float) -> float:
        """Energy (kWh) of a constant-current discharge at the deep rate from SoC 1 to SoC 0,
        with both RC elements at steady state: capacity_ah * integral over SoC of
        (OCV(s) - I*R_ss(s, T)) ds / 1000."""
        s = np.linspace(0.0, 1.0, 4001)
        i = -self.deep_current_a
        v = ocv_v(s) + i * self.r_steady_ohm(s, temp_c, i)
        mean_v = float(np.sum(0.5 * (v[1:] + v[:-1]) * np.diff(s)))
        return capacity_ah * mean_v / 1000.0
