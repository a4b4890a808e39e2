"""Train the expert scorecard, the WoE scorecard and LightGBM out of time; log, register, compare.

`train_models` is what `innoscore train` and the notebooks call.
"""
from __future__ import annotations

import json
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import matplotlib.pyplot as plt
import mlflow
import mlflow.data
import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient
from sklearn.base import clone

from innoscore.features.catalogue import Catalogue
from innoscore.features.history import validated_applicants
from innoscore.features.derive import FeatureSet
from innoscore.features.validation import ValidationReport
from innoscore.model.config import MODEL_KINDS, TrainingConfig
from innoscore.model.estimators.expert_scorecard import ExpertScorecard, category_points
from innoscore.model.estimators.lightgbm_pd import LightGBMPD
from innoscore.model.estimators.reject_inference import augmented_training_set
from innoscore.model.estimators.monotone import applied_signs, monotone_report
from innoscore.model.estimators.tuning import tune_lightgbm
from innoscore.model.estimators.woe_scorecard import WoEScorecard
from innoscore.model.evaluation.kickout import kickout
from innoscore.model.evaluation.baselines import compare_with_baselines
from innoscore.model.evaluation.metrics import HEADLINE_METRICS, grade_table, headline_metrics, psi_table
from innoscore.model.evaluation.model_card import model_card
from innoscore.model.evaluation.plots import calibration_plot, ks_plot, roc_plot, score_distribution_plot
from innoscore.model.evaluation.split import Split, choose_split, fold_split
from innoscore.model.explanation.fidelity import explanation_fidelity
from innoscore.model.explanation.global_plots import beeswarm_plot, category_importance_plot
from innoscore.model.scoring.interface import ScoringModel
from innoscore.model.scoring.reference import ReferenceProfile
from innoscore.model.tracking.pyfunc import input_example, log_pd_model
from innoscore.model.tracking.store import configure_mlflow, data_fingerprint, ensure_experiment, git_commit

WINDOWS = ("train", "valid", "test")


class DataValidationError(ValueError):
    """Training data that fails the catalogue's validation; carries the report."""

    def __init__(self, report: ValidationReport):
        super().__init__(report.to_text(per_kind=3))
        self.report = report


@dataclass
class TrainingResult:
    metrics: dict
    split: Split
    models: dict
    pds: dict = field(default_factory=dict)  # model -> window -> predicted PDs (and the oracle's true PD)
    parent_run_id: str | None = None
    child_run_ids: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    data_fingerprint: str = ""
    fidelity: dict = field(default_factory=dict)
    scoring_models: dict = field(default_factory=dict)  # model -> ScoringModel (with its reference profile)
    search_trials: list = field(default_factory=list)   # LightGBM search: one dict per trial
    split_summary: dict = field(default_factory=dict)   # kind, sizes and bad counts per window
    monotone: pd.DataFrame | None = None                # per feature: declared, data trend, applied
    monotonicity: dict = field(default_factory=dict)    # policy, applied, contradicted, price in test AUC
    skipped: dict = field(default_factory=dict)         # model kind -> why it was not trained
    baselines: dict = field(default_factory=dict)       # plain models' test AUC on the same rows, and the gaps
    reject_inference: dict = field(default_factory=dict)  # method, declined applicants, kickout on the test window

    def metrics_json(self) -> dict:
        """The `--metrics-out` document: split, per-model metrics by window, monotonicity, the plain
        baselines on the same rows, skipped models."""
        return {"split": self.split_summary, "models": self.metrics, "monotonicity": self.monotonicity,
                "baselines": self.baselines, "skipped": self.skipped,
                **({"reject_inference": self.reject_inference} if self.reject_inference else {})}


def model_kinds(catalogue: Catalogue) -> tuple[tuple[str, ...], dict[str, str]]:
    """The model kinds this catalogue can train, and why any other is skipped."""
    if catalogue.has_expert_points:
        return MODEL_KINDS, {}
    return tuple(k for k in MODEL_KINDS if k != "expert_scorecard"), {
        "expert_scorecard": "no indicator has expert bins or points in the catalogue / 目录中没有专家评分表"}


