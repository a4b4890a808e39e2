"""innoscore over HTTP: score and explain firms with one registered MLflow version.

`innoscore serve` imports the version into the BentoML store and starts this service with
INNOSCORE_BENTO_MODEL naming it; a built Bento (`innoscore bento`) names it by its model alias. The scoring and explaining logic lives in `model/` and is shared
with batch scoring and the CLI; this file only maps HTTP to it.
"""
from __future__ import annotations

import hmac
import os
from typing import Literal

import bentoml
import pandas as pd
from pydantic import Field
from starlette.responses import JSONResponse

from innoscore.features.catalogue import Catalogue
from innoscore.model.explanation.reasons import firm_reasons
from innoscore.model.scoring.interface import ScoringModel
from innoscore.model.scoring.record import scored_firms
from innoscore.model.scoring.score import InvalidFirmData, checked_frame
from innoscore.serving.config import ServingConfig
from innoscore.serving.schemas import (CategoryEffect, ExplainReply, Explanation, ModelInfoReply, ModelRef, Reason,
                                       ScoreReply, ScoreResult, firm_model)
from innoscore.serving.store import ensure_bentoml_home, served_model_tag

ensure_bentoml_home()
CONFIG = ServingConfig.load()
BENTO_MODEL = bentoml.models.get(served_model_tag())
CATALOGUE = Catalogue.model_validate_json(BENTO_MODEL.info.metadata["catalogue_json"])
POLICY = CONFIG.credit_policy(CATALOGUE)
LOAN_FIELDS = tuple(sorted(POLICY.loan_columns() - set(CATALOGUE.indicator_ids))) if POLICY else ()
Firm = firm_model(CATALOGUE, LOAN_FIELDS)
API_KEY_ENV = "INNOSCORE_API_KEY"


def error(status: int, message: str, problems: list[dict] | None = None) -> JSONResponse:
    body = {"error": message}
    if problems is not None:
        body["problems"] = problems
    return JSONResponse(body, status_code=status)


def loan_field_problems(rec: dict, index: int, firm, policy) -> list[dict]:
    """The requested amount must be a non-negative number and the guarantee a type the policy knows
    (both may be absent): a decision is never made on a value it cannot read."""
    if policy is None:
        return []
    lim, out = policy.limits, []
    amount, guarantee = rec.get(lim.requested_column), rec.get(lim.guarantee_column)
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount < 0):
        out.append({"firm_id": None if firm is None else str(firm), "index": index, "field": lim.requested_column,
                    "code": "not_a_number", "message": "requested amount must be a non-negative number",
                    "message_zh": "申请金额必须为非负数"})
    if guarantee is not None and guarantee not in lim.guarantees:
        out.append({"firm_id": None if firm is None else str(firm), "index": index, "field": lim.guarantee_column,
                    "code": "unknown_level", "message": f"unknown guarantee type, allowed: {sorted(lim.guarantees)}",
                    "message_zh": "未知担保方式"})
    return out


class ApiKeyMiddleware:
    """When INNOSCORE_API_KEY is set, every path but the health probes needs `Authorization: Bearer <key>`."""

    def __init__(self, app, public_paths: tuple[str, ...] = ()):
        self.app = app
        self.public_paths = public_paths
        self.key = os.environ.get(API_KEY_ENV) or None

    async def __call__(self, scope, receive, send):
        if self.key and scope["type"] == "http" and scope["path"] not in self.public_paths:
            headers = dict(scope.get("headers") or [])
            given = headers.get(b"authorization", b"").decode("latin-1")
            if not hmac.compare_digest(given, f"Bearer {self.key}"):
                await error(401, "missing or wrong API key: send 'Authorization: Bearer <key>'")(scope, receive, send)
                return
        await self.app(scope, receive, send)


@bentoml.service(name="innoscore", traffic={"timeout": 60}, workers=1)
class InnoscoreService:
    bento_model = BENTO_MODEL

    def __init__(self) -> None:
        pyfunc = bentoml.mlflow.load_model(self.bento_model)
        self.model: ScoringModel = pyfunc.unwrap_python_model().model
        self.catalogue: Catalogue = self.model.catalogue
        self.grades = self.model.grade_scale
        labels, meta = self.bento_model.info.labels, self.bento_model.info.metadata
        self.model_ref = ModelRef(name=labels["registered_name"], version=labels["registered_version"],
                                  aliases=list(meta.get("aliases", [])), run_id=labels["run_id"])
        self.meta = meta
        self.known_fields = {self.catalogue.dataset.firm_id_column, *self.catalogue.indicator_ids, *LOAN_FIELDS}

    # --- shared request handling -------------------------------------------------------------
    def _rows(self, firms: list) -> pd.DataFrame | JSONResponse:
        """Checked firm rows, or the 4xx reply that names each firm, field and problem."""
        if not firms:
            return error(422, "no firms in the request / 请求中没有企业")
        if len(firms) > CONFIG.max_firms_per_request:
            return error(413, f"{len(firms)} firms in one request; the maximum is {CONFIG.max_firms_per_request} "
                              f"/ 单次请求企业数超过上限")
        id_col = self.catalogue.dataset.firm_id_column
        records = [f.model_dump() if hasattr(f, "model_dump") else dict(f) for f in firms]
        problems = []
        numbered = self.catalogue.dataset.id_column is None   # firms are known by their place in the request
        for i, rec in enumerate(records):
            if numbered and rec.get(id_col) is None:
                rec[id_col] = str(i + 1)
            firm = rec.get(id_col)
            if firm is None or str(firm).strip() == "":
                problems.append({"firm_id": None, "index": i, "field": id_col, "code": "missing_value",
                                 "message": "firm id is required", "message_zh": "缺少企业编号"})
            for key in rec:
                if key not in self.known_fields:
                    problems.append({"firm_id": None if firm is None else str(firm), "index": i, "field": key,
                                     "code": "unknown_field", "message": "not an indicator of the catalogue",
                                     "message_zh": "不是指标目录中的指标"})
            problems += loan_field_problems(rec, i, firm, POLICY)
        if problems:
            return error(422, "invalid firm data / 企业数据无效", problems)
        frame = pd.DataFrame.from_records(records, columns=[id_col, *self.catalogue.indicator_ids, *LOAN_FIELDS])
        try:
            return checked_frame(frame, self.catalogue)
        except InvalidFirmData as exc:
            return error(422, "invalid firm data / 企业数据无效", [p.to_dict() for p in exc.report.problems])

    # --- endpoints -----------------------------------------------------------------------------
    @bentoml.api(route="/score")
    def score(self, firms: list[Firm] = Field(..., description="Firms to score / 待评分企业")) -> ScoreReply:
        """PD, grade, expert scorecard points and missing indicators per firm / 违约概率、等级与专家评分."""
        rows = self._rows(firms)
        if isinstance(rows, JSONResponse):
            return rows
        records = scored_firms(rows, self.model.score(rows), self.model, policy=POLICY)
        return ScoreReply(model=self.model_ref, results=[ScoreResult.from_record(r, self.catalogue)
                                                         for r in records.to_dict("records")])

    @bentoml.api(route="/explain")
    def explain(self, firms: list[Firm] = Field(..., description="Firms to explain / 待解释企业"),
                top_k: int = Field(CONFIG.default_top_k, ge=1, le=CONFIG.max_top_k),
                lang: Literal["zh", "en"] = "zh") -> ExplainReply:
        """Top reasons each way and category totals, from SHAP / 基于SHAP的主要原因与大类贡献."""
        rows = self._rows(firms)
        if isinstance(rows, JSONResponse):
            return rows
        if not self.model.has_contributions:
            return error(422, f"the served model ({self.model.kind}) has no per-indicator contributions; /explain "
                              f"needs a LightGBM PD model / 当前模型不支持解释")
        scores = self.model.score(rows, with_explanations=True)
        expl, grades, points = scores.explanations, scores.grades, scores.expert
        results = []
        for i in range(len(rows)):
            r = firm_reasons(expl, i, self.catalogue, self.model.peer_quantiles, top_k)

            def reason(x):
                return Reason(indicator=x["indicator"], name=x[f"name_{lang}"], category=x["category"],
                              value=x["value"], value_text=x[f"value_{lang}"], percentile=x["percentile"],
                              contribution=x["contribution"], text=x[f"text_{lang}"])

            results.append(Explanation(
                firm_id=str(expl.firm_ids[i]), pd=float(expl.pd[i]), grade=grades[i],
                base_log_odds=float(expl.base_value), raw_log_odds=float(expl.raw_log_odds[i]),
                risk_raising=[reason(x) for x in r["risk_raising"]], risk_lowering=[reason(x) for x in r["risk_lowering"]],
                categories=[CategoryEffect(category=c["category"], name=c[f"name_{lang}"], contribution=c["contribution"],
                                           expert_points=float(points[c["category"]].iat[i]),
                                           max_points=self.catalogue.category_by_id[c["category"]].points)
                            for c in r["categories"]]))
        return ExplainReply(model=self.model_ref, lang=lang, results=results)

    @bentoml.api(route="/model_info")
    def model_info(self) -> ModelInfoReply:
        """Which registered version answers, on what catalogue and data / 当前模型版本信息."""
        tags = self.meta.get("version_tags", {})
        return ModelInfoReply(
            model=self.model_ref, model_uri=self.meta.get("model_uri", ""), catalogue_version=self.catalogue.version,
            catalogue_fingerprint=self.catalogue.fingerprint(), data_fingerprint=tags.get("data_fingerprint", "unknown"),
            test_metrics={k.removeprefix("test_"): float(v) for k, v in tags.items() if k.startswith("test_")},
            max_firms_per_request=CONFIG.max_firms_per_request)


InnoscoreService.add_asgi_middleware(ApiKeyMiddleware, public_paths=CONFIG.public_paths)
