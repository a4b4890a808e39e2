"""Build the deployable Bento from the project's bentofile, carrying one registered version."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from innoscore.serving.store import BENTO_MODEL_ALIAS, BENTO_MODEL_ENV, ensure_bentoml_home, import_registered_version

BENTOFILE = "bentofile.yaml"


class BentoBuildError(RuntimeError):
    """`bentoml build` refused the bentofile or failed; the message carries its last lines."""


def build_bento(model_uri: str, build_ctx: Path) -> str:
    """Import `model_uri` into the BentoML store and build `build_ctx/bentofile.yaml` around it; the Bento's tag.

    The bentofile's model entry is replaced by this exact version under the alias the service reads,
    so the Bento serves what was asked, whatever else the model store holds.
    """
    build_ctx = Path(build_ctx).resolve()
    config = yaml.safe_load((build_ctx / BENTOFILE).read_text(encoding="utf-8"))
    missing = [w for w in config.get("python", {}).get("wheels", []) if not (build_ctx / w).is_file()]
    if missing:
        raise BentoBuildError(f"wheel(s) {missing} not built: run `make bento` (or `uv build --wheel --out-dir dist`)")
    model = import_registered_version(model_uri)
    config["models"] = [{"tag": str(model.tag), "alias": BENTO_MODEL_ALIAS}]
    ensure_bentoml_home()
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", encoding="utf-8", delete=False) as f:
        yaml.safe_dump(config, f, allow_unicode=True)
    try:
        out = subprocess.run([str(Path(sys.executable).with_name("bentoml")), "build", "-f", f.name, str(build_ctx),
                              "--output", "tag"], capture_output=True, text=True, cwd=build_ctx,
                             env={**os.environ, BENTO_MODEL_ENV: str(model.tag)})
    finally:
        Path(f.name).unlink(missing_ok=True)
    tag = next((line.split("__tag__:", 1)[1].strip() for line in out.stdout.splitlines() if "__tag__:" in line), None)
    if out.returncode != 0 or tag is None:
        raise BentoBuildError(f"bentoml build failed: {(out.stderr or out.stdout).strip()[-1500:]}")
    return tag
