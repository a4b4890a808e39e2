"""Plain reference models on the same rows as innoscore's: how much the catalogue, the monotone
policy and the scorecard machinery cost or gain against what a data scientist would fit first.

- plain LightGBM: 400 trees, learning rate 0.03, 15 leaves, subsample 0.8, colsample 0.7, on the raw
  columns (categoricals as pandas categories), fitted on train + valid (it has no early stopping);
- logistic regression: one-hot categoricals, median-imputed and standardised numbers, fitted on
  train + valid.

With a `cv` split both are fitted per fold and scored out of fold, like innoscore's test window.
"""
from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from innoscore.features.catalogue import Catalogue
from innoscore.model.evaluation.split import Split


def plain_lightgbm(seed: int) -> lgb.LGBMClassifier:
    return lgb.LGBMClassifier(n_estimators=400, learning_rate=0.03, num_leaves=15, subsample=0.8, subsample_freq=1,
                              colsample_bytree=0.7, random_state=seed, n_jobs=2, verbose=-1)


def one_hot_logistic(catalogue: Catalogue):
    categorical = [i.id for i in catalogue.indicators if i.type == "categorical"]
    numeric = [i.id for i in catalogue.indicators if i.type != "categorical"]
    prepare = ColumnTransformer([
        ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
        ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric)])
    return make_pipeline(prepare, LogisticRegression(max_iter=5000))


def _raw(rows: pd.DataFrame, catalogue: Catalogue) -> pd.DataFrame:
    """The indicator columns as a data scientist would hand them to LightGBM (text as categories)."""
    out = rows[catalogue.indicator_ids].copy()
    for ind in catalogue.indicators:
        if ind.type == "categorical":
            out[ind.id] = pd.Categorical(out[ind.id].astype(object), categories=[str(v) for v in ind.level_values]
                                         if all(isinstance(v, str) for v in ind.level_values) else ind.level_values)
    return out


def _prepared_for_logistic(rows: pd.DataFrame, catalogue: Catalogue) -> pd.DataFrame:
    out = rows[catalogue.indicator_ids].copy()
    for ind in catalogue.indicators:
        if ind.type == "categorical":
            out[ind.id] = out[ind.id].astype(object).where(out[ind.id].notna(), "(missing)").astype(str)
    return out


def baseline_test_pds(data: pd.DataFrame, y: np.ndarray, split: Split, catalogue: Catalogue, seed: int
                      ) -> dict[str, np.ndarray]:
    """Test-window PDs of the plain models, row for row with innoscore's test window."""
    windows = ([(split.folds != f, split.folds == f) for f in range(split.detail["k"])] if split.kind == "cv"
               else [(split.train | split.valid, split.test)])
    out = {"plain_lightgbm": np.full(len(data), np.nan), "logistic_one_hot": np.full(len(data), np.nan)}
    for fit_rows, test_rows in windows:
        gbm = plain_lightgbm(seed).fit(_raw(data[fit_rows], catalogue), y[fit_rows])
        out["plain_lightgbm"][test_rows] = gbm.predict_proba(_raw(data[test_rows], catalogue))[:, 1]
        logistic = one_hot_logistic(catalogue).fit(_prepared_for_logistic(data[fit_rows], catalogue), y[fit_rows])
        out["logistic_one_hot"][test_rows] = logistic.predict_proba(
            _prepared_for_logistic(data[test_rows], catalogue))[:, 1]
    return {name: p[split.test] for name, p in out.items()}


def compare_with_baselines(result, data: pd.DataFrame, catalogue: Catalogue, seed: int) -> dict:
    """Test AUC of innoscore's models and the plain baselines on the same rows, and the two gaps the
    acceptance criteria name (LightGBM vs plain LightGBM, WoE scorecard vs one-hot logistic)."""
    y = data[catalogue.dataset.target_column].to_numpy().astype(int)
    base = baseline_test_pds(data, y, result.split, catalogue, seed)
    y_test = y[result.split.test]
    auc = {name: float(roc_auc_score(y_test, result.pds[name]["test"])) for name in result.models}
    auc.update({name: float(roc_auc_score(y_test, p)) for name, p in base.items()})
    return {"split": result.split.kind, "n_test": int(len(y_test)), "test_auc": auc,
            "lightgbm_minus_plain_lightgbm": auc["lightgbm"] - auc["plain_lightgbm"],
            "woe_minus_logistic_one_hot": auc["woe_scorecard"] - auc["logistic_one_hot"]}
