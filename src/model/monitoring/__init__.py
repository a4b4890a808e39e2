"""Monitoring the scored population against the model's reference profile, and backtesting PDs
against outcomes: the inference log, stability (PSI), per-grade backtests, and the monitor run."""
