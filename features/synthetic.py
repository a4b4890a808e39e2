"""A synthetic loan book of tech SMEs whose true probability of default is known.

Three correlated latent factors (innovation, business quality, financial stress) drive the 44
indicators; the true log-odds is a sum of one non-linear function per indicator category plus
vintage, macro and industry context, so each firm's true contribution per category is known and
explanations can be checked against it. docs/synthetic-data.md documents every choice.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator
from scipy.special import expit
from scipy.stats import norm

from innoscore.features.catalogue import Catalogue
from innoscore.settings import Settings, load_settings

CATEGORY_IDS = ("A", "B", "C", "D")
TRUTH_PREFIX = "truth_logit_"


class Industry(Settings):
    share: float = Field(gt=0)
    log_odds: float = 0.0                 # the industry's own effect on the log-odds of default
    software_intensive: bool = False      # firms hold software copyrights and run higher gross margins


class Scenario(Settings):
    """A later vintage with a chosen shift, for testing monitoring against known drift (docs/synthetic-data.md).

    The truth keeps the base population's calibration (category centring and intercept), so a
    shift that makes firms riskier raises their true PD instead of being solved away.
    """

    description: str = ""
    year: int | None = None                # every firm from this vintage (None: the base mix of years)
    latent_shift: dict[Literal["innovation", "business", "stress"], float] = {}   # in standard deviations
    macro_log_odds: float | None = None    # the vintage's macro effect (None: the config's for that year)
    industry_shares: dict[str, float] = {}  # replaces these industries' shares


class SyntheticConfig(Settings):
    """configs/synthetic.yaml: the knobs of the data-generating process (docs/synthetic-data.md)."""

    base_default_rate: float = Field(gt=0, lt=0.5)
    years: list[int]
    vintage_weights: list[float]
    macro_log_odds: dict[int, float]
    drift_per_year: dict[Literal["innovation", "business", "stress"], float] = {}
    latent_correlation: dict[Literal["innovation_business", "innovation_stress", "business_stress"], float]
    signal_scale: float = Field(gt=0)
    industries: dict[str, Industry]
    regions: dict[str, float]
    guarantee_types: dict[str, float]
    scenarios: dict[str, Scenario] = {}

    @model_validator(mode="after")
    def _check(self) -> "SyntheticConfig":
        if len(self.years) != len(self.vintage_weights):
            raise ValueError("years and vintage_weights must have the same length")
        for name, sc in self.scenarios.items():
            unknown = set(sc.industry_shares) - set(self.industries)
            if unknown:
                raise ValueError(f"scenario '{name}': industry_shares names unknown industries {sorted(unknown)}")
        return self

    def scenario(self, name: str) -> Scenario:
        if name not in self.scenarios:
            raise ValueError(f"unknown scenario '{name}'; configs/synthetic.yaml defines {sorted(self.scenarios)}")
        return self.scenarios[name]

    @classmethod
    def load(cls, path: str | Path | None = None, **overrides) -> "SyntheticConfig":
        from innoscore.paths import DEFAULT_SYNTHETIC_CONFIG

        return load_settings(cls, path or DEFAULT_SYNTHETIC_CONFIG, overrides)


@dataclass
class SyntheticPortfolio:
    """The loan applications (with outcome and true PD) and each firm's true log-odds by category."""

    data: pd.DataFrame
    true_contributions: pd.DataFrame


def _draw_codes(rng, mapping: dict, n: int) -> np.ndarray:
    """Index into `mapping`'s keys, drawn with the shares its values give (a number or an Industry)."""
    p = np.array([getattr(v, "share", v) for v in mapping.values()], dtype=float)
    return rng.choice(len(p), size=n, p=p / p.sum())


def _names(mapping: dict, codes: np.ndarray) -> np.ndarray:
    return np.array(list(mapping), dtype=object)[codes]


def _mix(rng, z: np.ndarray, loading: float) -> np.ndarray:
    """A standard normal score correlated `loading` with latent z."""
    return loading * z + np.sqrt(1.0 - loading**2) * rng.standard_normal(z.shape[0])


def _ordinal(score: np.ndarray, probs: list[float], first: int = 0) -> np.ndarray:
    cuts = norm.ppf(np.cumsum(probs)[:-1] / np.sum(probs))
    return (np.searchsorted(cuts, score) + first).astype(float)


