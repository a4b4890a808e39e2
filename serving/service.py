"""innoscore over HTTP: score and explain firms with a registered MLflow version.

`innoscore serve` imports the version into the BentoML store and starts this service with
INNOSCORE_BENTO_MODEL naming it; a built Bento (`innoscore bento`) names it by its model alias.
The endpoints are a FastAPI app mounted through BentoML's seam for custom routes
(`@bentoml.asgi_app`): one path per endpoint, its reply model and error replies declared on its
route (they feed the OpenAPI document), each reading its own body (`request_body`). Requests pass
the front door first (`guard`: key, body size and deadline), the served version follows its alias
(`lifecycle`), and the scoring and explaining logic lives in `model/`, shared with batch scoring and
the CLI: this file only maps HTTP to it.
"""
from __future__ import annotations

import functools
import gc
import inspect
import logging
import os
import sys
import threading
import time
from typing import Awaitable, Callable

import anyio
import bentoml
import orjson
from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from innoscore.features.catalogue import Catalogue
from innoscore.features.firm_columns import FirmColumns
from innoscore.model.config import TrainingConfig
from innoscore.model.explanation.reasons import all_firm_reasons
from innoscore.model.monitoring.log import InferenceLog, LogUnavailable
from innoscore.model.scoring.interface import ScoringModel
from innoscore.model.scoring.record import record_dicts
from innoscore.model.scoring.score import score_request
from innoscore.serving.config import API_KEY_ENV, ServingConfig
from innoscore.serving.guard import RequestGuard, RequestLimits
from innoscore.serving.header_deadline import limit_header_time
from innoscore.serving.lifecycle import ModelFollower, ServedModel
from innoscore.serving.logs import quiet_client_errors
from innoscore.serving.metrics import bound_endpoint_labels
from innoscore.serving.openapi import SAME_ORIGIN_ONLY, offline_index_page, openapi_document, request_body
from innoscore.serving.request_body import FirmsReader, Refusal, parse_strict_json
from innoscore.serving.schemas import (ERROR_REPLIES, ExplainReply, ModelInfoReply, NoFields, ScoreReply,
                                       counterfactual_result, explanation, firm_model, firm_problems, request_models,
                                       score_result)
from innoscore.serving.stopping import STOPPING, drain_on_sigterm, worker_listen_fd
from innoscore.serving.store import MODEL_URI_ENV, ensure_bentoml_home, served_model_tag

ensure_bentoml_home()
CONFIG = ServingConfig.load()
BENTO_MODEL = bentoml.models.get(served_model_tag())
CATALOGUE = Catalogue.model_validate_json(BENTO_MODEL.info.metadata["catalogue_json"])
REQUEST_POLICY = CONFIG.request_policy(CATALOGUE)              # its loan fields are in the request, deciding or not
POLICY = REQUEST_POLICY if CONFIG.decide else None
LOAN_FIELD_TYPES = REQUEST_POLICY.loan_field_types(CATALOGUE) if REQUEST_POLICY else {}
Firm = firm_model(CATALOGUE, REQUEST_POLICY, CONFIG.max_string_length)
ScoreRequest, ExplainOptions, ExplainRequest = request_models(
    Firm, CONFIG.max_firms_per_request, CONFIG.default_top_k, CONFIG.max_top_k,
    BENTO_MODEL.info.metadata.get("grade_labels") or TrainingConfig.load().grade_scale.labels)
FIRMS = FirmsReader(CONFIG.max_firms_per_request, CONFIG.max_string_length, CATALOGUE.dataset.firm_id_column,
                    lambda firms: firm_problems(Firm, CATALOGUE, firms))
MODEL_URI = os.environ.get(MODEL_URI_ENV) or BENTO_MODEL.info.metadata.get("model_uri", "")
logger = logging.getLogger("innoscore.serving")
AT_PARENT_EXIT: list[Callable[[], None]] = []       # what this worker does before it exits with its main process


