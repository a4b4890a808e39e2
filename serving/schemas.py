"""Request and reply models of the HTTP API, built from the served model's catalogue.

The firm model carries the catalogue's rules (types, ranges, levels, whole numbers, required), so
the OpenAPI document says what is valid and a parsed request is valid; its refusals are reported with
the catalogue validation's codes and texts (`firm_problems`), so HTTP, batch and `innoscore validate`
agree and every error names the firm, the field and the problem. The error replies are declared
here too (`ERROR_REPLIES`), for the OpenAPI document.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, create_model
from typing_extensions import NotRequired, TypedDict

from innoscore.features.catalogue import Catalogue, both_languages
from innoscore.features.rules import PROBLEM_CODES, ColumnRule, indicator_rule
from innoscore.model.decision.pricing import PRICE_FIELDS
from innoscore.features.validation import problem, problem_detail
from innoscore.model.counterfactual.search import STATUSES, Target

Number = float        # with strict=True below: a JSON number (an integer is read as a float), never true/false or text


def _number(low: float | None = None, high: float | None = None, whole: bool = False) -> Any:
    return Annotated[Number, Field(strict=True, ge=low, le=high, multiple_of=1 if whole else None, allow_inf_nan=False)]


# A firm id has a character other than ASCII white space. Written out, not `\S`: JSON Schema's
# regex (ECMA) and pydantic's (Rust) disagree on what else is white space (U+0085).
ID_PATTERN = r"[^ \t\n\r\f\v]"


def rule_type(rule: ColumnRule) -> Any:
    """The JSON type of a column's values under its rule (`features.rules`): levels, range, whole
    numbers, missing allowed."""
    if rule.levels is not None:
        value: Any = Literal[rule.levels]
    else:
        low, high = rule.valid_range if rule.valid_range is not None else (None, None)
        value = _number(low, high, whole=rule.whole_numbers)
    return Optional[value] if rule.nullable else value


def firm_model(catalogue: Catalogue, policy=None, max_string_length: int = 200) -> type[BaseModel]:
    """The request's firm: its id, every indicator, and the loan fields the credit policy reads.

    A firm this model accepts is valid by the catalogue: each indicator's field is built from its rule
    in `features.rules`, the list the pandera schema that checks files is built from, and a randomised
    test holds the two to the same verdicts. Unknown fields are refused.
    """
    ds = catalogue.dataset
    firm_id = Union[Annotated[str, Field(strict=True, min_length=1, max_length=max_string_length,
                                         pattern=ID_PATTERN)], Annotated[int, Field(strict=True)]]
    fields: dict[str, Any] = {
        ds.firm_id_column: (firm_id, Field(..., description="Firm id / 企业编号")) if ds.id_column else
        (Optional[firm_id], Field(None, description="Row number (optional: the firm's place in the request) / 行号")),
    }
    for ind in catalogue.indicators:
        rule = indicator_rule(ind)
        rng = f", valid {list(ind.valid_range)}" if ind.valid_range else ""
        required = "" if rule.nullable else ", required"
        fields[ind.id] = (rule_type(rule), Field(None if rule.nullable else ...,
                                                 description=f"{both_languages(ind.name_en, ind.name_zh)} ({ind.unit.en}{rng}{required})"))
    if policy is not None:
        lim = policy.limits
        loan = {lim.requested_column: _number(0), lim.guarantee_column: Literal[tuple(lim.guarantees)]}
        if lim.revenue_multiple:
            loan[lim.revenue_multiple.column] = _number(0)
        loan.update({k.column: _number() for k in policy.knock_outs})
        loan.update({c: _number() for c in sorted(policy.pricing_columns())})
        for name, kind in loan.items():
            if name not in fields:
                fields[name] = (Optional[kind], Field(None, description=f"Loan field for the credit decision / "
                                                                        f"授信决策字段 ({name})"))
    return create_model("Firm", __config__=ConfigDict(extra="forbid"), **fields)


def _rule_text(ctx: dict) -> str:
    """The rule a value broke, from pydantic's context, for fields the catalogue does not describe (the
    policy's loan fields): "[0, inf)" for a bound, the levels for a choice."""
    if "ge" in ctx or "le" in ctx:
        return f"[{ctx.get('ge', '-inf')}, {ctx.get('le', 'inf')}" + ("]" if "le" in ctx else ")")
    return str(ctx.get("expected", ""))