def build_models(catalogue: Catalogue, config: TrainingConfig, kinds: tuple[str, ...] = MODEL_KINDS) -> dict:
    lg = config.lightgbm
    makers = {
        "expert_scorecard": lambda: ExpertScorecard(catalogue, calibration=config.expert_scorecard.calibration,
                                                    grade_scale=config.grade_scale),
        "woe_scorecard": lambda: WoEScorecard(catalogue, grade_scale=config.grade_scale,
                                              **config.woe_scorecard.model_dump()),
        "lightgbm": lambda: LightGBMPD(catalogue, config.features, params=dict(lg.params), n_estimators=lg.n_estimators,
                                       learning_rate=lg.learning_rate, early_stopping_rounds=lg.early_stopping_rounds,
                                       num_threads=lg.num_threads, seed=config.seed, calibration=lg.calibration,
                                       grade_scale=config.grade_scale, refit_below_rows=lg.refit_below_rows,
                                       min_child_share=lg.min_child_share, calibration_folds=lg.calibration_folds),
    }
    return {k: makers[k]() for k in kinds}


def _evaluate(pd_by_window: dict, y: np.ndarray, split: Split) -> dict:
    return {w: headline_metrics(y[getattr(split, w)], pd_by_window[w]) for w in WINDOWS}


@dataclass
class _Fit:
    models: dict
    unconstrained: LightGBMPD
    trials: list
    monotone: pd.DataFrame
    accepts_only: LightGBMPD | None = None       # the LightGBM before reject inference, for the kickout


def _fit_window(data: pd.DataFrame, y: np.ndarray, train: np.ndarray, valid: np.ndarray, catalogue: Catalogue,
                config: TrainingConfig, kinds: tuple[str, ...], progress: Callable[[str], None],
                rejects: pd.DataFrame | None = None) -> _Fit:
    """Fit every model on `train` (LightGBM tuned, early-stopped and calibrated on `valid`), and the
    unconstrained LightGBM with the same parameters, which prices the monotone constraints. With
    `rejects` (declined applicants of the training window, no outcome) and a reject-inference method,
    the final LightGBM is refitted on the method's training set."""
    models = build_models(catalogue, config, kinds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FutureWarning)
        warnings.simplefilter("ignore", category=DeprecationWarning)
        if "expert_scorecard" in models:
            progress("expert scorecard / 专家评分卡")
            models["expert_scorecard"].fit(data[train], y[train])
        progress("WoE scorecard (optbinning) / WoE评分卡")
        models["woe_scorecard"].fit(data[train], y[train])
        lgbm = models["lightgbm"]
        rows = data[train]
        monotone = monotone_report(FeatureSet(catalogue).indicator_values(rows), category_points(rows, catalogue),
                                   y[train], catalogue, config.lightgbm.monotone, config.lightgbm.monotone_level)
        lgbm.set_params(monotone=applied_signs(monotone))
        search = config.lightgbm.search
        progress(f"LightGBM search, {search.n_trials} trials / 超参数搜索")
        best, _, trials = tune_lightgbm(
            lgbm, data[train], y[train], data[valid], y[valid], search.space, search.n_trials,
            on_trial=lambda i, n, auc: progress(f"LightGBM candidate {i}/{n}: AUC {auc:.4f}"),
            candidates=tuple(search.candidates), cv_below_rows=search.cv_below_rows, folds=search.folds)
        lr = best.pop("learning_rate", lgbm.learning_rate)
        lgbm.set_params(params=best, learning_rate=lr)
        chosen = next((t for t in trials if t.get("chosen")), None)
        if chosen is not None and chosen["selection"] != "valid":    # the fold-averaged tree count, not one window's
            lgbm.set_params(n_estimators=max(1, chosen["n_trees"]), early_stopping_rounds=None)
        progress("LightGBM final fit and calibration / 最终训练与校准")
        lgbm.fit(data[train], y[train], eval_set=(data[valid], y[valid]))
        unconstrained = clone(lgbm).set_params(monotone={}, calibration="none").fit(    # its AUC prices the
            data[train], y[train], eval_set=(data[valid], y[valid]))                     # constraints: no calibration
        ri = config.reject_inference
        if ri.method != "none" and rejects is not None and len(rejects):
            progress(f"reject inference: {ri.method}, {len(rejects):,} declined applicants / 拒绝推断")
            booked_probability = None
            if ri.method == "reweighting":                 # the past decisions, modelled on every applicant
                everyone = pd.concat([data[train], rejects], ignore_index=True)
                past = clone(lgbm).set_params(monotone={}, n_estimators=lgbm.best_iteration_, early_stopping_rounds=None)
                booked_probability = past.fit(everyone, np.r_[np.ones(int(train.sum())), np.zeros(len(rejects))]
                                              ).predict_pd
            aug = augmented_training_set(ri.method, data[train], y[train], rejects, lgbm.predict_pd, booked_probability,
                                         seed=config.seed, parcel_factor=ri.parcel_factor,
                                         confident_share=ri.confident_share)
            models["lightgbm"] = clone(lgbm).fit(aug.rows, aug.y, eval_set=(data[valid], y[valid]),
                                                 sample_weight=aug.weight)
        if rejects is not None and len(rejects):          # what the model's reports say of its training
            models["lightgbm"].reject_inference_ = {"method": ri.method, "n_declined": len(rejects)}
    return _Fit(models, unconstrained, trials, monotone,
                accepts_only=lgbm if models["lightgbm"] is not lgbm else None)