def _zero_inflated(rng, score: np.ndarray, p_zero: float, mean_positive: float,
                   dispersion: float | None = None, cap: float = np.inf) -> np.ndarray:
    """Zero if the score falls below the p_zero quantile, else a (negative-binomial) count >= 1."""
    mu = np.maximum(mean_positive - 1.0, 0.05) * np.exp(0.35 * score - 0.06)
    if dispersion is None:
        counts = 1 + rng.poisson(mu)
    else:
        counts = 1 + rng.negative_binomial(dispersion, dispersion / (dispersion + mu))
    return np.where(score < norm.ppf(p_zero), 0.0, np.minimum(counts, cap)).astype(float)


def _neg_binomial(rng, mean: np.ndarray, dispersion: float) -> np.ndarray:
    return rng.negative_binomial(dispersion, dispersion / (dispersion + mean)).astype(float)


def _latent_factors(rng, n: int, cfg: SyntheticConfig) -> np.ndarray:
    c = cfg.latent_correlation
    corr = np.array([[1.0, c["innovation_business"], c["innovation_stress"]],
                     [c["innovation_business"], 1.0, c["business_stress"]],
                     [c["innovation_stress"], c["business_stress"], 1.0]])
    return rng.standard_normal((n, 3)) @ np.linalg.cholesky(corr).T