def firm_problems(firm_model_: type[BaseModel], catalogue: Catalogue, firms: list) -> list[dict]:
    """Each firm the request model refuses, as problems naming the firm (its id and place), the field
    and the reason in English and Chinese: the same codes and texts as `innoscore validate`."""
    from pydantic import ValidationError

    id_column = catalogue.dataset.firm_id_column
    problems, seen = [], set()
    for index, firm in enumerate(firms):
        if not isinstance(firm, dict):
            problems.append({"firm_id": None, "index": index, "field": None, "code": "wrong_type",
                             "message": "a firm must be a JSON object", "message_zh": "企业须为JSON对象"})
            continue
        try:
            firm_model_.model_validate(firm)
        except ValidationError as exc:
            raw_id = firm.get(id_column)
            firm_id = raw_id if isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool) else None
            for err in exc.errors(include_url=False, include_input=False):
                field = str(err["loc"][0]) if err["loc"] else None
                if (index, field) in seen:
                    continue
                seen.add((index, field))
                code = PROBLEM_CODES.get(err["type"], "wrong_type")
                ind = catalogue.by_id.get(field)
                if field in firm and firm[field] is None:
                    code = "missing_value"        # null where a value is required
                elif code == "unknown_level" and ind is not None and ind.type == "ordinal" and isinstance(firm[field], str):
                    code = "not_a_number"        # ordinal levels are numbers, as the catalogue validation says
                detail = problem_detail(catalogue, field, code) or _rule_text(err.get("ctx", {}))
                p = problem(code, firm_id=firm_id if field != id_column else None, column=field, detail=detail)
                problems.append({**p.to_dict(), "index": index})
    return problems


# --- the request bodies -------------------------------------------------------------------------------
def request_models(firm: type[BaseModel], max_firms: int, default_top_k: int, max_top_k: int,
                   grade_labels: list[str]) -> tuple[type[BaseModel], type[BaseModel], type[BaseModel]]:
    """/score's body, /explain's options and /explain's body (the options and the firms). The bodies
    are declared for the OpenAPI document; the endpoints read the firms themselves (`request_body`),
    and /explain's options by `ExplainOptions`, strict (BentoML's lax validation read `top_k: true` as
    1). Fields a body does not declare are ignored."""
    firms = Annotated[list[firm], Field(min_length=1, max_length=max_firms)]
    grade_goal, decision_goal = counterfactual_goals(grade_labels)
    score = create_model("ScoreRequest", firms=(firms, Field(..., description="Firms to score / 待评分企业")))
    options = create_model(
        "ExplainOptions", __config__=ConfigDict(extra="ignore", strict=True),
        top_k=(int, Field(default_top_k, ge=1, le=max_top_k, description="reasons each way / 每个方向的原因数")),
        lang=(Literal["zh", "en"], Field("zh", description="language of the texts / 文本语言")),
        counterfactual=(grade_goal | decision_goal | None, Field(
            None, description='Also say what it would take: {"grade": "BBB"} or {"decision": "approve"} '
                              '/ 同时给出达到目标等级或获批的改进方案')))
    explain = create_model("ExplainRequest", __base__=options,
                           firms=(firms, Field(..., description="Firms to explain / 待解释企业")))
    return score, options, explain


class NoFields(BaseModel):
    """The body of an endpoint without fields (/model_info, /reload): none, or a JSON object whose
    fields are ignored."""
    model_config = ConfigDict(extra="allow")


def counterfactual_goals(grade_labels: list[str]) -> tuple[type[BaseModel], type[BaseModel]]:
    """The two shapes of /explain's `counterfactual` option, {"grade": G} and {"decision": "approve"}:
    each closed, so that a request naming both is invalid by the schema, not only by the service."""

    grade = create_model("GradeGoal", __config__=ConfigDict(extra="forbid"),
                         grade=(Literal[tuple(grade_labels)], Field(description="the grade to reach / 目标等级")))
    decision = create_model("DecisionGoal", __config__=ConfigDict(extra="forbid"),
                            decision=(Literal["approve"], Field(description="the decision to reach / 目标审批结论")))
    grade.target = lambda self: Target(grade=self.grade)
    decision.target = lambda self: Target(decision=self.decision)
    return grade, decision


