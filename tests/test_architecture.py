"""The layers of docs/architecture.md: no module imports a layer above its own."""
import ast
import tomllib
from pathlib import Path

import pytest

# Lowest first; a module belongs to the longest prefix that names it.
LAYERS = [
    ("innoscore.paths", "innoscore.settings", "innoscore"),
    ("innoscore.configs", "innoscore.features"),
    ("innoscore.model.estimators", "innoscore.model.grades", "innoscore.model.config", "innoscore.model.arrays"),
    ("innoscore.model.evaluation", "innoscore.model.explanation", "innoscore.model.decision"),
    ("innoscore.model.scoring", "innoscore.model.monitoring", "innoscore.model.counterfactual"),
    ("innoscore.model.reports", "innoscore.model.tracking"),
    ("innoscore.model.training",),
    ("innoscore.serving",),
    ("innoscore.cli", "innoscore.demo", "innoscore.display"),
]
_RANK = {prefix: rank for rank, prefixes in enumerate(LAYERS) for prefix in prefixes}


def layer(module: str) -> int:
    matches = [p for p in _RANK if module == p or module.startswith(p + ".")]
    assert matches, f"{module} is in no layer of docs/architecture.md"
    return _RANK[max(matches, key=len)]


ROOT = Path(__file__).parents[1]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def _modules():
    """(module name, file) of every module under the folders that pyproject maps into innoscore."""
    for package, folder in SETUPTOOLS["package-dir"].items():
        for path in (ROOT / folder).rglob("*.py"):
            if "__pycache__" not in path.parts:
                parts = path.relative_to(ROOT / folder).with_suffix("").parts
                yield ".".join((package, *(parts[:-1] if parts[-1] == "__init__" else parts))), path


def _imports(path: Path, module: str):
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                yield f"{base}.{node.module}" if node.module else base
            elif node.module:
                yield node.module


MODULES = sorted(_modules())


def test_every_folder_with_modules_is_a_listed_package():
    listed = set(SETUPTOOLS["packages"])
    packages = {name for name, path in MODULES if path.name == "__init__.py"}
    assert packages == listed


@pytest.mark.parametrize("module, path", MODULES, ids=[m for m, _ in MODULES])
def test_no_module_imports_a_layer_above_it(module, path):
    own = layer(module)
    upward = [name for name in _imports(path, module)
              if name.startswith("innoscore") and layer(name) > own and not module.startswith(name)]
    assert not upward, f"{module} (layer {own}) imports {upward} from above"