PARENT_PID = os.getppid()     # the main process, as it was when this worker started


def exit_with_parent(parent: int = PARENT_PID, poll_s: float = 1.0) -> None:
    """A worker whose main process is gone (SIGKILL leaves it no chance to stop its workers) exits
    too, so that no orphan keeps the port; also one that loses it while still loading the model."""
    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent:
                logger.warning("the main process is gone: this worker writes its inference log and exits")
                for last_work in AT_PARENT_EXIT:
                    last_work()
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


INLINE_BODY_BYTES = 65_536     # about 30 firms: a larger body is parsed and checked on a thread


async def sized_work(n_firms: int, work, *args, per_firm_search: bool = False):
    """`work(*args)` on the event loop for up to `inline_firms` firms (a thread hand-off, 0.3 ms, costs
    more than scoring one firm), on a thread above and for any search of milliseconds per firm (a
    counterfactual): a 500-firm /explain held the loop for 0.5 s, and /livez waited behind it."""
    if n_firms <= CONFIG.inline_firms and not per_firm_search:
        return work(*args)
    return await anyio.to_thread.run_sync(work, *args)


async def read_firms(request: Request) -> dict:
    """The request's body, its firms checked (`request_body`): on the loop for a small body, on a thread
    for a large one (parsing and checking grow with the firms, and the loop answers probes meanwhile)."""
    body = await request.body()
    if len(body) <= INLINE_BODY_BYTES:
        return FIRMS.read(body)
    return await anyio.to_thread.run_sync(FIRMS.read, body)


async def answer(path: str, reply: Awaitable[Response]) -> Response:
    """The endpoint's reply; a refusal is its 4xx JSON reply, a failure a 500 JSON reply as BentoML
    gives, logged without the request."""
    try:
        return await reply
    except Refusal as refusal:
        return refusal.response()
    except Exception:
        logger.exception("%s failed", path)
        return JSONResponse({"error": "An unexpected error has occurred, please check the server log."},
                            status_code=500)


