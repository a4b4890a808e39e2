"""The real-data examples against plain models on the same test rows (docs/real-data.md).

For each example under configs/examples/: innoscore's models (the catalogue, the default split and
monotone policy, the configured search) against a plain LightGBM and a one-hot logistic regression
fitted on the same rows (innoscore.model.evaluation.baselines). Same seeds throughout.
Run: .venv/bin/python benchmarks/real_data.py
"""
from __future__ import annotations

import json
import time
import warnings

from innoscore.features.catalogue import load_catalogue
from innoscore.features.validation import read_table, validate_frame
from innoscore.model.config import TrainingConfig
from innoscore.model.training import fit_and_evaluate
from innoscore.paths import CONFIG_DIR

EXAMPLES = {"german_credit": "german_credit.csv", "credit_data": "credit_data.csv",
            "polish_bankruptcy": "polish_bankruptcy_year5.csv"}


def main() -> None:
    warnings.filterwarnings("ignore")
    config = TrainingConfig.load()
    for name, file in EXAMPLES.items():
        folder = CONFIG_DIR / "examples" / name
        catalogue = load_catalogue(folder / "catalogue.yaml")
        data, report = validate_frame(read_table(folder / file), catalogue, require_target=True)
        assert report.ok, report.to_text()
        t0 = time.perf_counter()
        result = fit_and_evaluate(data, catalogue, config)
        comparison = dict(result.baselines)
        comparison["monotonicity"] = result.monotonicity
        comparison["test_auc_ci"] = {k: result.metrics[k]["test"]["auc_ci"] for k in result.models}
        comparison["wall_s"] = round(time.perf_counter() - t0, 1)
        print(json.dumps({name: comparison}, indent=2))


if __name__ == "__main__":
    main()