def _rejects_of_window(rejects: pd.DataFrame | None, data: pd.DataFrame, split: Split, catalogue: Catalogue,
                       window: str = "train") -> pd.DataFrame | None:
    """The declined applicants dated in a window's years under a time split (training learns from
    the training years' only: a later year's declines would leak the test period); under any other
    split every declined applicant belongs to training and none to the test window."""
    date = catalogue.dataset.date_column
    if rejects is None or not len(rejects):
        return rejects
    if split.kind != "time" or not date or date not in rejects:
        return rejects if window == "train" else rejects.iloc[:0]
    years = set(pd.to_datetime(data.loc[getattr(split, window), date]).dt.year)
    return rejects[pd.to_datetime(rejects[date]).dt.year.isin(years).to_numpy()]


def reject_inference_summary(fit: _Fit, test_rows: pd.DataFrame | None, y_test: np.ndarray | None,
                             test_rejects: pd.DataFrame | None, config: TrainingConfig, n_booked: int,
                             n_declined: int) -> dict:
    """The method, how many declined applicants the data has and the model learned from and, against
    the accepts-only LightGBM, the kickout on the test window's applicants (booked ones with their
    outcomes and the declined ones of its years without), accepting the share the bank booked. No
    kickout under cross-validation (the final model has seen every row)."""
    ri = config.reject_inference
    out = {"method": ri.method, "n_declined": n_declined}
    trained = getattr(fit.models["lightgbm"], "reject_inference_", None)
    if trained:
        out["n_declined_trained_on"] = trained["n_declined"]
    if fit.accepts_only is None or test_rows is None:
        return out
    rows = pd.concat([test_rows, test_rejects], ignore_index=True) if test_rejects is not None else test_rows
    outcome = np.r_[np.asarray(y_test, dtype=float), np.full(len(rows) - len(test_rows), np.nan)]
    rate = ri.kickout_acceptance_rate or n_booked / (n_booked + n_declined)
    out.update(kickout=kickout(fit.accepts_only.predict_pd(rows), fit.models["lightgbm"].predict_pd(rows), outcome,
                               rate), kickout_acceptance_rate=rate, kickout_rows=len(rows))
    return out


