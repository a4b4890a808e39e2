"""Out-of-time split by vintage year: train on earlier years, validate on the next, test on the latest."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from innoscore.features.catalogue import Catalogue


@dataclass(frozen=True)
class OutOfTimeSplit:
    train_years: list[int]
    valid_years: list[int]
    test_years: list[int]
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray

    def summary(self) -> dict:
        return {"train_years": self.train_years, "valid_years": self.valid_years, "test_years": self.test_years,
                "n_train": int(self.train.sum()), "n_valid": int(self.valid.sum()), "n_test": int(self.test.sum())}


def out_of_time_split(data: pd.DataFrame, catalogue: Catalogue, test_years: int = 1,
                      valid_years: int = 1) -> OutOfTimeSplit:
    """Boolean masks for each window; the test years are never used for fitting, tuning or calibration."""
    date_col = catalogue.dataset.date_column
    if not date_col or date_col not in data:
        raise ValueError("an out-of-time split needs the catalogue's date column in the data")
    year = pd.to_datetime(data[date_col]).dt.year.to_numpy()
    years = sorted(set(year.tolist()))
    n_test, n_valid = int(test_years), int(valid_years)
    if len(years) < n_test + n_valid + 1:
        raise ValueError(f"an out-of-time split needs at least {n_test + n_valid + 1} vintage years, "
                         f"the data has {years}")
    test_years, valid_years = years[-n_test:], years[-n_test - n_valid:-n_test]
    train_years = years[:-n_test - n_valid]
    return OutOfTimeSplit(train_years, valid_years, test_years, np.isin(year, train_years),
                          np.isin(year, valid_years), np.isin(year, test_years))
