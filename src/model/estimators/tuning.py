"""A bounded, seeded optuna search for LightGBM parameters on the validation window."""
from __future__ import annotations

import lightgbm as lgb
import numpy as np
import optuna
from sklearn.metrics import roc_auc_score

from innoscore.model.estimators.lightgbm_pd import LightGBMPD

_INT_PARAMS = {"num_leaves", "max_depth", "min_child_samples", "n_estimators"}
_LOG_PARAMS = {"reg_lambda", "learning_rate"}


def _suggest(trial: optuna.Trial, space: dict) -> dict:
    out = {}
    for name, (low, high) in space.items():
        if name in _INT_PARAMS:
            out[name] = trial.suggest_int(name, int(low), int(high))
        else:
            out[name] = trial.suggest_float(name, float(low), float(high), log=name in _LOG_PARAMS)
    return out


def tune_lightgbm(model: LightGBMPD, X_train, y_train, X_valid, y_valid, space: dict, n_trials: int,
                  on_trial=None) -> tuple[dict, float, list[dict]]:
    """Return the best parameters (merged over `model.params`), their validation AUC and every trial."""
    base = dict(model.params or {})
    if n_trials <= 0:
        return base, float("nan"), []
    fs = model.make_feature_set()
    train = model.dataset(X_train, y_train, fs)
    valid = model.dataset(X_valid, y_valid, fs, reference=train)
    y_valid = np.asarray(y_valid)

    def objective(trial: optuna.Trial) -> float:
        # The model's own booster parameters (base params included), overridden by this trial's.
        bp = model.booster_params(fs, len(y_train), overrides=_suggest(trial, space))
        booster = lgb.train(bp, train, num_boost_round=model.n_estimators, valid_sets=[valid],
                            callbacks=[lgb.early_stopping(model.early_stopping_rounds, verbose=False)])
        auc = roc_auc_score(y_valid, booster.predict(valid.get_data(), num_iteration=booster.best_iteration))
        trial.set_user_attr("n_trees", booster.best_iteration)
        if on_trial:
            on_trial(trial.number + 1, n_trials, auc)
        return auc

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=model.seed))
    study.optimize(objective, n_trials=n_trials)
    trials = [{"number": t.number, "auc": t.value, **t.params, **t.user_attrs} for t in study.trials]
    return {**base, **study.best_params}, float(study.best_value), trials
