"""The packaged configuration files (catalogue, training, scorecard, serving, synthetic data)."""
