"""Serving settings from configs/serving.yaml (typed and strict, like every config file)."""
from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field

from innoscore.model.monitoring.config import InferenceLogConfig
from innoscore.settings import Settings, load_settings

SERVING_CONFIG_ENV = "INNOSCORE_SERVING_CONFIG"
API_KEY_ENV = "INNOSCORE_API_KEY"         # the key every request but the public paths must send
LOG_DIR_ENV = "INNOSCORE_LOG_DIR"          # `innoscore serve --log-dir`: overrides inference_log.directory


class ServingConfig(Settings):
    model_uri: str | None = None               # None: the champion that configs/training.yaml names
    graceful_shutdown_s: int = Field(20, ge=1)            # on SIGTERM, requests in flight get this long to finish
    stop_drain_s: float = Field(1.0, ge=0)                # on SIGTERM, open connections are closed after their next reply
    poll_interval_s: float | None = Field(30.0, gt=0)      # how often an alias is checked; None: never (use /reload)
    workers: int | None = Field(None, ge=1)                # service processes; None: one per CPU core
    threads_per_worker: int = Field(1, ge=1)               # LightGBM threads per request, so workers do not oversubscribe
    inline_firms: int = Field(20, ge=0)                    # requests up to this many firms are computed on the event loop
    max_firms_per_request: int = Field(500, ge=1)
    max_body_bytes: int = Field(4_000_000, ge=1_000)       # larger bodies: 413 before they are read
    max_string_length: int = Field(200, ge=8)              # longest firm id or text value: 422
    client_timeout_s: float = Field(10.0, gt=0)            # headers or a body not received in this time: 408
    default_top_k: int = Field(5, ge=1)
    max_top_k: int = Field(20, ge=1)
    public_paths: tuple[str, ...] = ("/", "/healthz", "/livez", "/readyz", "/metrics", "/docs", "/docs.json")
    decide: bool = True                        # /score adds the credit decision when the policy fits the model
    policy: str | None = None                  # the policy file; None: the packaged configs/policy.yaml
    inference_log: InferenceLogConfig = InferenceLogConfig()

    def log_directory(self) -> str | None:
        """Where the inference log goes (None: off): INNOSCORE_LOG_DIR, else the config's."""
        return os.environ.get(LOG_DIR_ENV) or self.inference_log.directory

    @classmethod
    def load(cls, path: str | Path | None = None) -> "ServingConfig":
        """`path`, else the file INNOSCORE_SERVING_CONFIG names (`innoscore serve --config`), else the packaged one."""
        from innoscore.paths import DEFAULT_SERVING_CONFIG

        return load_settings(cls, path or os.environ.get(SERVING_CONFIG_ENV) or DEFAULT_SERVING_CONFIG)

    def request_policy(self, catalogue):
        """The policy whose loan fields the request model carries, whether /score decides or not (so
        `decide: false` does not change what a valid request is); None where the packaged policy,
        written for the 44-indicator catalogue, does not fit another catalogue's model. A policy file
        named in the config that cannot be used raises SettingsError: the service refuses to start
        rather than serve without it."""
        from innoscore.model.decision.policy import load_policy
        from innoscore.settings import SettingsError

        try:
            return load_policy(self.policy, catalogue)
        except SettingsError:
            if self.policy is not None:
                raise
            return None

    def worker_count(self) -> int:
        return self.workers or os.cpu_count() or 1

    def served_model_uri(self) -> str:
        from innoscore.model.config import default_model_uri

        return self.model_uri or default_model_uri()
