"""A model card per registered version, written by the training run into MLflow."""
from __future__ import annotations

from innoscore.features.catalogue import Catalogue
from innoscore.model.evaluation.metrics import HEADLINE_METRICS

_PURPOSE = {
    "expert_scorecard": "the bank's hand-weighted 44-indicator scorecard, calibrated to a PD: the baseline",
    "woe_scorecard": "a WoE/logistic scorecard (optbinning, PDO scaling): the statistical baseline",
    "lightgbm": "gradient-boosted PD model on derived features, monotone where the data supports the declared direction, Platt-calibrated on cross-fitted log-odds",
}


def model_card(name: str, metrics: dict, split: dict, catalogue: Catalogue, data_fingerprint: str,
               registered: tuple[str, str] | None, fidelity: dict | None = None) -> str:
    rows = "\n".join(f"| {w} | " + " | ".join(f"{metrics[w][k]:.4f}" for k in HEADLINE_METRICS) + " |"
                     for w in ("train", "valid", "test"))
    gap = metrics["test"].get("auc_gap_to_oracle")
    lines = [
        f"# Model card: {registered[0]} v{registered[1]}" if registered else f"# Model card: {name}",
        "", f"**What it is.** {_PURPOSE.get(name, name)}.", "",
        "**Intended use.** Probability of default over 12 months and a rating grade for loan applications from "
        "specialised tech SMEs (专精特新), as one input to a credit committee next to the expert scorecard and the "
        "per-firm explanation. Not for automated decline without human review; not for firms outside the catalogue's "
        "population (MOST/MIIT SME size limits).", "",
        f"**Data.** {_split_text(split)} Data fingerprint `{data_fingerprint}`; catalogue "
        f"`{catalogue.version}` ({len(catalogue.indicators)} indicators, {len(catalogue.categories)} categories).", "",
        "**Metrics by window.**", "", "| window | " + " | ".join(HEADLINE_METRICS) + " |",
        "|---" * (len(HEADLINE_METRICS) + 1) + "|", rows, "",
    ]
    if gap is not None:
        lines += [f"Test-year AUC gap to the oracle (true PD): {gap:+.4f}.", ""]
    if fidelity:
        lines += ["**Explanation fidelity (test year, against true contributions).** "
                  + ", ".join(f"{k} {v:.3f}" for k, v in fidelity.items()), ""]
    lines += ["**Limitations.** Trained on a synthetic portfolio unless stated otherwise: effect sizes are plausible, "
              "not estimated from a real book. PD calibration holds for the validation vintage's default level; "
              "recalibrate when the portfolio default rate moves (watch the PSI logged with the run). Grades come "
              "from the PD bands in configs/scorecard.yaml."]
    return "\n".join(lines) + "\n"


def _split_text(split: dict) -> str:
    """The split in a sentence, whatever its kind (time, random, column, cv)."""
    sizes = (f"{split['n_train']:,} training rows, {split['n_valid']:,} validation rows (early stopping, tuning, "
             f"calibration), {split['n_test']:,} test rows")
    if split["kind"] == "time":
        return (f"{split['n_train']:,} training rows (vintages {split['train_years']}), {split['n_valid']:,} "
                f"validation rows ({split['valid_years']}: early stopping, tuning, calibration), {split['n_test']:,} "
                f"test rows ({split['test_years']}: never used in fitting).")
    if split["kind"] == "cv":
        return (f"{split['k']}-fold cross-validation: every one of the {split['n_test']:,} rows is tested by a model "
                f"that never saw it; the registered model is refitted on {split['n_train']:,} rows with "
                f"{split['n_valid']:,} for validation.")
    return f"A {split['kind']} split: {sizes} (never used in fitting)."