def _indicators(rng, z_inn, z_bus, z_str, software: np.ndarray) -> dict[str, np.ndarray]:
    """All 44 indicators before missingness, from the three latent factors."""
    n = z_inn.shape[0]
    x: dict[str, np.ndarray] = {}
    size = _mix(rng, z_bus, 0.45)
    # C first: revenue anchors the money amounts.
    x["revenue"] = np.clip(2500 * np.exp(1.0 * size), 100, 20000)
    growth_score = _mix(rng, z_bus, 0.5)
    skew = np.where(growth_score > 0, 0.30, 0.20)
    x["revenue_growth"] = np.clip(0.10 + skew * growth_score + 0.04 * rng.standard_t(4, n), -0.8, 3.0)
    x["main_revenue_cagr_2y"] = np.clip(0.10 + 0.6 * (x["revenue_growth"] - 0.10)
                                        + 0.16 * rng.standard_normal(n), -0.8, 2.5)
    x["main_business_share"] = np.clip(1 - 0.08 * np.exp(0.8 * _mix(rng, -z_bus, 0.3)), 0.3, 1.0)
    x["gross_margin"] = np.clip(0.35 + 0.10 * software + 0.13 * _mix(rng, z_bus, 0.5), -0.2, 0.9)
    x["net_margin"] = np.clip(0.05 + 0.10 * _mix(rng, 0.7 * z_bus - 0.5 * z_str, 0.75), -0.6, 0.4)
    niche = np.clip(rng.gamma(2.2, 3.0, n) * np.exp(0.15 * z_bus), 1, 25)
    x["niche_years"] = niche
    x["strategic_field"] = _ordinal(_mix(rng, z_inn, 0.5), [0.35, 0.55, 0.10])
    x["top5_customer_share"] = np.clip(expit(0.0 + 0.85 * _mix(rng, -z_bus, 0.35) - 0.3 * size), 0.05, 1.0)
    raised = _mix(rng, 0.6 * z_inn + 0.4 * z_bus, 0.6) > norm.ppf(0.85)
    x["equity_financing_2y"] = np.where(raised, 1500 * np.exp(rng.standard_normal(n)), 0.0)
    # A: R&D input and talent.
    x["rd_intensity"] = np.clip(0.05 * np.exp(0.7 * _mix(rng, z_inn, 0.6)), 0.005, 0.6)
    x["rd_expense"] = x["rd_intensity"] * x["revenue"]
    x["rd_to_total_cost"] = np.clip(0.08 * np.exp(0.6 * _mix(rng, np.log(x["rd_intensity"] / 0.05) / 0.7, 0.8)),
                                    0.005, 0.95)
    x["rd_growth_2y"] = np.clip(0.12 + 0.30 * _mix(rng, z_inn, 0.35), -0.9, 3.0)
    x["rd_super_deduction"] = (expit(0.45 + 1.0 * _mix(rng, z_inn, 0.6)) > rng.random(n)).astype(float)
    x["tech_staff_ratio"] = np.clip(expit(np.log(0.28 / 0.72) + 0.6 * _mix(rng, z_inn, 0.7)), 0.02, 0.95)
    x["high_level_talent"] = _zero_inflated(rng, _mix(rng, z_inn, 0.7), 0.45, 2.5, cap=60)
    x["employees"] = np.round(np.clip(50 * np.exp(0.8 * _mix(rng, size, 0.7)), 5, 500))
    x["univ_cooperation"] = _zero_inflated(rng, _mix(rng, z_inn, 0.6), 0.5, 1.8, cap=30)
    x["rd_institution_level"] = _ordinal(_mix(rng, z_inn, 0.7), [0.45, 0.20, 0.22, 0.12, 0.01])
    x["founder_industry_years"] = np.round(np.clip(12 + 6 * _mix(rng, z_bus, 0.3), 1, 35))
    # B: IP and innovation output.
    inn_ip = _mix(rng, z_inn, 0.8)
    x["invention_patents"] = _zero_inflated(rng, inn_ip, 0.35, 4.0, dispersion=1.2, cap=50)
    x["utility_patents"] = _neg_binomial(rng, 9.0 * np.exp(0.4 * _mix(rng, z_inn, 0.6) - 0.08), 1.5)
    x["design_patents"] = _zero_inflated(rng, _mix(rng, z_inn, 0.3), 0.65, 3.0, dispersion=1.5, cap=80)
    x["software_copyrights"] = np.where(
        software == 1, _neg_binomial(rng, 15.0 * np.exp(0.3 * _mix(rng, z_inn, 0.5)), 2.0),
        _zero_inflated(rng, _mix(rng, z_inn, 0.4), 0.5, 4.0, dispersion=1.5, cap=100))
    x["trademarks"] = _neg_binomial(rng, 4.0 * np.exp(0.3 * _mix(rng, z_bus, 0.5)), 1.2)
    has_inv = x["invention_patents"] > 0
    grade = _ordinal(_mix(rng, inn_ip, 0.8), [0.08, 0.30, 0.22, 0.30, 0.10])
    x["core_ip_grade"] = np.where(has_inv, np.maximum(grade, 2), np.minimum(grade, 1))
    x["patent_claims_avg"] = np.where(has_inv, np.clip(1 + rng.poisson(7 * np.exp(0.2 * inn_ip)), 1, 30), np.nan)
    x["forward_citations"] = np.where(has_inv, _zero_inflated(rng, _mix(rng, inn_ip, 0.6), 0.45, 3.5,
                                                              dispersion=0.8, cap=400), np.nan)
    x["patent_remaining_life"] = np.where(
        has_inv, np.round(rng.uniform(8, 18, n), 1),
        np.where(x["utility_patents"] > 0, np.round(rng.uniform(3, 9, n), 1), np.nan))
    x["overseas_family"] = (_mix(rng, inn_ip, 0.6) > norm.ppf(0.92)).astype(float)
    x["ip_legal_risk"] = _zero_inflated(rng, _mix(rng, z_str, 0.35), 0.85, 1.3, cap=20)
    x["sci_tech_award"] = _ordinal(_mix(rng, z_inn, 0.6), [0.82, 0.09, 0.05, 0.035, 0.005])
    x["standards"] = _ordinal(_mix(rng, z_inn, 0.55), [0.78, 0.10, 0.07, 0.04, 0.01])
    x["tech_qualification"] = _ordinal(_mix(rng, z_inn, 0.75), [0.08, 0.35, 0.37, 0.15, 0.05])
    # D: financial soundness and risk control.
    x["debt_ratio"] = np.clip(expit(0.0 + 0.78 * _mix(rng, z_str, 0.65)), 0.03, 1.6)
    x["current_ratio"] = np.clip(1.5 * np.exp(0.5 * _mix(rng, -z_str, 0.5)), 0.1, 15)
    x["ocf_to_revenue"] = np.clip(0.03 + 0.15 * _mix(rng, 0.6 * z_bus - 0.6 * z_str, 0.6), -1.5, 0.8)
    x["lender_count"] = 1 + rng.poisson(1.2 * np.exp(0.35 * _mix(rng, z_str, 0.6) - 0.06)).astype(float)
    x["credit_overdue_24m"] = _zero_inflated(rng, _mix(rng, z_str, 0.65), 0.88, 1.8, cap=24)
    x["tax_credit_grade"] = _ordinal(_mix(rng, -z_str, 0.55), [0.02, 0.06, 0.14, 0.48, 0.30], first=1)
    x["litigation_enforcement"] = _zero_inflated(rng, _mix(rng, z_str, 0.55), 0.72, 2.0, dispersion=1.0, cap=40)
    x["controller_credit"] = _ordinal(_mix(rng, -z_str, 0.45), [0.02, 0.05, 0.15, 0.38, 0.40], first=1)
    x["admin_penalty_abnormal"] = (_mix(rng, z_str, 0.4) > norm.ppf(0.95)).astype(float)
    return x


