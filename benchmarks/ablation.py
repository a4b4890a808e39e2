"""What costs or gains test AUC against plain models on the same rows (docs/real-data.md, issue #25).

Each variant is an override of configs/training.yaml's `lightgbm` and `features` sections, trained
with `fit_and_evaluate` on an example of configs/examples/ and compared with the plain LightGBM and
one-hot logistic regression fitted on the same rows (`result.baselines`). Same seeds throughout.
Run: .venv/bin/python benchmarks/ablation.py polish_bankruptcy polish_bankruptcy_year5.csv random \
       '{"search off": {"lightgbm": {"search": {"n_trials": 0}}}, "monotone off": {"lightgbm": {"monotone": "off"}}}'
"""
from __future__ import annotations

import argparse
import json
import time
import warnings
from dataclasses import replace

from innoscore.features.catalogue import load_catalogue
from innoscore.features.derive import FeatureConfig
from innoscore.features.validation import read_table, validate_frame
from innoscore.model.config import LightGBMSettings, TrainingConfig
from innoscore.model.training import fit_and_evaluate
from innoscore.paths import CONFIG_DIR


def merged(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        out[key] = merged(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return out


def variant(config: TrainingConfig, override: dict) -> TrainingConfig:
    return replace(config, lightgbm=LightGBMSettings.model_validate(
        merged(config.lightgbm.model_dump(), override.get("lightgbm", {}))), features=FeatureConfig.model_validate(
        merged(config.features.model_dump(), override.get("features", {}))))


def with_split_column(catalogue, raw, seed: int, shares=(0.6, 0.2, 0.2)):
    """A fixed stratified train / valid / test column (`split`), as a bank that keeps its own holdout
    would have, and the catalogue naming it, for data that has none."""
    from sklearn.model_selection import train_test_split

    y = raw[catalogue.dataset.target_column].astype(str)
    rest, test = train_test_split(raw.index, test_size=shares[2], stratify=y, random_state=seed)
    train, valid = train_test_split(rest, test_size=shares[1] / (shares[0] + shares[1]), stratify=y[rest],
                                    random_state=seed)
    raw = raw.assign(split="train")
    raw.loc[valid, "split"], raw.loc[test, "split"] = "valid", "test"
    dataset = catalogue.dataset.model_copy(update={"split_column": "split"})
    return catalogue.model_copy(update={"dataset": dataset}), raw


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("example")
    parser.add_argument("file")
    parser.add_argument("split", choices=["random", "cv", "column", "time", "auto"])
    parser.add_argument("variants", help='JSON: {"name": {"lightgbm": {...}, "features": {...}}}')
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    folder = CONFIG_DIR / "examples" / args.example
    catalogue = load_catalogue(folder / "catalogue.yaml")
    config = TrainingConfig.load()
    raw = read_table(folder / args.file)
    if args.split == "column" and not catalogue.dataset.split_column:
        catalogue, raw = with_split_column(catalogue, raw, config.seed)
    data, report = validate_frame(raw, catalogue, require_target=True)
    assert report.ok, report.to_text()
    for name, override in json.loads(args.variants).items():
        t0 = time.perf_counter()
        result = fit_and_evaluate(data, catalogue, variant(config, override), split_kind=args.split)
        auc = result.baselines["test_auc"]
        print(f"{args.example} {args.split} {name:<32} lightgbm {auc['lightgbm']:.4f} plain {auc['plain_lightgbm']:.4f} "
              f"gap {result.baselines['lightgbm_minus_plain_lightgbm']:+.4f} woe {auc['woe_scorecard']:.4f} "
              f"logistic {auc['logistic_one_hot']:.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
