"""A model card per registered version, written by the training run into MLflow."""
from __future__ import annotations

from innoscore.features.catalogue import Catalogue, both_languages
from innoscore.model.evaluation.metrics import HEADLINE_METRICS

_PURPOSE = {
    "expert_scorecard": "the bank's hand-weighted {n}-indicator scorecard, calibrated to a PD: the baseline",
    "woe_scorecard": "a WoE/logistic scorecard (optbinning, PDO scaling): the statistical baseline",
    "lightgbm": "gradient-boosted PD model on derived features, monotone where the data supports the declared direction, Platt-calibrated on cross-fitted log-odds",
}


def model_card(name: str, metrics: dict, split: dict, catalogue: Catalogue, data_fingerprint: str,
               registered: tuple[str, str] | None, fidelity: dict | None = None,
               declined: dict | None = None) -> str:
    """The card in Markdown; `declined`: the training's reject-inference summary where the data had
    declined applicants (TrainingResult.reject_inference)."""
    rows = "\n".join(f"| {w} | " + " | ".join(f"{metrics[w][k]:.4f}" for k in HEADLINE_METRICS) + " |"
                     for w in ("train", "valid", "test"))
    gap = metrics["test"].get("auc_gap_to_oracle")
    ds = catalogue.dataset
    population = both_languages(catalogue.name_zh, catalogue.name_en)
    lines = [
        f"# Model card: {registered[0]} v{registered[1]}" if registered else f"# Model card: {name}",
        "", f"**What it is.** {_PURPOSE.get(name, name).format(n=len(catalogue.indicators))}.", "",
        f"**Intended use.** Probability of default over {ds.horizon_months} months (the outcome `{ds.target_column}`) "
        f"and a rating grade for the population the catalogue describes ({population}), as one input to a credit "
        "committee next to the expert scorecard and the per-firm explanation. Not for automated decline without "
        "human review; not for firms outside that population.", "",
        f"**Data.** {_population_text(split)} {_split_text(split)} Data fingerprint `{data_fingerprint}`; catalogue "
        f"`{catalogue.version}` ({len(catalogue.indicators)} indicators, {len(catalogue.categories)} categories).", "",
        "**Metrics by window.**", "", "| window | " + " | ".join(HEADLINE_METRICS) + " |",
        "|---" * (len(HEADLINE_METRICS) + 1) + "|", rows, "",
    ]
    if declined:
        lines += [_declined_text(name, declined), ""]
    if gap is not None:
        lines += [f"Test-year AUC gap to the oracle (true PD): {gap:+.4f}.", ""]
    if fidelity:
        lines += ["**Explanation fidelity (test year, against true contributions).** "
                  + ", ".join(f"{k} {v:.3f}" for k, v in fidelity.items()), ""]
    source = ("Trained on a synthetic portfolio (the data has a true-PD column): effect sizes are plausible, not "
              "estimated from a real book. " if gap is not None else
              "Effects are estimated from the data above only; they hold for a population like it. ")
    lines += [f"**Limitations.** {source}PD calibration holds for the default level of the rows it was fitted on; "
              "recalibrate when the portfolio default rate moves (watch the PSI logged with the run). Grades come "
              "from the PD bands in configs/scorecard.yaml."]
    return "\n".join(lines) + "\n"


def _declined_text(name: str, declined: dict) -> str:
    """How the applicants the bank declined (no outcome) entered this model's training."""
    head = f"**Declined applicants.** The data had {declined['n_declined']:,} (booked false, no outcome). "
    if name != "lightgbm" or declined["method"] == "none":
        return head + "This model learned from the booked firms alone: its PD for firms like the declined ones is an " \
                      "extrapolation (docs/reject-inference.md)."
    kick = f"; kickout against the accepts-only LightGBM {declined['kickout']:+.3f}" if "kickout" in declined else ""
    return head + (f"Reject inference by `{declined['method']}` over the {declined['n_declined_trained_on']:,} of the "
                   f"training window{kick} (docs/reject-inference.md).")


def _population_text(split: dict) -> str:
    """Rows and bad rate of the data the model was trained and tested on."""
    windows = ("train", "valid") if split["kind"] == "cv" else ("train", "valid", "test")
    rows = sum(split[f"n_{w}"] for w in windows)
    bad = sum(split[f"bad_{w}"] for w in windows)
    years = [y for w in windows for y in split.get(f"{w}_years") or []]
    period = f", application years {min(years)}-{max(years)}" if years else ""
    return f"{rows:,} rows{period}, {bad:,} defaults ({100 * bad / max(rows, 1):.2f}%)."


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