def _true_log_odds_by_category(x: dict[str, np.ndarray], young: np.ndarray) -> dict[str, np.ndarray]:
    """The truth: one non-linear function of each category's indicators (uncentred, log-odds)."""
    u = np.log(x["rd_intensity"] / 0.06)
    rd_growth = np.where(young, 0.0, np.clip(x["rd_growth_2y"], -0.5, 1.0))
    f_a = (0.20 * u**2                                   # U-shape: too little R&D, or cash burn
           - 1.2 * x["tech_staff_ratio"]
           - 0.22 * np.log1p(x["high_level_talent"])
           - 0.12 * x["rd_institution_level"]
           - 0.02 * x["founder_industry_years"]
           - 0.20 * x["rd_super_deduction"]
           - 0.25 * rd_growth)
    f_b = (-0.28 * np.log1p(x["invention_patents"])
           - 0.08 * x["core_ip_grade"]
           + 0.40 * np.minimum(x["ip_legal_risk"], 3)
           - 0.15 * x["tech_qualification"]
           - 0.25 * (x["sci_tech_award"] > 0)
           - 0.05 * np.log1p(np.nan_to_num(x["forward_citations"]))
           - 0.06 * np.log1p(x["utility_patents"]))
    g = x["revenue_growth"]
    small = x["revenue"] < 1000
    f_c = (-0.30 * np.log(x["revenue"] / 2500)
           + np.where(g < 0, -1.8 * g, np.where(g > 0.6, 0.9 * (g - 0.6), -0.5 * g))
           - 2.0 * x["net_margin"]
           + 1.5 * (x["net_margin"] < 0) * (g < 0)                     # a shrinking loss-maker
           + 3.0 * x["top5_customer_share"] * small                    # concentration hurts small firms
           - 1.0 * x["gross_margin"]
           - 0.03 * x["niche_years"]
           - 0.15 * (x["equity_financing_2y"] > 0))
    overdue = np.log1p(np.minimum(x["credit_overdue_24m"], 12))
    leverage = np.maximum(x["debt_ratio"] - 0.4, 0)
    burning = x["ocf_to_revenue"] < 0
    f_d = (overdue * (0.1 + 8.0 * leverage)                            # overdue history amplified by leverage
           + 7.0 * leverage * burning                                   # leverage bites when cash burns
           + 2.0 * burning * (x["current_ratio"] < 1.0)                 # cash burn with thin liquidity
           - 0.15 * np.minimum(x["current_ratio"], 2.5)
           + 0.6 * np.maximum(x["lender_count"] - 3, 0) * (x["debt_ratio"] > 0.5)  # many lenders, high leverage
           - 0.25 * x["tax_credit_grade"]
           + 0.30 * np.minimum(x["litigation_enforcement"], 4) * (0.3 + 1.5 * (x["controller_credit"] <= 3))
           - 0.15 * x["controller_credit"]
           + 1.10 * x["admin_penalty_abnormal"])
    return {"A": f_a, "B": f_b, "C": f_c, "D": f_d}


def true_log_odds_of_rows(frame: pd.DataFrame, config: SyntheticConfig | None = None) -> np.ndarray:
    """The data-generating process's log-odds (up to a constant) of observed firm rows, e.g. firms a
    counterfactual has changed: differences between two versions of a firm are its true effect.

    Observed rows lack what the generator hid: a missing value is filled with the column's median in
    `frame` (the same in both versions of a firm, so it cancels in a difference), a firm is young
    where its 2-year R&D growth is missing (as the generator leaves it), context terms are left out.
    """
    cfg = config or SyntheticConfig.load()
    x = {}
    for col in frame.columns:
        values = pd.to_numeric(frame[col], errors="coerce") if frame[col].dtype == object else frame[col]
        if np.issubdtype(np.asarray(values).dtype, np.number):
            v = np.asarray(values, dtype=float)
            x[col] = np.where(np.isnan(v), np.nanmedian(v) if np.isfinite(v).any() else 0.0, v)
    young = frame["rd_growth_2y"].isna().to_numpy() if "rd_growth_2y" in frame else np.zeros(len(frame), bool)
    return cfg.signal_scale * sum(_true_log_odds_by_category(x, young).values())


