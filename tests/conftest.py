from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")

from features.catalogue import load_catalogue  # noqa: E402
from features.synthetic import generate_portfolio  # noqa: E402


@pytest.fixture(scope="session")
def catalogue():
    return load_catalogue()


@pytest.fixture(scope="session")
def small_portfolio(catalogue):
    """A few thousand firms: enough for shape and validation checks, fast to make."""
    return generate_portfolio(3000, seed=11, catalogue=catalogue)


@pytest.fixture(scope="session")
def large_portfolio(catalogue):
    """50k firms: enough for stable marginals, default rates and AUCs."""
    return generate_portfolio(50_000, seed=2024, catalogue=catalogue)


@pytest.fixture
def good_csv(tmp_path: Path, small_portfolio) -> Path:
    path = tmp_path / "firms.csv"
    small_portfolio.data.head(200).to_csv(path, index=False)
    return path
