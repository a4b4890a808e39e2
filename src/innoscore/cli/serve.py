"""Serving: `serve` (BentoML over HTTP) and `bento` (build the deployable Bento)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from innoscore.cli._common import (app, console, fail, quiet_mlflow)


@app.command()
def serve(
    model_uri: Optional[str] = typer.Option(None, "--model-uri", help="Registered model / 模型URI (default: configs/serving.yaml, else the champion)"),
    host: str = typer.Option("127.0.0.1", "--host", help="Bind address / 监听地址"),
    port: int = typer.Option(3000, "--port", help="Port / 端口"),
    config: Optional[Path] = typer.Option(None, "--config", help="Serving settings / 服务配置 (default: configs/serving.yaml)"),
    log_dir: Optional[Path] = typer.Option(None, "--log-dir", help="Record every scored firm in this inference log "
                                           "folder (overrides inference_log.directory) / 推理日志目录"),
    allow_no_key: bool = typer.Option(False, "--allow-no-key", help="Serve on an address other hosts reach without "
                                      "INNOSCORE_API_KEY (refused by default) / 允许无密钥对外服务"),
) -> None:
    """Serve a registered model version over HTTP with BentoML / 以HTTP服务方式提供模型."""
    import ipaddress
    import os

    from innoscore.model.decision.policy import load_policy
    from innoscore.model.tracking.registry import RegistryError
    from innoscore.model.tracking.store import StoreUnavailable
    from innoscore.serving.config import API_KEY_ENV, LOG_DIR_ENV, SERVING_CONFIG_ENV, ServingConfig
    from innoscore.serving.store import BENTO_MODEL_ENV, MODEL_URI_ENV, SERVICE_IMPORT_PATH, import_registered_version
    from innoscore.settings import SettingsError

    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not os.environ.get(API_KEY_ENV) and not allow_no_key:
        fail(f"--host {host} is reachable from other hosts and {API_KEY_ENV} is not set: anyone could score firms "
             f"and move the served version (/reload); set the key, or pass --allow-no-key / 对外服务须设置API密钥")
    quiet_mlflow()
    try:
        settings = ServingConfig.load(config)
        if settings.policy:          # a named policy that cannot be read: refuse to start (its loan fields
            load_policy(settings.policy)   # shape the request model whether or not /score decides)
        uri = model_uri or settings.served_model_uri()
        bento_model = import_registered_version(uri)
    except (RegistryError, SettingsError, StoreUnavailable) as exc:
        fail(str(exc))
    labels = bento_model.info.labels
    console.print(f"serving {uri} = {labels['registered_name']} v{labels['registered_version']} "
                  f"(BentoML model {bento_model.tag}) on http://{host}:{port}")
    env = {**os.environ, BENTO_MODEL_ENV: str(bento_model.tag), MODEL_URI_ENV: uri, "BENTOML_DO_NOT_TRACK": "true",
           **({SERVING_CONFIG_ENV: str(config.resolve())} if config else {}),
           **({LOG_DIR_ENV: str(log_dir.resolve())} if log_dir else {})}
    os.execve(sys.executable, [sys.executable, "-m", "innoscore.serving.launch", "serve", SERVICE_IMPORT_PATH,
                               "--host", host, "--port", str(port),
                               "--timeout-graceful-shutdown", str(settings.graceful_shutdown_s)], env)


@app.command()
def bento(
    model_uri: Optional[str] = typer.Option(None, "--model-uri", help="Registered model / 模型URI (default: configs/serving.yaml, else the champion)"),
    build_ctx: Path = typer.Option(Path("."), "--build-ctx", help="Folder with bentofile.yaml and dist/ / 构建目录"),
) -> None:
    """Build the deployable Bento around a registered version / 构建可部署的Bento包."""
    from innoscore.model.tracking.registry import RegistryError
    from innoscore.model.tracking.store import StoreUnavailable
    from innoscore.serving.bento import BentoBuildError, build_bento
    from innoscore.serving.config import ServingConfig
    from innoscore.settings import SettingsError

    quiet_mlflow()
    try:
        uri = model_uri or ServingConfig.load().served_model_uri()
        tag = build_bento(uri, build_ctx)
    except (RegistryError, BentoBuildError, SettingsError, FileNotFoundError, StoreUnavailable) as exc:
        fail(str(exc))
    console.print(f"built Bento {tag} from {uri}; serve it with `bentoml serve {tag}`, "
                  f"or build an image with `bentoml containerize {tag}`")