def _apply_missingness(rng, x: dict[str, np.ndarray], z_bus, z_str, young) -> None:
    """Realistic gaps, partly not at random: weaker firms supply fewer statements."""
    n = z_bus.shape[0]
    disclosure = 0.5 * z_bus - 0.5 * z_str + 0.75 * rng.standard_normal(n)

    def drop(col: str, rate: float, score: np.ndarray | None = None) -> None:
        s = score if score is not None else rng.standard_normal(n)
        x[col] = np.where(s < np.quantile(s, rate), np.nan, x[col])

    for col, rate in [("ocf_to_revenue", 0.25), ("current_ratio", 0.22), ("rd_to_total_cost", 0.30)]:
        drop(col, rate, disclosure + 0.5 * rng.standard_normal(n))
    for col, rate in [("top5_customer_share", 0.25), ("high_level_talent", 0.20), ("univ_cooperation", 0.25),
                      ("main_business_share", 0.05), ("gross_margin", 0.04), ("founder_industry_years", 0.08)]:
        drop(col, rate)
    for col in ("rd_growth_2y", "main_revenue_cagr_2y"):
        x[col] = np.where(young, np.nan, x[col])
    cites = x["forward_citations"]
    x["forward_citations"] = np.where(rng.random(n) < 0.30, np.nan, cites)
    for col in ("sci_tech_award", "standards", "equity_financing_2y", "overseas_family"):
        x[col] = np.where((x[col] == 0) & (rng.random(n) < 0.15), np.nan, x[col])


def _solve_intercept(logit_wo_intercept: np.ndarray, target_rate: float) -> float:
    lo, hi = -15.0, 5.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if expit(logit_wo_intercept + mid).mean() > target_rate:
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi)


@dataclass
class _Population:
    """One draw of firms before outcomes: indicators, context and the truth's raw category terms."""

    x: dict[str, np.ndarray]
    year: np.ndarray
    industry_code: np.ndarray
    young: np.ndarray
    z_bus: np.ndarray
    z_str: np.ndarray
    raw: dict[str, np.ndarray]
    context: np.ndarray


def _population(rng, n: int, cfg: SyntheticConfig, scenario: Scenario | None) -> _Population:
    w = np.asarray(cfg.vintage_weights, dtype=float)
    year = np.asarray(cfg.years)[rng.choice(len(cfg.years), size=n, p=w / w.sum())]
    industries = cfg.industries
    if scenario is not None:
        if scenario.year is not None:
            year = np.full(n, scenario.year)
        industries = {k: v.model_copy(update={"share": scenario.industry_shares.get(k, v.share)})
                      for k, v in cfg.industries.items()}
    t = year - min(cfg.years)
    drift_t = t - np.dot(w / w.sum(), np.arange(len(cfg.years)))  # the book's average vintage has no drift
    shift = scenario.latent_shift if scenario is not None else {}
    z = _latent_factors(rng, n, cfg)
    z_inn, z_bus, z_str = (z[:, k] + cfg.drift_per_year.get(f, 0.0) * drift_t + shift.get(f, 0.0)
                           for k, f in enumerate(("innovation", "business", "stress")))
    industry_code = _draw_codes(rng, industries, n)
    software = np.array([i.software_intensive for i in industries.values()], dtype=float)[industry_code]
    x = _indicators(rng, z_inn, z_bus, z_str, software)
    firm_age = x["niche_years"] + rng.gamma(1.2, 1.5, n)
    young = firm_age < 3.0
    macro = np.array([cfg.macro_log_odds.get(int(y), 0.0) for y in year])
    if scenario is not None and scenario.macro_log_odds is not None:
        macro = np.full(n, scenario.macro_log_odds)
    industry_effect = np.array([i.log_odds for i in industries.values()])[industry_code]
    return _Population(x, year, industry_code, young, z_bus, z_str, _true_log_odds_by_category(x, young),
                       macro + industry_effect)


def _calibration(pop: _Population, cfg: SyntheticConfig) -> tuple[dict[str, float], float]:
    """The category means the truth is centred on and the intercept giving the base default rate."""
    means = {k: float(v.mean()) for k, v in pop.raw.items()}
    logit = sum(cfg.signal_scale * (v - means[k]) for k, v in pop.raw.items()) + pop.context
    return means, _solve_intercept(logit, cfg.base_default_rate)


def generate_portfolio(n_firms: int, seed: int = 0, config: SyntheticConfig | None = None,
                       catalogue: Catalogue | None = None, scenario: Scenario | str | None = None
                       ) -> SyntheticPortfolio:
    """Generate `n_firms` loan applications; the same seed and config give identical data.

    `scenario` (a name in the config's `scenarios`, or a Scenario): a shifted vintage whose true PD
    is measured on the base population's scale (riskier firms default more often).
    """
    from innoscore.features.catalogue import load_catalogue

    if n_firms < 1:
        raise ValueError(f"n_firms must be at least 1, got {n_firms}")
    cfg = config or SyntheticConfig.load()
    if isinstance(scenario, str):
        scenario = cfg.scenario(scenario)
    catalogue = catalogue or load_catalogue()
    rng = np.random.default_rng(seed)
    n = int(n_firms)
    pop = _population(rng, n, cfg, scenario)
    means, intercept = _calibration(pop if scenario is None else
                                    _population(np.random.default_rng(seed), n, cfg, None), cfg)
    contrib = {k: cfg.signal_scale * (v - means[k]) for k, v in pop.raw.items()}
    true_pd = expit(sum(contrib.values()) + pop.context + intercept)
    default = (rng.random(n) < true_pd).astype(np.int8)
    x, year, young, industry_code, context = pop.x, pop.year, pop.young, pop.industry_code, pop.context
    z_bus, z_str = pop.z_bus, pop.z_str

    _apply_missingness(rng, x, z_bus, z_str, young)
    day = rng.integers(0, 365, n)
    dates = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]") + day
    revenue = np.nan_to_num(x["revenue"], nan=2500.0)
    loan = np.clip(np.round(300 * (revenue / 2500) ** 0.3 * np.exp(0.5 * rng.standard_normal(n)), -1), 50, 2000)

    ds = catalogue.dataset
    ids = np.char.add("F", np.char.zfill(np.arange(1, n + 1).astype(str), 7)).astype(object)
    columns = {ds.firm_id_column: ids, ds.date_column: dates.astype("datetime64[ns]"),
               "industry": _names(cfg.industries, industry_code),
               "region": _names(cfg.regions, _draw_codes(rng, cfg.regions, n)), "loan_amount": loan,
               "guarantee_type": _names(cfg.guarantee_types, _draw_codes(rng, cfg.guarantee_types, n)),
               "loan_term_months": rng.choice([12, 24, 36], size=n, p=[0.6, 0.25, 0.15]).astype(np.int64)}
    for ind in catalogue.indicators:
        if ind.id not in x:
            raise ValueError(f"the synthetic generator has no model for indicator '{ind.id}'")
        columns[ind.id] = np.round(x[ind.id], ind.decimals) if ind.decimals is not None else x[ind.id]
    columns[ds.target_column] = default
    columns[ds.truth_column] = np.round(true_pd, 8)
    data = pd.DataFrame(columns)
    truth = pd.DataFrame({f"{TRUTH_PREFIX}{k}": contrib[k] for k in CATEGORY_IDS})
    truth.insert(0, ds.firm_id_column, data[ds.firm_id_column].to_numpy())
    truth[f"{TRUTH_PREFIX}context"] = context + intercept
    return SyntheticPortfolio(data=data, true_contributions=truth)


def write_portfolio(portfolio: SyntheticPortfolio, out: str | Path) -> tuple[Path, Path]:
    """Write data to `out` (.parquet or .csv) and the true contributions beside it (`*.truth.parquet`)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".csv":
        portfolio.data.to_csv(out, index=False, date_format="%Y-%m-%d")
    else:
        portfolio.data.to_parquet(out, index=False)
    truth_path = out.with_name(out.name.split(".")[0] + ".truth.parquet")
    portfolio.true_contributions.to_parquet(truth_path, index=False)
    return out, truth_path
