"""innoscore over HTTP: score and explain firms with a registered MLflow version.

`innoscore serve` imports the version into the BentoML store and starts this service with
INNOSCORE_BENTO_MODEL naming it; a built Bento (`innoscore bento`) names it by its model alias.
Requests pass the front door first (`guard`: key, size, strict JSON, the catalogue's request model),
the served version follows its alias (`lifecycle`), and the scoring and explaining logic lives in
`model/`, shared with batch scoring and the CLI: this file only maps HTTP to it.
"""
from __future__ import annotations

import gc
import logging
import os
import sys
import threading
import time
from typing import Annotated, Literal

import anyio
import bentoml
import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import JSONResponse, Response

from innoscore.features.catalogue import Catalogue
from innoscore.features.firm_columns import FirmColumns
from innoscore.model.config import TrainingConfig
from innoscore.model.explanation.reasons import all_firm_reasons
from innoscore.model.monitoring.log import InferenceLog, LogUnavailable
from innoscore.model.scoring.interface import ScoringModel
from innoscore.model.scoring.record import record_dicts
from innoscore.model.scoring.score import score_columns
from innoscore.serving.config import API_KEY_ENV, ServingConfig
from innoscore.serving.guard import Refusal, RequestGuard, RequestLimits
from innoscore.serving.header_deadline import limit_header_time
from innoscore.serving.lifecycle import ModelFollower, ServedModel
from innoscore.serving.logs import quiet_client_errors
from innoscore.serving.metrics import bound_endpoint_labels
from innoscore.serving.schemas import (CounterfactualResult, ExplainReply, Explanation, ModelInfoReply, ModelRef,
                                       ScoreReply, ScoreResult, counterfactual_goals, firm_model, firm_problems,
                                       openapi_with_errors)
from innoscore.serving.stopping import STOPPING, drain_on_sigterm, worker_listen_fd
from innoscore.serving.store import MODEL_URI_ENV, ensure_bentoml_home, served_model_tag

ensure_bentoml_home()
CONFIG = ServingConfig.load()
BENTO_MODEL = bentoml.models.get(served_model_tag())
CATALOGUE = Catalogue.model_validate_json(BENTO_MODEL.info.metadata["catalogue_json"])
REQUEST_POLICY = CONFIG.request_policy(CATALOGUE)              # its loan fields are in the request, deciding or not
POLICY = REQUEST_POLICY if CONFIG.decide else None
LOAN_FIELD_TYPES = REQUEST_POLICY.loan_column_types(CATALOGUE) if REQUEST_POLICY else {}
Firm = firm_model(CATALOGUE, REQUEST_POLICY, CONFIG.max_string_length)
FirmList = Annotated[list[Firm], Field(min_length=1, max_length=CONFIG.max_firms_per_request)]
GradeGoal, DecisionGoal = counterfactual_goals(BENTO_MODEL.info.metadata.get("grade_labels")
                                               or TrainingConfig.load().grade_scale.labels)
TOP_K = Field(CONFIG.default_top_k, ge=1, le=CONFIG.max_top_k)
COUNTERFACTUAL = Field(None, description='Also say what it would take: {"grade": "BBB"} or {"decision": "approve"} '
                                         '/ 同时给出达到目标等级或获批的改进方案')
MODEL_URI = os.environ.get(MODEL_URI_ENV) or BENTO_MODEL.info.metadata.get("model_uri", "")
logger = logging.getLogger("innoscore.serving")
WORKER_SERVICE: list["InnoscoreService"] = []       # this worker's service instance, once it is built


class ExplainOptions(BaseModel):
    """/explain's fields besides the firms, as the endpoint declares them but strict (BentoML's own
    validation is lax: it read `top_k: true` as 1): the guard refuses any other with a 400. Fields the
    endpoint does not declare are ignored, as BentoML and /score do (the OpenAPI body allows them)."""
    model_config = ConfigDict(extra="ignore", strict=True)
    top_k: int = TOP_K
    lang: Literal["zh", "en"] = "zh"
    counterfactual: GradeGoal | DecisionGoal | None = COUNTERFACTUAL


def error(status: int, message: str, problems: list[dict] | None = None) -> JSONResponse:
    return Refusal(status, message, problems).response()


PARENT_PID = os.getppid()     # the main process, as it was when this worker started


def exit_with_parent(parent: int = PARENT_PID, poll_s: float = 1.0) -> None:
    """A worker whose main process is gone (SIGKILL leaves it no chance to stop its workers) exits
    too, so that no orphan keeps the port; also one that loses it while still loading the model."""
    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent:
                logger.warning("the main process is gone: this worker writes its inference log and exits")
                for service in WORKER_SERVICE:
                    service.close_inference_log()
                os._exit(0)

    threading.Thread(target=watch, name="innoscore-parent-watch", daemon=True).start()


def _for_serving(model: ScoringModel) -> ScoringModel:
    if "num_threads" in model.estimator.get_params():
        model.estimator.set_params(num_threads=CONFIG.threads_per_worker)   # workers x threads <= cores
    return model


def _resolve(uri: str):
    from innoscore.model.tracking.registry import resolve
    from innoscore.model.tracking.store import configure_mlflow

    configure_mlflow(os.environ.get("MLFLOW_TRACKING_URI") or BENTO_MODEL.info.metadata.get("tracking_uri"))
    return resolve(uri)


def _load_version(name: str, version: str) -> ScoringModel:
    """A registered version to switch to; refused if its catalogue differs (the request model is built
    from the served catalogue: a new catalogue needs a restart)."""
    from innoscore.model.tracking.registry import load_pd_model

    model, _ = load_pd_model(f"models:/{name}/{version}")
    if model.catalogue.fingerprint() != CATALOGUE.fingerprint():
        raise ValueError(f"{name} v{version} has another catalogue ({model.catalogue.fingerprint()}); restart to serve it")
    return _for_serving(model)


async def sized_work(n_firms: int, work, *args, per_firm_search: bool = False):
    """`work(*args)` on the event loop for up to `inline_firms` firms (a thread hand-off, 0.3 ms, costs
    more than scoring one firm), on a thread above and for any search of milliseconds per firm (a
    counterfactual): a 500-firm /explain held the loop for 0.5 s, and /livez waited behind it."""
    if n_firms <= CONFIG.inline_firms and not per_firm_search:
        return work(*args)
    return await anyio.to_thread.run_sync(work, *args)


def json_reply(reply: dict) -> Response:
    """The reply, plain data shaped as the declared reply model, serialised once here by orjson: BentoML
    would build and validate the model again, and the standard library's encoder takes 4 ms for the
    350 kB of 100 firms' explanations (orjson 0.3 ms)."""
    return Response(orjson.dumps(reply, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json")


@bentoml.service(name="innoscore", traffic={"timeout": 60}, workers=CONFIG.worker_count())
class InnoscoreService:
    bento_model = BENTO_MODEL

    def __init__(self) -> None:
        exit_with_parent()
        pyfunc = bentoml.mlflow.load_model(self.bento_model)
        labels, meta = self.bento_model.info.labels, self.bento_model.info.metadata
        self.catalogue: Catalogue = CATALOGUE
        initial = ServedModel(_for_serving(pyfunc.unwrap_python_model().model), labels["registered_name"],
                              labels["registered_version"], labels["run_id"], tuple(meta.get("aliases", [])),
                              dict(meta.get("version_tags", {})), MODEL_URI)
        self.follower = ModelFollower(initial, resolve=_resolve, load=_load_version,
                                      poll_interval_s=CONFIG.poll_interval_s)
        try:
            self.follower.check()     # the aliases now (not those of the first import), the alias's version now
        except Exception as exc:
            logger.warning("registry not reachable at start (%s): serving the imported v%s",
                           type(exc).__name__, initial.version)
        self.follower.start()
        log_dir = CONFIG.log_directory()
        self.inference_log = (InferenceLog(log_dir, CATALOGUE, CONFIG.inference_log, loan_fields=LOAN_FIELD_TYPES)
                              if log_dir else None)
        drain_on_sigterm(worker_listen_fd(sys.argv), CONFIG.stop_drain_s)
        WORKER_SERVICE.append(self)     # ready: the guard may hand checked bodies to this instance
        gc.freeze()     # what start-up made is never garbage: a full collection, triggered by a large request's
        #                 many small objects, then scans only those, not the libraries' and the model's (0.3 s)

    @bentoml.on_shutdown
    def close_inference_log(self) -> None:
        """Graceful shutdown (SIGTERM), or the main process gone: what was scored is written before the
        worker exits."""
        if self.inference_log is not None:
            self.inference_log.close(CONFIG.graceful_shutdown_s)

    def __is_ready__(self) -> bool:
        """/readyz: unready while the inference log cannot be written (requests are refused then) and
        once the worker is stopping."""
        return not STOPPING.is_set() and (self.inference_log is None or self.inference_log.healthy)

    def _log(self, rows, columns, served: ServedModel) -> Response | None:
        """Record the scored firms; a 503 reply where the log cannot take them (never a 200 unlogged)."""
        if self.inference_log is None:
            return None
        try:
            self.inference_log.record(rows, columns, served.name, served.version)
        except LogUnavailable as exc:
            return error(503, f"{exc}; retry later / 请稍后重试")
        return None

    # --- shared request handling -------------------------------------------------------------
    def _records(self, records: list[dict]) -> list[dict]:
        """The request's firms as dicts (the guard and the request model have checked them); without an
        id column a firm is known by its place in the request. A firm id may repeat: results follow
        the request's order."""
        id_col = self.catalogue.dataset.firm_id_column
        if self.catalogue.dataset.id_column is None:
            for i, rec in enumerate(records):
                if rec.get(id_col) is None:
                    rec[id_col] = str(i + 1)
        return records

    # --- endpoints -----------------------------------------------------------------------------
    @bentoml.api(route="/score")
    async def score(self, firms: FirmList = Field(..., description="Firms to score / 待评分企业")) -> ScoreReply:
        """PD, grade, expert scorecard points and missing indicators per firm / 违约概率、等级与专家评分."""
        # Over HTTP the guard answers a plain /score itself (`score_reply`): this runs for calls in
        # Python and for a request before the worker is ready.
        return await self.score_reply([f.model_dump() for f in firms])

    async def score_reply(self, firms: list[dict]) -> Response:
        """/score's reply to checked firms (dicts of the request model's fields)."""
        served = self.follower.current                 # one version for the whole request
        rows, columns = await sized_work(len(firms), score_columns, self._records(firms), served.model, POLICY,
                                         LOAN_FIELD_TYPES)
        refused = self._log(rows, columns, served)
        if refused is not None:
            return refused
        return json_reply({"model": served.reference,
                           "results": [ScoreResult.reply_of(r, self.catalogue) for r in record_dicts(columns)]})

    @bentoml.api(route="/explain")
    async def explain(self, firms: FirmList = Field(..., description="Firms to explain / 待解释企业"),
                      top_k: int = TOP_K, lang: Literal["zh", "en"] = "zh",
                      counterfactual: GradeGoal | DecisionGoal | None = COUNTERFACTUAL) -> ExplainReply:
        """Top reasons each way and category totals, from SHAP; with a counterfactual target, the fewest
        feasible changes that reach it / 基于SHAP的主要原因与大类贡献，可附反事实改进方案."""
        # Over HTTP the guard answers it itself (`explain_reply`), as /score.
        return await self.explain_reply([f.model_dump() for f in firms], top_k, lang, counterfactual)

    async def explain_reply(self, firms: list[dict], top_k: int, lang: str, counterfactual) -> Response:
        """/explain's reply to checked firms (dicts of the request model's fields)."""
        served = self.follower.current
        model = served.model
        if not model.has_contributions:
            return error(422, f"the served model ({model.kind}) has no per-indicator contributions; /explain "
                              f"needs a LightGBM PD model / 当前模型不支持解释")
        target = None
        if counterfactual is not None:
            target = counterfactual.target()
            if target.decision is not None and POLICY is None:
                return error(422, "no credit policy is served: the decision target is unavailable / 未启用审批政策")
            if target.grade is not None and target.grade not in model.grade_scale.labels:
                return error(422, f"counterfactual grade '{target.grade}' is not a grade of the served model "
                                  f"({', '.join(model.grade_scale.labels)}) / 目标等级不存在")
        rows, scores, results = await sized_work(len(firms), self._explained, firms, served, top_k, lang, target,
                                                 per_firm_search=target is not None)
        refused = self._log(rows, {"pd": scores.pd, "grade": scores.grades, **{
            f"expert_{c}": scores.expert_points[c] for c in self.catalogue.category_ids}}, served)
        if refused is not None:
            return refused
        return json_reply({"model": served.reference, "lang": lang, "results": results})

    def _explained(self, firms: list[dict], served: ServedModel, top_k: int, lang: str, target):
        """The firms as columns, their scores and their /explain results, with the counterfactual when
        `target` is set (reading 2,000 firms into columns is work too: off the loop with the rest)."""
        rows = FirmColumns.from_records(self._records(firms), self.catalogue, LOAN_FIELD_TYPES)
        model = served.model
        scores = model.score(rows, with_explanations=True)
        expl = scores.explanations
        found = [None] * len(rows)
        if target is not None:
            found = [CounterfactualResult.reply_of(cf, lang) for cf in
                     served.counterfactual_search(POLICY).explain(rows.to_frame(), target)]
        reasons = all_firm_reasons(expl, self.catalogue, model.peer_quantiles, top_k, langs=(lang,))
        expert = record_dicts(scores.expert_points)
        return rows, scores, [Explanation.reply_of(
            r, lang, {"firm_id": str(expl.firm_ids[i]), "pd": float(expl.pd[i]), "grade": str(scores.grades[i]),
                      "base_log_odds": float(expl.base_value), "raw_log_odds": float(expl.raw_log_odds[i])},
            expert[i], self.catalogue, found[i]) for i, r in enumerate(reasons)]

    @bentoml.api(route="/model_info")
    def model_info(self) -> ModelInfoReply:
        """Which registered version answers, on what catalogue and data / 当前模型版本信息."""
        return self._info()

    def _info(self) -> ModelInfoReply:
        served = self.follower.current
        return ModelInfoReply(
            model=ModelRef(**served.reference), model_uri=served.model_uri, catalogue_version=self.catalogue.version,
            catalogue_fingerprint=self.catalogue.fingerprint(), data_fingerprint=served.tags.get("data_fingerprint", "unknown"),
            test_metrics={k.removeprefix("test_"): float(v) for k, v in served.tags.items() if k.startswith("test_")},
            max_firms_per_request=CONFIG.max_firms_per_request)

    @bentoml.api(route="/reload")
    def reload(self) -> ModelInfoReply:
        """Check the registry now and switch to the version the alias names / 立即按别名切换模型版本."""
        try:
            self.follower.check()
        except Exception as exc:
            return error(503, f"the registry cannot be reached or the version cannot be served ({type(exc).__name__}); "
                              f"still serving v{self.follower.current.version} / 模型注册中心不可用")
        return self._info()


async def _direct_score(body: dict) -> Response | None:
    """/score answered by the guard with the firms it has checked; None (BentoML answers) until the
    worker is ready or when the body holds more than firms."""
    if not WORKER_SERVICE or body.keys() != {"firms"}:
        return None
    return await WORKER_SERVICE[0].score_reply(body["firms"])


async def _direct_explain(body: dict) -> Response | None:
    """/explain answered by the guard, as `_direct_score`; options that fail `ExplainOptions` (strict:
    `top_k: true`, `"3"` or `3.0` is no count) are a 400 naming the option, as BentoML's own refusals."""
    try:
        options = ExplainOptions.model_validate({k: v for k, v in body.items() if k != "firms"})
    except ValidationError as exc:
        return error(400, "invalid options / 参数无效", [
            {"firm_id": None, "index": None, "field": ".".join(map(str, e["loc"])) or None, "code": "invalid_option",
             "message": e["msg"], "message_zh": "参数取值无效"} for e in exc.errors(include_url=False, include_input=False)])
    if not WORKER_SERVICE:
        return None
    return await WORKER_SERVICE[0].explain_reply(body["firms"], options.top_k, options.lang, options.counterfactual)


API_PATHS = ("/score", "/explain", "/model_info", "/reload")
limit_header_time(CONFIG.client_timeout_s)
bound_endpoint_labels(API_PATHS + ("/", "/docs", "/docs.json", "/schema.json", "/metrics", "/livez", "/healthz",
                                   "/readyz"), known_prefixes=("/static_content/",))
BODY_PATHS = ("/score", "/explain")          # the guard checks their JSON bodies
InnoscoreService.add_asgi_middleware(
    RequestGuard, limits=RequestLimits(CONFIG.max_firms_per_request, CONFIG.max_body_bytes, CONFIG.max_string_length, CONFIG.client_timeout_s),
    api_paths=BODY_PATHS, public_paths=CONFIG.public_paths, api_key=os.environ.get(API_KEY_ENV) or None,
    id_column=CATALOGUE.dataset.firm_id_column,
    openapi=lambda: openapi_with_errors(InnoscoreService.openapi_spec.asdict(), API_PATHS),
    firm_check=lambda firms: firm_problems(Firm, CATALOGUE, firms),
    direct={"/score": _direct_score, "/explain": _direct_explain}, empty_paths=("/model_info", "/reload"),
    stopping=STOPPING)
quiet_client_errors()
