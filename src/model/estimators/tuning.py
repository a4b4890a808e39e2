"""A bounded, seeded choice of LightGBM parameters that cannot lose to its fixed candidates.

Candidates: the configured parameters, the fixed `candidates` of the config (the plain defaults a
data scientist would fit first: 15 leaves, learning rate 0.03, ...), then `n_trials` of optuna's TPE
over `space`. Each is scored by validation AUC with early stopping; on a small sample (train + valid
below `cv_below_rows`) by the mean AUC over `folds` stratified folds of train + valid instead of one
window: 80 bads in a validation window rank candidates by noise (Polish firms: the search chose on
about 80 bads and lost 0.017 test AUC to the plain model). Folds cost `folds` fits per candidate,
so they run `n_trials // folds` search trials: about the fits of the window search. A search
candidate replaces the best fixed one only when it beats it by more than its standard error across
the folds (the one-standard-error rule): a search of 12 trials otherwise picks the luckiest noise.
"""
from __future__ import annotations

import lightgbm as lgb
import numpy as np
import optuna
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from innoscore.model.estimators.lightgbm_pd import LightGBMPD

_INT_PARAMS = {"num_leaves", "max_depth", "min_child_samples", "n_estimators"}
_RECORD_FIELDS = {"number", "source", "auc", "auc_se", "n_trees", "selection", "chosen"}
_LOG_PARAMS = {"reg_lambda", "learning_rate"}


def _suggest(trial: optuna.Trial, space: dict) -> dict:
    out = {}
    for name, (low, high) in space.items():
        if name in _INT_PARAMS:
            out[name] = trial.suggest_int(name, int(low), int(high))
        else:
            out[name] = trial.suggest_float(name, float(low), float(high), log=name in _LOG_PARAMS)
    return out


class _Scorer:
    """The AUC of a parameter set: on the validation window, or out of fold over train + valid."""

    def __init__(self, model: LightGBMPD, X_train, y_train, X_valid, y_valid, folds: int, use_folds: bool):
        self.model, self.fs = model, model.make_feature_set()
        if use_folds:
            X = pd.concat([model._as_frame(X_train), model._as_frame(X_valid)], ignore_index=True)
            y = np.concatenate([np.asarray(y_train), np.asarray(y_valid)])
            splitter = StratifiedKFold(folds, shuffle=True, random_state=model.seed)
            self.windows = [(X.iloc[a], y[a], X.iloc[b], y[b]) for a, b in splitter.split(X, y)]
        else:
            self.windows = [(X_train, np.asarray(y_train), X_valid, np.asarray(y_valid))]
        self.data = []
        for X_fit, y_fit, X_held, y_held in self.windows:
            fit = model.dataset(X_fit, y_fit, self.fs)
            self.data.append((fit, model.dataset(X_held, y_held, self.fs, reference=fit), len(y_fit), y_held))

    def __call__(self, overrides: dict) -> tuple[list[float], int]:
        """The AUC of each window, and the mean early-stopped number of trees."""
        aucs, trees = [], []
        for fit, held, n_fit, y_held in self.data:
            params = self.model.booster_params(self.fs, n_fit, overrides=overrides)
            booster = lgb.train(params, fit, num_boost_round=self.model.n_estimators, valid_sets=[held],
                                callbacks=[lgb.early_stopping(self.model.early_stopping_rounds, verbose=False)])
            aucs.append(roc_auc_score(y_held, booster.predict(held.get_data(), num_iteration=booster.best_iteration)))
            trees.append(booster.best_iteration)
        return aucs, int(np.mean(trees))


def tune_lightgbm(model: LightGBMPD, X_train, y_train, X_valid, y_valid, space: dict, n_trials: int,
                  on_trial=None, candidates: tuple[dict, ...] = (), cv_below_rows: int = 0, folds: int = 5
                  ) -> tuple[dict, float, list[dict]]:
    """Return the best parameters (merged over `model.params`; `learning_rate` among them where a
    candidate sets it), their AUC and every candidate scored (`source`: configured, candidate, search)."""
    base = dict(model.params or {})
    if n_trials <= 0 and not candidates:
        return base, float("nan"), []
    use_folds = len(y_train) + len(y_valid) < cv_below_rows
    if use_folds:           # the same number of model fits: k folds per candidate, so k times fewer trials
        n_trials = n_trials // folds
    score = _Scorer(model, X_train, y_train, X_valid, y_valid, folds, use_folds)
    total = 1 + len(candidates) + n_trials
    scored: list[dict] = []

    def record(source: str, overrides: dict) -> float:
        aucs, trees = score(overrides)
        auc = float(np.mean(aucs))
        standard_error = float(np.std(aucs, ddof=1) / np.sqrt(len(aucs))) if len(aucs) > 1 else 0.0
        scored.append({"number": len(scored), "source": source, "auc": auc, "auc_se": standard_error,
                       "n_trees": trees, "selection": f"{folds}-fold" if use_folds else "valid", **overrides})
        if on_trial:
            on_trial(len(scored), total, auc)
        return auc

    record("configured", {})
    for candidate in candidates:
        record("candidate", dict(candidate))
    if n_trials > 0:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=model.seed))
        study.optimize(lambda trial: record("search", _suggest(trial, space)), n_trials=n_trials)
    best = max(scored, key=lambda s: s["auc"])       # the first of equals: the configured parameters
    fixed = max((s for s in scored if s["source"] != "search"), key=lambda s: s["auc"])
    if best["auc"] - fixed["auc"] <= best["auc_se"]:  # a search win within its fold noise is no win
        best = fixed
    for entry in scored:
        entry["chosen"] = entry is best
    chosen = {k: v for k, v in best.items() if k not in _RECORD_FIELDS}
    return {**base, **chosen}, float(best["auc"]), scored
