"""The HTTP request model carries the catalogue's rules: it accepts exactly the firms that the
catalogue validation (pandera, used for files and batches) accepts, and names the same problems."""
import numpy as np
import pandas as pd
import pytest

from innoscore.features.validation import validate_frame
from innoscore.model.decision.policy import load_policy
from innoscore.serving.schemas import firm_model, firm_problems

CORRUPTIONS = [
    lambda ind, rng: None,
    lambda ind, rng: "lots",
    lambda ind, rng: (ind.valid_range[1] + 1 + rng.random() * 10) if ind.valid_range else -1e308 * 10,
    lambda ind, rng: (ind.valid_range[0] - 0.5) if ind.valid_range else None,
    lambda ind, rng: 2.5 if ind.type in ("count", "boolean") else rng.random(),
    lambda ind, rng: "no-such-level" if ind.type == "categorical" else 97.0,
    lambda ind, rng: 10 ** 400,
]


def _firms(small_portfolio, catalogue, n, seed):
    """Real firms from the generator, about half with one or two values corrupted at random."""
    rng = np.random.default_rng(seed)
    rows = small_portfolio.data[["firm_id", *catalogue.indicator_ids]].head(n)
    firms = []
    for rec in rows.to_dict("records"):
        firm = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in rec.items()}
        for _ in range(rng.integers(0, 3)):
            ind = catalogue.indicators[rng.integers(len(catalogue.indicators))]
            firm[ind.id] = CORRUPTIONS[rng.integers(len(CORRUPTIONS))](ind, rng)
        firms.append(firm)
    return firms


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_request_model_and_catalogue_validation_agree(small_portfolio, catalogue, seed):
    Firm = firm_model(catalogue, load_policy(catalogue=catalogue))
    refused = disagreements = 0
    for firm in _firms(small_portfolio, catalogue, 150, seed):
        by_model = {(p["field"], p["code"]) for p in firm_problems(Firm, catalogue, [firm])}
        huge = {k for k, v in firm.items() if isinstance(v, int) and abs(v) > 1e308}
        if huge:       # pandas cannot even hold such a number: the model alone refuses it
            assert huge <= {field for field, code in by_model if code in ("not_a_number", "out_of_range", "wrong_type")}
            continue
        _, report = validate_frame(pd.DataFrame([firm]), catalogue)
        by_catalogue = {(p.column, p.code) for p in report.problems}
        refused += bool(by_catalogue)
        disagreements += by_model != by_catalogue
        assert by_model == by_catalogue, (firm["firm_id"], by_model, by_catalogue)
    assert refused > 20 and disagreements == 0


def test_problems_name_firm_field_and_reason(catalogue):
    Firm = firm_model(catalogue, load_policy(catalogue=catalogue))
    ind = next(i for i in catalogue.indicators if i.valid_range is not None)
    problems = firm_problems(Firm, catalogue, [{"firm_id": "F1", ind.id: ind.valid_range[1] * 2 + 1,
                                                "guarantee_type": "a promise", "debt_ration": 0.5}])
    by_field = {p["field"]: p for p in problems}
    assert by_field[ind.id]["code"] == "out_of_range" and by_field[ind.id]["firm_id"] == "F1"
    assert "out of range" in by_field[ind.id]["message"] and by_field[ind.id]["message_zh"]
    assert by_field["guarantee_type"]["code"] == "unknown_level" and "credit" in by_field["guarantee_type"]["message"]
    assert by_field["debt_ration"]["code"] == "unknown_field"
    assert all(p["index"] == 0 for p in problems)
