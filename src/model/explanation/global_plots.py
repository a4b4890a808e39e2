"""Portfolio-level explanation plots logged with each LightGBM training run."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from innoscore.features.catalogue import Catalogue  # noqa: E402
from innoscore.model.explanation.contributions import Explanations  # noqa: E402


def beeswarm_plot(expl: Explanations, catalogue: Catalogue, max_display: int = 20):
    """SHAP summary (beeswarm) over catalogue indicators, coloured by the indicator's value (a
    categorical indicator by its code, its level's place in the catalogue's list)."""
    import shap

    shap.summary_plot(expl.per_indicator, expl.indicator_values, feature_names=list(catalogue.indicator_ids),
                      max_display=max_display, show=False, plot_size=(8, 7))
    fig = plt.gcf()
    fig.suptitle("SHAP by indicator (log-odds of default), test window")
    fig.tight_layout()
    return fig


def category_importance_plot(expl: Explanations, catalogue: Catalogue):
    """Mean |contribution| per category next to the catalogue's expert weight of that category."""
    cats = catalogue.categories
    importance = np.abs(expl.per_category).mean(axis=0)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    y = np.arange(len(cats))
    ax.barh(y - 0.2, importance / importance.sum(), height=0.4, label="model: share of mean |SHAP|")
    weights = np.array([c.points for c in cats], dtype=float)
    if weights.sum() > 0:  # a catalogue without expert points has no expert weights to compare
        ax.barh(y + 0.2, weights / weights.sum(), height=0.4, label="expert scorecard: share of points")
    ax.set_yticks(y, [f"{c.id}: {c.name_en}" for c in cats])
    ax.invert_yaxis()
    ax.set_xlabel("share")
    ax.set_title("Category importance: LightGBM vs expert weights")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig
