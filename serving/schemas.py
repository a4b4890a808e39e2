"""Request and reply models of the HTTP API, built from the served model's catalogue.

Field types are deliberately loose (number, text or null): the catalogue's validation is the one
place that checks types, ranges and levels, so HTTP, batch and `innoscore validate` agree and every
error names the firm, the field and the problem.
"""
from __future__ import annotations

from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from innoscore.features.catalogue import Catalogue

Loose = Optional[Union[float, int, str]]


def firm_model(catalogue: Catalogue, loan_fields: tuple[str, ...] = ()) -> type[BaseModel]:
    """The request's firm: its id, every indicator, and the loan fields the credit policy reads."""
    fields: dict[str, Any] = {
        catalogue.dataset.firm_id_column: (Optional[Union[str, int]], Field(None, description=(
            "Firm id (required) / 企业编号" if catalogue.dataset.id_column else
            "Row number (optional: the firm's place in the request) / 行号"))),
    }
    for ind in catalogue.indicators:
        rng = f", valid {list(ind.valid_range)}" if ind.valid_range else ""
        levels = f", levels {ind.level_values}" if ind.levels else ""
        missing = "" if ind.missing_allowed else ", required"
        fields[ind.id] = (Loose, Field(None, description=f"{ind.name_en} / {ind.name_zh} ({ind.unit.en}{rng}{levels}{missing})"))
    for name in loan_fields:
        fields[name] = (Loose, Field(None, description=f"Loan field for the credit decision / 授信决策字段 ({name})"))
    return create_model("Firm", __config__=ConfigDict(extra="allow"), **fields)


class ModelRef(BaseModel):
    name: str
    version: str
    aliases: list[str]
    run_id: str


class ExpertScore(BaseModel):
    total: float
    categories: dict[str, float]


class Decision(BaseModel):
    decision: Literal["approve", "refer", "decline"]
    decision_zh: str
    decision_en: str
    decision_score: float
    limit: float
    limit_basis: str
    guarantee: str
    expected_loss: float
    reasons: list[str]
    reasons_zh: list[str]
    policy_version: str
    policy_hash: str


class ScoreResult(BaseModel):
    firm_id: str
    pd: float
    grade: str
    grade_zh: str
    grade_en: str
    expert_score: ExpertScore
    missing_indicators: list[str]
    decision: Optional[Decision] = None

    @classmethod
    def from_record(cls, record: dict, catalogue: Catalogue) -> "ScoreResult":
        """The HTTP shape of a scored-firm record (innoscore.model.scoring.record)."""
        return cls(firm_id=str(record[catalogue.dataset.firm_id_column]), pd=record["pd"], grade=record["grade"],
                   grade_zh=record["grade_zh"], grade_en=record["grade_en"],
                   expert_score=ExpertScore(total=record["expert_score"],
                                            categories={c: record[f"expert_{c}"] for c in catalogue.category_ids}),
                   missing_indicators=list(record["missing_indicators"]),
                   decision=None if "decision" not in record else Decision(
                       **{k: record[k] for k in Decision.model_fields if k in record},
                       reasons=list(record["decision_reasons"]), reasons_zh=list(record["decision_reasons_zh"])))


class ScoreReply(BaseModel):
    model: ModelRef
    results: list[ScoreResult]


class Reason(BaseModel):
    indicator: str
    name: str
    category: str
    value: Optional[Union[float, str]]
    value_text: str
    percentile: Optional[float]
    contribution: float
    text: str


class CategoryEffect(BaseModel):
    category: str
    name: str
    contribution: float
    expert_points: float
    max_points: float


class Explanation(BaseModel):
    firm_id: str
    pd: float
    grade: str
    base_log_odds: float
    raw_log_odds: float
    risk_raising: list[Reason]
    risk_lowering: list[Reason]
    categories: list[CategoryEffect]


class ExplainReply(BaseModel):
    model: ModelRef
    lang: Literal["zh", "en"]
    results: list[Explanation]


class ModelInfoReply(BaseModel):
    model: ModelRef
    model_uri: str
    catalogue_version: str
    catalogue_fingerprint: str
    data_fingerprint: str
    test_metrics: dict[str, float]
    max_firms_per_request: int