# --- the replies --------------------------------------------------------------------------------------
# Declared once as TypedDicts: the declaration is the OpenAPI document's reply schema and the type of
# the plain data (dicts) the builders below return, which `service.json_reply` serialises once.
# Building and validating a pydantic model per firm cost more than scoring it.
class ModelRef(TypedDict):
    name: str
    version: str
    aliases: list[str]
    run_id: str


class ExpertScore(TypedDict):
    total: float
    categories: dict[str, float]


class Decision(TypedDict):
    decision: Literal["approve", "refer", "decline"]
    decision_zh: str
    decision_en: str
    decision_score: float
    limit: float
    limit_basis: str
    guarantee: str
    expected_loss: float
    policy_version: str
    policy_hash: str
    ftp_rate: Annotated[Optional[float], Field(description="funds-transfer price after any inclusive discount, "
                                                           "annual (null for a decline; docs/pricing.md)")]
    expected_loss_rate: Annotated[Optional[float], Field(description="PD x LGD of the guarantee type, annual")]
    capital_per_unit: Annotated[Optional[float], Field(description="capital held per unit of exposure")]
    rate_floor: Annotated[Optional[float], Field(description="the lowest annual rate that earns the cost of capital")]
    spread_over_lpr_bp: Annotated[Optional[float], Field(description="rate floor over the loan prime rate, bp")]
    inclusive: Annotated[bool, Field(description="an inclusive small and micro loan (the FTP discount applies)")]
    reasons: list[str]
    reasons_zh: list[str]


_PRICE_FIELDS = tuple(k for k in PRICE_FIELDS if k != "inclusive")    # numbers: NaN (a decline) is null
_DECISION_RECORD_FIELDS = tuple(k for k in Decision.__annotations__
                                if k not in ("reasons", "reasons_zh", "inclusive", *_PRICE_FIELDS))


class ScoreResult(TypedDict):
    firm_id: str
    pd: float
    grade: str
    grade_zh: str
    grade_en: str
    expert_score: ExpertScore
    missing_indicators: list[str]
    decision: Optional[Decision]


def score_result(record: dict, catalogue: Catalogue) -> ScoreResult:
    """The reply to a scored-firm record (innoscore.model.scoring.record), built and typed by
    innoscore's own code (the tests and schemathesis hold replies to the declared schema). Built as
    dict displays typed by the declarations: calling a TypedDict costs three times as much, per firm."""
    decision: Decision | None = None
    if "decision" in record:
        decision = {**{k: record[k] for k in _DECISION_RECORD_FIELDS},
                    **{k: None if record[k] != record[k] else float(record[k]) for k in _PRICE_FIELDS},
                    "inclusive": bool(record["inclusive"]), "reasons": list(record["decision_reasons"]),
                    "reasons_zh": list(record["decision_reasons_zh"])}
    return {"firm_id": str(record[catalogue.dataset.firm_id_column]), "pd": float(record["pd"]),
            "grade": str(record["grade"]), "grade_zh": record["grade_zh"], "grade_en": record["grade_en"],
            "expert_score": {"total": float(record["expert_score"]),
                             "categories": {c: float(record[f"expert_{c}"]) for c in catalogue.category_ids}},
            "missing_indicators": list(record["missing_indicators"]), "decision": decision}


class ScoreReply(TypedDict):
    model: ModelRef
    results: list[ScoreResult]


class Reason(TypedDict):
    indicator: str
    name: str
    category: str
    value: Optional[Union[float, str]]
    value_text: str
    percentile: Optional[float]
    contribution: float
    text: str


class CategoryEffect(TypedDict):
    category: str
    name: str
    contribution: float
    expert_points: float
    max_points: float


# One changed indicator: its value now (`from`, a keyword in Python) and the value that reaches the target.
CounterfactualChange = TypedDict("CounterfactualChange", {
    "indicator": str, "from": float, "to": float,
    "implied_by": Annotated[Optional[str], Field(description="moved with this indicator by a catalogue relation "
                                                             "(e.g. R&D intensity = R&D expense / revenue), not by itself")]})


class CounterfactualAlternative(TypedDict):
    changes: list[CounterfactualChange]
    pd: float
    pd_drop: Annotated[float, Field(description="the firm's PD minus this one: the model's estimate")]
    grade: str
    cost: float
    decision: Optional[str]
    text: str