def fit_and_evaluate(data: pd.DataFrame, catalogue: Catalogue, config: TrainingConfig,
                     progress: Callable[[str], None] = lambda msg: None, split_kind: str | None = None,
                     rejects: pd.DataFrame | None = None) -> TrainingResult:
    """Fit the models on the split (`split_kind`, default configs/training.yaml `split.kind`) and
    evaluate them (no MLflow). With `cv`, the test window is every row scored out of fold.
    `rejects`: declined applicants without outcomes, for `config.reject_inference` (those dated in
    the training years of a time split; all of them otherwise)."""
    ds = catalogue.dataset
    y = data[ds.target_column].to_numpy().astype(int)
    sc = config.split
    split = choose_split(data, catalogue, y, split_kind or sc.kind, seed=config.seed, test_years=sc.test_years,
                         valid_years=sc.valid_years, test_share=sc.test_share, valid_share=sc.valid_share, k=sc.k,
                         cv_below_rows=sc.cv_below_rows)
    kinds, skipped = model_kinds(catalogue)
    for kind, why in skipped.items():
        progress(f"skipping {kind}: {why}")
    n_declined = 0 if rejects is None else len(rejects)
    test_rejects = _rejects_of_window(rejects, data, split, catalogue, "test") if split.kind != "cv" else None
    rejects = _rejects_of_window(rejects, data, split, catalogue)
    fit = _fit_window(data, y, split.train, split.valid, catalogue, config, kinds, progress, rejects)
    models = {**fit.models, "lightgbm_unconstrained": fit.unconstrained}
    pds = {name: {w: model.predict_pd(data[getattr(split, w)]) for w in ("train", "valid")}
           for name, model in models.items()}
    if split.kind == "cv":
        oof = {name: np.empty(len(data)) for name in models}
        for f in range(split.detail["k"]):
            progress(f"cross-validation fold {f + 1}/{split.detail['k']} / 交叉验证")
            window = fold_split(split, f, y, config.seed, sc.valid_share)
            fold = _fit_window(data, y, window.train, window.valid, catalogue, config, kinds, lambda msg: None,
                               rejects)
            for name, model in {**fold.models, "lightgbm_unconstrained": fold.unconstrained}.items():
                oof[name][window.test] = model.predict_pd(data[window.test])
        for name in models:
            pds[name]["test"] = oof[name]
    else:
        for name, model in models.items():
            pds[name]["test"] = model.predict_pd(data[split.test])
    metrics = {name: _evaluate(pds[name], y, split) for name in models}
    free = metrics.pop("lightgbm_unconstrained")["test"]
    pds.pop("lightgbm_unconstrained")
    report = fit.monotone
    monotonicity = {
        "policy": config.lightgbm.monotone,
        "applied": report.index[report["applied"]].tolist(),
        "contradicted": report.index[report["contradicts"]].tolist(),
        "test_auc_constrained": metrics["lightgbm"]["test"]["auc"], "test_auc_unconstrained": free["auc"],
        "price_in_test_auc": free["auc"] - metrics["lightgbm"]["test"]["auc"],
    }
    values = FeatureSet(catalogue).indicator_values(data[split.train])
    categories = category_points(data[split.train], catalogue).drop(columns="total")
    scoring_models = {
        name: ScoringModel(model, catalogue, config.grade_scale, name, ReferenceProfile.build(
            values, pds[name]["train"], config.grade_scale.assign(pds[name]["train"]), config.grade_scale.labels,
            metrics={"valid": metrics[name]["valid"], "test": metrics[name]["test"]}, categories=categories))
        for name, model in fit.models.items()}
    if ds.truth_column and ds.truth_column in data:
        truth = data[ds.truth_column].to_numpy(dtype=float)
        pds["oracle"] = {w: truth[getattr(split, w)] for w in WINDOWS}
        metrics["oracle"] = _evaluate(pds["oracle"], y, split)
        for name in fit.models:
            for w in WINDOWS:
                metrics[name][w]["auc_gap_to_oracle"] = metrics["oracle"][w]["auc"] - metrics[name][w]["auc"]
    result = TrainingResult(metrics=metrics, split=split, models=fit.models, pds=pds, scoring_models=scoring_models,
                            search_trials=fit.trials, split_summary=split.summary(y), monotone=report,
                            monotonicity=monotonicity, skipped=skipped)
    if n_declined:
        scored = split.kind != "cv"
        result.reject_inference = reject_inference_summary(
            fit, data[split.test] if scored else None, y[split.test] if scored else None, test_rejects, config,
            len(data), n_declined)
    progress("plain baselines on the same rows / 基准模型对照")
    result.baselines = compare_with_baselines(result, data, catalogue, config.seed)
    return result


