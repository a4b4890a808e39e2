"""Plain summaries of a portfolio that the CLI prints and the notebooks show."""
from __future__ import annotations

import pandas as pd

from innoscore.features.catalogue import Catalogue


def summarise_portfolio(data: pd.DataFrame, catalogue: Catalogue) -> pd.DataFrame:
    """Firms, default rate and mean true PD per vintage year, with an 'all' row."""
    ds = catalogue.dataset
    year = pd.to_datetime(data[ds.date_column]).dt.year.rename("vintage") if ds.date_column else None
    cols = {"firms": (ds.firm_id_column, "size")}
    if ds.target_column in data:
        cols["default_rate"] = (ds.target_column, "mean")
    if ds.truth_column and ds.truth_column in data:
        cols["mean_true_pd"] = (ds.truth_column, "mean")
    by_year = data.groupby(year).agg(**cols) if year is not None else pd.DataFrame()
    total = data.agg({c: f for c, f in cols.values()}).to_frame().T
    total.columns = list(cols)
    total.index = ["all"]
    out = pd.concat([by_year, total])
    out["firms"] = out["firms"].astype(int)
    return out.round(4)