class CounterfactualResult(TypedDict):
    """What it would take (the request's `counterfactual` option): innoscore.model.counterfactual."""
    target: dict[str, str]
    status: Literal[STATUSES]
    text: str
    alternatives: list[CounterfactualAlternative]


def counterfactual_result(cf, lang: str) -> CounterfactualResult:
    """A counterfactual (innoscore.model.counterfactual.search) as its reply."""
    return CounterfactualResult(target=cf.target.to_dict(), status=cf.status, text=getattr(cf, f"text_{lang}"),
                                alternatives=[CounterfactualAlternative(
                                    changes=[CounterfactualChange({"indicator": c.indicator, "from": float(c.from_),
                                                                   "to": float(c.to), "implied_by": c.implied_by})
                                             for c in a.changes],
                                    pd=float(a.pd), pd_drop=float(a.pd_drop), grade=a.grade, cost=float(a.cost),
                                    decision=a.decision, text=getattr(a, f"text_{lang}")) for a in cf.alternatives])


class Explanation(TypedDict):
    firm_id: str
    pd: float
    grade: str
    base_log_odds: float
    raw_log_odds: float
    risk_raising: list[Reason]
    risk_lowering: list[Reason]
    categories: list[CategoryEffect]
    counterfactual: Optional[CounterfactualResult]


def explanation(reasons: dict, lang: str, firm: dict, expert_points: dict[str, float], catalogue: Catalogue,
                counterfactual: CounterfactualResult | None = None) -> Explanation:
    """One firm's explanation: `reasons` from innoscore.model.explanation.reasons.all_firm_reasons,
    `firm` its id, PD, grade and log-odds."""
    def reason(x: dict) -> Reason:
        return {"indicator": x["indicator"], "name": x[f"name_{lang}"], "category": x["category"],
                "value": x["value"], "value_text": x[f"value_{lang}"], "percentile": x["percentile"],
                "contribution": x["contribution"], "text": x[f"text_{lang}"]}

    categories: list[CategoryEffect] = [
        {"category": c["category"], "name": c[f"name_{lang}"], "contribution": c["contribution"],
         "expert_points": expert_points[c["category"]],
         "max_points": float(catalogue.category_by_id[c["category"]].points)} for c in reasons["categories"]]
    return {**firm, "risk_raising": [reason(x) for x in reasons["risk_raising"]],
            "risk_lowering": [reason(x) for x in reasons["risk_lowering"]], "categories": categories,
            "counterfactual": counterfactual}


class ExplainReply(TypedDict):
    model: ModelRef
    lang: Literal["zh", "en"]
    results: list[Explanation]


class ModelInfoReply(TypedDict):
    model: ModelRef
    model_uri: str
    catalogue_version: str
    catalogue_fingerprint: str
    data_fingerprint: str
    test_metrics: dict[str, float]
    max_firms_per_request: int


# --- the refusals -------------------------------------------------------------------------------------
class ErrorReply(TypedDict):
    error: str


class FieldProblem(TypedDict):
    firm_id: Optional[str]
    index: NotRequired[Optional[int]]
    field: Optional[str]
    code: str
    message: str
    message_zh: str
    value: NotRequired[Optional[str]]


class InvalidFirmsReply(TypedDict):
    """Not JSON, not an object, duplicate keys (400, `error` alone); options or firms a rule refuses
    (`problems`: each names the firm, its place, the field and the reason)."""
    error: str
    problems: NotRequired[list[FieldProblem]]


ERROR_REPLIES: dict[int, tuple[type, str]] = {
    400: (InvalidFirmsReply, "Malformed request: not a JSON object, duplicate keys, wrong types or options / 请求格式错误"),
    401: (ErrorReply, "Missing or wrong API key / API密钥缺失或错误"),
    408: (ErrorReply, "The body did not arrive in time / 请求体接收超时"),
    413: (ErrorReply, "Body or number of firms above the limit / 请求过大"),
    415: (ErrorReply, "Not application/json / 媒体类型不支持"),
    422: (InvalidFirmsReply, "Firm data that breaks the catalogue, each problem named / 企业数据无效"),
    500: (ErrorReply, "Unexpected server error / 服务器内部错误"),
    503: (ErrorReply, "The inference log cannot take the firms, or (/reload) the registry cannot be reached; "
                      "the current version keeps serving / 暂不可用"),
}