def comparison_table(metrics: dict, window: str = "test") -> pd.DataFrame:
    rows = {name: {k: m[window].get(k) for k in (*HEADLINE_METRICS, "auc_gap_to_oracle")}
            for name, m in metrics.items()}
    return pd.DataFrame(rows).T.rename_axis("model")


def _log_figures(y_test: np.ndarray, pd_test: dict, prefix: str = "plots") -> None:
    figs = {"roc.png": roc_plot(y_test, pd_test), "calibration.png": calibration_plot(y_test, pd_test)}
    if len(pd_test) == 1:
        (p,) = pd_test.values()
        figs["ks.png"] = ks_plot(y_test, p)
        figs["score_distribution.png"] = score_distribution_plot(y_test, p)
    for fname, fig in figs.items():
        mlflow.log_figure(fig, f"{prefix}/{fname}")
        plt.close(fig)


def _flat_params(model) -> dict:
    out = {}
    for k, v in model.get_params(deep=False).items():
        if k in ("catalogue", "grade_scale", "feature_config"):
            continue
        if isinstance(v, dict):
            out.update({f"{k}.{kk}": vv for kk, vv in v.items()})
        else:
            out[k] = v
    return out


def train_models(data: pd.DataFrame, catalogue: Catalogue, config: TrainingConfig | None = None,
                 experiment: str | None = None, tracking_uri: str | None = None, register: bool = True,
                 progress: Callable[[str], None] = lambda msg: None,
                 truth: pd.DataFrame | None = None, split_kind: str | None = None,
                 family: str | None = None, data_source: str | None = None,
                 dataset_name: str | None = None) -> TrainingResult:
    """Validate, fit, evaluate, then log a parent run with one child run per model and register them.

    `truth`: the generator's true per-category log-odds (keyed by the id column); when given, the
    fidelity of LightGBM's explanations is measured against it and logged. `split_kind` overrides the
    configured split; `family` (default: the catalogue's `model_family`) names the registered models
    `<family>-pd`, `<family>-woe-scorecard`, `<family>-expert-scorecard`, so that two datasets never
    share one; without either, configs/training.yaml names them. The data is logged as the parent
    run's training dataset input (source `data_source`, e.g. the file; name `dataset_name`, default
    the catalogue version; its digest, schema and rows).
    """
    config = config or TrainingConfig.load()
    registry = config.registry.for_family(family or catalogue.model_family)
    progress("validating data / 数据校验")
    data, rejects, report = validated_applicants(data, catalogue, require_target=True)
    if not report.ok:
        raise DataValidationError(report)
    result = fit_and_evaluate(data, catalogue, config, progress, split_kind, rejects)
    fingerprint = data_fingerprint(data)
    result.data_fingerprint = fingerprint
    ds = catalogue.dataset
    y = data[ds.target_column].to_numpy().astype(int)
    test = result.split.test

    progress("logging to MLflow / 记录到MLflow")
    configure_mlflow(tracking_uri)
    experiment = experiment or config.experiment
    exp_id = ensure_experiment(experiment)
    client = MlflowClient()
    tags = {"data_fingerprint": fingerprint, "catalogue_version": catalogue.version,
            "catalogue_fingerprint": catalogue.fingerprint(), "git_commit": git_commit(),
            "mlflow.source.git.commit": git_commit(), "n_rows": str(len(data))}
    with mlflow.start_run(experiment_id=exp_id, run_name="innoscore-training", tags={**tags, "role": "parent"}) as parent:
        result.parent_run_id = parent.info.run_id
        mlflow.log_params({f"split.{k}": v for k, v in result.split_summary.items()})
        mlflow.log_params({"seed": config.seed, "search.n_trials": config.lightgbm.search.n_trials,
                           "monotone.policy": config.lightgbm.monotone,
                           **{f"reject_inference.{k}": v for k, v in config.reject_inference.model_dump().items()},
                           "reject_inference.n_declined": result.reject_inference.get("n_declined", 0)})
        base = result.baselines
        mlflow.log_metrics({**{f"baseline.{name}.test_auc": auc for name, auc in base["test_auc"].items()
                               if name not in result.models},
                            "lightgbm_minus_plain_lightgbm_test_auc": base["lightgbm_minus_plain_lightgbm"],
                            "woe_minus_logistic_one_hot_test_auc": base["woe_minus_logistic_one_hot"]})
        if "kickout" in result.reject_inference and np.isfinite(result.reject_inference["kickout"]):
            mlflow.log_metric("reject_inference_kickout", result.reject_inference["kickout"])
        mlflow.log_input(mlflow.data.from_pandas(data, source=data_source, name=dataset_name or catalogue.version,
                                                 targets=ds.target_column), context="training")
        mono = result.monotonicity
        mlflow.log_metrics({"monotone_price_test_auc": mono["price_in_test_auc"],
                            "monotone_n_applied": len(mono["applied"]),
                            "monotone_n_contradicted": len(mono["contradicted"])})
        mlflow.set_tag("monotone.contradicted", ", ".join(mono["contradicted"]) or "none")
        if result.skipped:
            mlflow.set_tag("skipped_models", "; ".join(f"{k}: {v}" for k, v in result.skipped.items()))
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            (tmp / "metrics.json").write_text(json.dumps(result.metrics_json(), indent=2), encoding="utf-8")
            comparison_table(result.metrics).to_csv(tmp / "comparison_test.csv")
            psi = psi_table(data[result.split.train], data[test], catalogue.indicator_ids)
            psi.rename("psi").to_csv(tmp / "psi_indicators_train_vs_test.csv")
            result.monotone.to_csv(tmp / "monotone.csv")
            mlflow.log_artifacts(tmp, "evaluation")
        for path in config.source_paths:
            mlflow.log_artifact(str(path), "config")
        mlflow.log_text(catalogue.model_dump_json(indent=2), "config/catalogue.json")
        mlflow.log_metric("psi_indicator_max", float(psi.max()))
        if "oracle" in result.metrics:
            for w in WINDOWS:
                mlflow.log_metrics({f"oracle_{w}_{k}": result.metrics["oracle"][w][k] for k in HEADLINE_METRICS})
        for name, model in result.models.items():
            with mlflow.start_run(experiment_id=exp_id, run_name=name, nested=True,
                                  tags={**tags, "role": "model", "model_kind": name}) as child:
                result.child_run_ids[name] = child.info.run_id
                mlflow.log_params(_flat_params(model))
                for w in WINDOWS:
                    window = result.metrics[name][w]
                    mlflow.log_metrics({f"{w}_{k}": v for k, v in window.items() if isinstance(v, float)})
                    mlflow.log_metrics(dict(zip((f"{w}_auc_ci_low", f"{w}_auc_ci_high"), window["auc_ci"])))
                p_test = result.pds[name]["test"]
                psi_score = psi_table(pd.DataFrame({"pd": result.pds[name]["train"]}),
                                      pd.DataFrame({"pd": p_test}), ["pd"])["pd"]
                mlflow.log_metric("psi_pd_train_vs_test", psi_score)
                curves = {name: p_test}
                if "oracle" in result.pds:
                    curves["oracle"] = result.pds["oracle"]["test"]
                _log_figures(y[test], {name: p_test})
                _log_figures(y[test], curves, prefix="plots/vs_oracle")
                mlflow.log_table(grade_table(y[test], p_test, config.grade_scale), "evaluation/grades_test.json")
                if name == "lightgbm":
                    mlflow.log_metric("best_iteration", model.best_iteration_)
                    if result.search_trials:
                        mlflow.log_table(pd.DataFrame(result.search_trials), "search/trials.json")
                    mlflow.log_dict({"a": model.calibration_[0], "b": model.calibration_[1],
                                     "formula": "PD = 1 / (1 + exp(-(a + b * raw_log_odds)))"},
                                    "calibration.json")
                if name == "lightgbm":
                    progress("explaining the test window / 测试集解释")
                    result.fidelity = log_global_explanations(result.scoring_models[name], data[test], truth)
                registered_name = registry.name_of(name) if register else None
                info = log_pd_model(result.scoring_models[name], input_example(data[test], catalogue),
                                    registered_name)
                if registered_name:
                    version = str(info.registered_model_version)
                    alias = registry.new_version_alias
                    client.set_registered_model_alias(registered_name, alias, version)
                    vtags = {**tags, "run_id": child.info.run_id, "parent_run_id": parent.info.run_id,
                             "model_kind": name, **{f"test_{k}": f"{result.metrics[name]['test'][k]:.6f}"
                                                    for k in HEADLINE_METRICS}}
                    for k, v in vtags.items():
                        client.set_model_version_tag(registered_name, version, k, v)
                    result.versions[name] = (registered_name, version)
                mlflow.log_text(model_card(name, result.metrics[name], result.split_summary, catalogue, fingerprint,
                                           result.versions.get(name), result.fidelity if name == "lightgbm" else None,
                                           result.reject_inference), "model_card.md")
    progress("done / 完成")
    return result


