"""Risk-based pricing: the lowest annual rate at which a loan earns the bank's cost of capital.

    rate_floor = ftp_rate + expected_loss_rate + operating_cost_rate
                 + capital_per_unit x (hurdle_rate / (1 - tax_rate) - ftp_rate)

The equity-funded part of a loan (capital_per_unit) needs no funding, hence the `- ftp_rate`; the
hurdle is grossed up for tax. `ftp_rate` is the policy's FTP less the inclusive discount (110 bp in
the bank's report) for inclusive small and micro loans; `expected_loss_rate` = PD x LGD of the
guarantee type (annual, the model's horizon); `capital_per_unit` is the standardized risk weight or
the Basel IRB corporate K x 12.5, times the capital ratio. docs/pricing.md cites every default.
Vectorised over firms, on arrays, like the decision it extends.
"""
from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

from innoscore.features.conditions import holds_any
from innoscore.model.decision.policy import Pricing

PRICE_FIELDS = ("ftp_rate", "expected_loss_rate", "capital_per_unit", "rate_floor", "inclusive",
                "spread_over_lpr_bp")


def irb_capital(pd_values, lgd, maturity_years, sales=None, sales_min: float = 5.0, sales_max: float = 50.0,
                pd_floor: float = 0.0003) -> np.ndarray:
    """Basel IRB capital requirement K per unit of exposure for corporate exposures (CRE31.5-31.9):
    asset correlation falling with PD, less up to 0.04 for firms with annual `sales` below `sales_max`
    (SME firm-size adjustment; sales below `sales_min` count as `sales_min`; NaN or None: no
    adjustment), the maturity adjustment, PD floored at `pd_floor`. Risk-weighted assets = K x 12.5."""
    p = np.maximum(np.asarray(pd_values, dtype=float), pd_floor)
    weight = (1 - np.exp(-50 * p)) / (1 - np.exp(-50))
    r = 0.12 * weight + 0.24 * (1 - weight)
    if sales is not None:
        s = np.asarray(sales, dtype=float)
        small = ~np.isnan(s) & (s < sales_max)
        s = np.minimum(np.maximum(np.nan_to_num(s, nan=sales_max), sales_min), sales_max)
        r = r - np.where(small, 0.04 * (1 - (s - sales_min) / (sales_max - sales_min)), 0.0)
    b = (0.11852 - 0.05478 * np.log(p)) ** 2
    m = np.asarray(maturity_years, dtype=float)
    lgd = np.asarray(lgd, dtype=float)
    conditional = ndtr((ndtri(p) + np.sqrt(r) * ndtri(0.999)) / np.sqrt(1 - r))
    return (lgd * conditional - p * lgd) * (1 + (m - 2.5) * b) / (1 - 1.5 * b)


def price(pd_values: np.ndarray, lgd: np.ndarray, limit: np.ndarray, rows, pricing: Pricing, numbers
          ) -> dict[str, np.ndarray]:
    """The price columns (`PRICE_FIELDS`) of each loan; `numbers(rows, column)` reads a column as
    floats (NaN where absent)."""
    p = np.asarray(pd_values, dtype=float)
    inclusive = (limit <= pricing.inclusive.max_credit) & holds_any(rows, pricing.inclusive.small_firm_any, numbers)
    ftp = pricing.ftp_rate - np.where(inclusive, pricing.inclusive_discount, 0.0)
    cap = pricing.capital
    if cap.approach == "standardized":
        weight = np.where(limit <= cap.retail_max_credit, cap.risk_weights["retail"], cap.risk_weights["corporate"])
        capital = weight * pricing.capital_ratio
    else:
        months = numbers(rows, cap.maturity_column) if cap.maturity_column else np.full(len(p), np.nan)
        maturity = np.minimum(np.maximum(np.nan_to_num(months / 12, nan=cap.default_maturity_years), 1.0), 5.0)
        sales = numbers(rows, cap.sales_column) if cap.sales_column else None
        k = irb_capital(p, lgd, maturity, sales, cap.sales_min, cap.sales_max, cap.pd_floor)
        capital = k * 12.5 * pricing.capital_ratio
    expected_loss = p * lgd
    floor = (ftp + expected_loss + pricing.operating_cost_rate
             + capital * (pricing.hurdle_rate / (1 - pricing.tax_rate) - ftp))
    spread = (floor - pricing.lpr) * 1e4 if pricing.lpr is not None else np.full(len(p), np.nan)
    return {"ftp_rate": ftp, "expected_loss_rate": expected_loss, "capital_per_unit": capital,
            "rate_floor": floor, "inclusive": inclusive, "spread_over_lpr_bp": spread}


def net_income(rate: np.ndarray, prices: dict[str, np.ndarray], limit: np.ndarray, pricing: Pricing) -> np.ndarray:
    """Expected annual net income of each loan at `rate`: the rate less expected loss, operating cost
    and the funding of its debt-funded part, after tax (at the floor it is capital x hurdle)."""
    margin = (rate - prices["expected_loss_rate"] - pricing.operating_cost_rate
              - prices["ftp_rate"] * (1 - prices["capital_per_unit"]))
    return limit * margin * (1 - pricing.tax_rate)