def json_reply(reply: dict) -> Response:
    """The reply, plain data built by its declared shape (`schemas`), serialised once here by orjson:
    the standard library's encoder takes 4 ms for the 350 kB of 100 firms' explanations (orjson 0.3 ms)."""
    return Response(orjson.dumps(reply, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json")


def declared(reply_model, body_model=NoFields) -> dict:
    """A route's declarations for the OpenAPI document: its reply, its error replies, its body."""
    return {"response_model": reply_model,
            "openapi_extra": request_body(body_model, required=body_model is not NoFields),
            "responses": {status: {"model": model, "description": text}
                          for status, (model, text) in ERROR_REPLIES.items()}}


class RequestRoute(APIRoute):
    """A route whose endpoint reads the request itself (`request_body`) and returns its Response: the
    declarations feed the OpenAPI document only, so FastAPI's parameter solving and reply handling are
    skipped: 13 us of the 32 us a mounted FastAPI route costs (FastAPI's seam for a custom route class)."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        endpoint = self.endpoint
        if inspect.signature(endpoint).parameters:
            return endpoint

        async def without_request(request: Request) -> Response:
            return await endpoint()
        return without_request


api = FastAPI(title="innoscore", docs_url=None, redoc_url=None, openapi_url=None)
api.router.route_class = RequestRoute


@bentoml.service(name="innoscore", traffic={"timeout": 60}, workers=CONFIG.worker_count())
@bentoml.asgi_app(api, path="/")
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
        AT_PARENT_EXIT.append(self.close_inference_log)
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

    def _log(self, rows, scored, served: ServedModel) -> None:
        """Record the scored firms; a 503 reply where the log cannot take them (never a 200 unlogged)."""
        if self.inference_log is None:
            return
        try:
            self.inference_log.record(rows, scored, served.name, served.version)
        except LogUnavailable as exc:
            raise Refusal(503, f"{exc}; retry later / 请稍后重试") from None

    def _records(self, records: list[dict]) -> list[dict]:
        """The request's firms as dicts (checked by the request model); without an id column a firm is
        known by its place in the request. A firm id may repeat: results follow the request's order."""
        id_col = self.catalogue.dataset.firm_id_column
        if self.catalogue.dataset.id_column is None:
            for i, rec in enumerate(records):
                if rec.get(id_col) is None:
                    rec[id_col] = str(i + 1)
        return records

    # --- what the endpoints answer ----------------------------------------------------------------
    async def score_reply(self, request: Request) -> Response:
        firms = (await read_firms(request))["firms"]
        served = self.follower.current                 # one version for the whole request
        rows, records = await sized_work(len(firms), score_request, self._records(firms), served.model, POLICY,
                                         LOAN_FIELD_TYPES)
        self._log(rows, records, served)
        return json_reply(ScoreReply(model=served.reference,
                                     results=[score_result(r, self.catalogue) for r in record_dicts(records)]))

    async def explain_reply(self, request: Request) -> Response:
        body = await read_firms(request)
        try:
            options = ExplainOptions.model_validate({k: v for k, v in body.items() if k != "firms"})
        except ValidationError as exc:
            raise Refusal(400, "invalid options / 参数无效", [
                {"firm_id": None, "index": None, "field": ".".join(map(str, e["loc"])) or None,
                 "code": "invalid_option", "message": e["msg"], "message_zh": "参数取值无效"}
                for e in exc.errors(include_url=False, include_input=False)]) from None
        firms, top_k, lang = body["firms"], options.top_k, options.lang
        served = self.follower.current
        model = served.model
        if not model.has_contributions:
            raise Refusal(422, f"the served model ({model.kind}) has no per-indicator contributions; /explain "
                               f"needs a LightGBM PD model / 当前模型不支持解释")
        target = None
        if options.counterfactual is not None:
            target = options.counterfactual.target()
            if target.decision is not None and POLICY is None:
                raise Refusal(422, "no credit policy is served: the decision target is unavailable / 未启用审批政策")
            if target.grade is not None and target.grade not in model.grade_scale.labels:
                raise Refusal(422, f"counterfactual grade '{target.grade}' is not a grade of the served model "
                                   f"({', '.join(model.grade_scale.labels)}) / 目标等级不存在")
        rows, scores, results = await sized_work(len(firms), self._explained, firms, served, top_k, lang, target,
                                                 per_firm_search=target is not None)
        self._log(rows, {"pd": scores.pd, "grade": scores.grades, **{
            f"expert_{c}": scores.expert_points[c] for c in self.catalogue.category_ids}}, served)
        return json_reply(ExplainReply(model=served.reference, lang=lang, results=results))

    def _explained(self, firms: list[dict], served: ServedModel, top_k: int, lang: str, target):
        """The firms as columns, their scores and their /explain results, with the counterfactual when
        `target` is set (reading 2,000 firms into columns is work too: off the loop with the rest)."""
        rows = FirmColumns.from_records(self._records(firms), self.catalogue, LOAN_FIELD_TYPES)
        model = served.model
        scores = model.score(rows, with_explanations=True)
        expl = scores.explanations
        found = [None] * len(rows)
        if target is not None:
            found = [counterfactual_result(cf, lang) for cf in
                     served.counterfactual_search(POLICY).explain(rows.to_frame(), target)]
        reasons = all_firm_reasons(expl, self.catalogue, model.peer_quantiles, top_k, langs=(lang,))
        expert = record_dicts(scores.expert_points)
        return rows, scores, [explanation(
            r, lang, {"firm_id": str(expl.firm_ids[i]), "pd": float(expl.pd[i]), "grade": str(scores.grades[i]),
                      "base_log_odds": float(expl.base_value), "raw_log_odds": float(expl.raw_log_odds[i])},
            expert[i], self.catalogue, found[i]) for i, r in enumerate(reasons)]

    async def info_reply(self, request: Request, reload: bool = False) -> Response:
        """/model_info's reply; `reload`: after checking the registry. The body, if any, is a JSON object
        whose fields are ignored."""
        body = await request.body()
        if body.strip():
            parse_strict_json(body)
        if reload:
            try:
                await anyio.to_thread.run_sync(self.follower.check)
            except Exception as exc:
                raise Refusal(503, f"the registry cannot be reached or the version cannot be served "
                                   f"({type(exc).__name__}); still serving v{self.follower.current.version} "
                                   f"/ 模型注册中心不可用") from None
        served = self.follower.current
        return json_reply(ModelInfoReply(
            model=served.reference, model_uri=served.model_uri, catalogue_version=self.catalogue.version,
            catalogue_fingerprint=self.catalogue.fingerprint(), data_fingerprint=served.tags.get("data_fingerprint", "unknown"),
            test_metrics={k.removeprefix("test_"): float(v) for k, v in served.tags.items() if k.startswith("test_")},
            max_firms_per_request=CONFIG.max_firms_per_request))


def service() -> InnoscoreService:
    """This worker's service instance, as BentoML holds it (a plain call: as a FastAPI dependency, a
    plain function runs on a thread, 0.2 ms of every request)."""
    return bentoml.get_current_service()


# --- endpoints: one route each, declared for the OpenAPI document --------------------------------------
@api.post("/score", **declared(ScoreReply, ScoreRequest))
async def score(request: Request) -> Response:
    """PD, grade, expert scorecard points and missing indicators per firm / 违约概率、等级与专家评分."""
    return await answer("/score", service().score_reply(request))


@api.post("/explain", **declared(ExplainReply, ExplainRequest))
async def explain(request: Request) -> Response:
    """Top reasons each way and category totals, from SHAP; with a counterfactual target, the fewest
    feasible changes that reach it / 基于SHAP的主要原因与大类贡献，可附反事实改进方案."""
    return await answer("/explain", service().explain_reply(request))


@api.post("/model_info", **declared(ModelInfoReply))
async def model_info(request: Request) -> Response:
    """Which registered version answers, on what catalogue and data / 当前模型版本信息."""
    return await answer("/model_info", service().info_reply(request))


@api.post("/reload", **declared(ModelInfoReply))
async def reload(request: Request) -> Response:
    """Check the registry now and switch to the version the alias names / 立即按别名切换模型版本."""
    return await answer("/reload", service().info_reply(request, reload=True))


@api.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
async def index() -> Response:
    """The Swagger UI page, without BentoML's Google Tag Manager, same-origin only."""
    return HTMLResponse(offline_index_page(), headers={"Content-Security-Policy": SAME_ORIGIN_ONLY})


@api.get("/docs", include_in_schema=False)
async def docs() -> Response:
    return RedirectResponse("/", status_code=307)


@api.get("/docs.json", include_in_schema=False)
async def openapi() -> Response:
    """The OpenAPI document: every endpoint with its body, reply and error replies."""
    return JSONResponse(_openapi_document())


@functools.cache
def _openapi_document() -> dict:
    return openapi_document(InnoscoreService.openapi_spec.asdict(), [ScoreRequest, ExplainRequest, NoFields])


API_PATHS = ("/score", "/explain", "/model_info", "/reload")
limit_header_time(CONFIG.client_timeout_s)
bound_endpoint_labels(API_PATHS + ("/", "/docs", "/docs.json", "/schema.json", "/metrics", "/livez", "/healthz",
                                   "/readyz"), known_prefixes=("/static_content/",))
InnoscoreService.add_asgi_middleware(
    RequestGuard, limits=RequestLimits(CONFIG.max_body_bytes, CONFIG.client_timeout_s),
    body_paths=("/score", "/explain"), optional_body_paths=("/model_info", "/reload"),
    public_paths=CONFIG.public_paths, api_key=os.environ.get(API_KEY_ENV) or None, stopping=STOPPING)
quiet_client_errors()
