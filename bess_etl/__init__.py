"""bess-etl: trapezoid energy, cost and capacity history for battery storage on Aretas."""

__version__ = "0.1.0"