def log_global_explanations(model: ScoringModel, rows: pd.DataFrame, truth: pd.DataFrame | None,
                            max_rows: int = 20_000) -> dict:
    """Beeswarm and category-importance plots, and fidelity against the truth when known."""
    catalogue = model.catalogue
    rows = rows.iloc[:max_rows]
    expl = model.explain(rows)
    for fname, fig in {"shap_beeswarm.png": beeswarm_plot(expl, catalogue),
                       "category_importance.png": category_importance_plot(expl, catalogue)}.items():
        mlflow.log_figure(fig, f"explanations/{fname}")
        plt.close(fig)
    if truth is None:
        return {}
    id_col = catalogue.dataset.firm_id_column
    aligned = truth.set_index(id_col).reindex(rows[id_col].astype(str))
    if aligned.isna().any().any():
        return {}
    fidelity = explanation_fidelity(expl, aligned.reset_index(drop=True), catalogue, model.peer_quantiles)
    mlflow.log_metrics({f"fidelity_{k}": v for k, v in fidelity.items()})
    return fidelity


def stored_comparison(experiment: str, tracking_uri: str | None = None, run_id: str | None = None) -> tuple[dict, str]:
    """Rebuild the metrics document of a training run (latest by default) from MLflow's stored runs."""
    configure_mlflow(tracking_uri)
    client = MlflowClient()
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        raise ValueError(f"no MLflow experiment named '{experiment}'")
    if run_id is None:
        parents = client.search_runs([exp.experiment_id], "tags.role = 'parent'", order_by=["attributes.start_time DESC"],
                                     max_results=1)
        if not parents:
            raise ValueError(f"experiment '{experiment}' has no training runs")
        run_id = parents[0].info.run_id
    children = client.search_runs([exp.experiment_id], f"tags.mlflow.parentRunId = '{run_id}'")
    metrics: dict = {}
    parent = client.get_run(run_id)
    for child in children:
        name = child.data.tags.get("model_kind")
        metrics[name] = {w: {k: child.data.metrics.get(f"{w}_{k}") for k in (*HEADLINE_METRICS, "auc_gap_to_oracle")
                             if f"{w}_{k}" in child.data.metrics} for w in WINDOWS}
    if any(k.startswith("oracle_") for k in parent.data.metrics):
        metrics["oracle"] = {w: {k: parent.data.metrics.get(f"oracle_{w}_{k}") for k in HEADLINE_METRICS}
                             for w in WINDOWS}
    ordered = {k: metrics[k] for k in (*MODEL_KINDS, "oracle") if k in metrics}
    return ordered, run_id
