"""A batch of explained firms as plain data: what `innoscore explain --json-out` writes, one record
per firm, for a loan system or a notebook to read without parsing reports."""
from __future__ import annotations

from innoscore.features.catalogue import Catalogue
from innoscore.model.explanation.reasons import all_firm_reasons


def explanation_records(scores, catalogue: Catalogue, quantiles, top_k: int = 5, counterfactuals=None) -> list[dict]:
    """Per firm: `firm_id`, `pd`, `grade`, `base_log_odds`, `categories` [{`id`, `contribution`,
    `expert_points`}], `reasons` [{`indicator`, `value`, `contribution`, `text_zh`, `text_en`,
    `flags`}] (risk-raising first, then risk-lowering, each by size), and `counterfactual` (the
    search's record) when `counterfactuals` are given. `scores`: `ScoringModel.score(rows,
    with_explanations=True)`; expert points are null for a category without an expert table."""
    expl = scores.explanations
    records = []
    for i, firm in enumerate(all_firm_reasons(expl, catalogue, quantiles, top_k)):
        categories = [{"id": c["category"], "contribution": c["contribution"],
                       "expert_points": float(scores.expert_points[c["category"]][i])
                       if catalogue.category_by_id[c["category"]].points > 0 else None} for c in firm["categories"]]
        reasons = [{"indicator": r["indicator"], "value": r["value"], "contribution": r["contribution"],
                    "text_zh": r["text_zh"], "text_en": r["text_en"], "flags": r["flags"]}
                   for r in (*firm["risk_raising"], *firm["risk_lowering"])]
        record = {"firm_id": str(expl.firm_ids[i]), "pd": float(expl.pd[i]), "grade": str(scores.grades[i]),
                  "base_log_odds": float(expl.base_value), "categories": categories, "reasons": reasons}
        if counterfactuals is not None:
            record["counterfactual"] = counterfactuals[i].to_dict()
        records.append(record)
    return records
