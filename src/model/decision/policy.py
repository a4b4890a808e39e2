"""The credit policy as data (configs/policy.yaml): typed, validated, versioned by its hash."""
from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from innoscore.hashing import short_hash
from innoscore.features.catalogue import Catalogue
from innoscore.features.conditions import Condition
from innoscore.settings import Settings, SettingsError, load_settings

_WEIGHT_TOLERANCE = 1e-6


class PolicyInputError(SettingsError):
    """Input the policy cannot be applied to: a column a knock-out rule reads is absent."""


class PolicySettings(Settings):
    """A part of the policy: strict types, so that `model_weight: "0.6"` (text) is refused, not read."""
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Blend(PolicySettings):
    model_weight: float = Field(ge=0, le=1)
    category_weight: dict[str, float]
    pdo: float = Field(10, gt=0)
    base_odds: float = Field(50, gt=0)

    @model_validator(mode="after")
    def _sum_to_one(self) -> "Blend":
        if any(w < 0 for w in self.category_weight.values()):
            raise ValueError("category weights must not be negative")
        total = self.model_weight + sum(self.category_weight.values())
        if abs(total - 1) > _WEIGHT_TOLERANCE:
            raise ValueError(f"model_weight and category_weight must add up to 1, they add up to {total:g}")
        return self


class Bands(PolicySettings):
    approve_min: float = Field(ge=0, le=100)
    refer_min: float = Field(ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> "Bands":
        if self.refer_min > self.approve_min:
            raise ValueError(f"bands overlap: refer_min {self.refer_min} is above approve_min {self.approve_min}")
        return self


class KnockOut(Condition, PolicySettings):
    id: str
    zh: str
    en: str


class Guarantee(PolicySettings):
    cap: float = Field(ge=0)
    lgd: float = Field(gt=0, le=1)
    zh: str
    en: str


class RevenueMultiple(PolicySettings):
    column: str
    multiple: float = Field(gt=0)


class Limits(PolicySettings):
    requested_column: str
    guarantee_column: str
    default_guarantee: str
    guarantees: dict[str, Guarantee]
    revenue_multiple: RevenueMultiple | None = None
    expected_loss_budget: float = Field(gt=0)

    @model_validator(mode="after")
    def _default_known(self) -> "Limits":
        if self.default_guarantee not in self.guarantees:
            raise ValueError(f"default_guarantee {self.default_guarantee!r} is not one of {sorted(self.guarantees)}")
        return self


class Inclusive(PolicySettings):
    """Which loans are inclusive small and micro loans (普惠型小微企业贷款) and get the FTP discount."""
    max_credit: float = Field(1000, gt=0)         # single-borrower credit (the limit) up to 10M CNY
    small_firm_any: list[Condition] = [            # small or micro: any holds (MIIT 2011, industry)
        Condition(column="employees", op="<", value=300), Condition(column="revenue", op="<", value=2000)]


class Capital(PolicySettings):
    """Capital held per unit of exposure: standardized risk weights or the Basel IRB corporate formula."""
    approach: Literal["standardized", "irb"] = "standardized"
    retail_max_credit: float = Field(1000, gt=0)  # standardized: an SME loan up to this is regulatory retail
    risk_weights: dict[Literal["retail", "corporate"], float] = {"retail": 0.75, "corporate": 0.85}
    pd_floor: float = Field(0.0005, ge=0, lt=1)   # IRB: PD floor (0.05%)
    maturity_column: str | None = "loan_term_months"   # IRB: effective maturity from the term, in months
    default_maturity_years: float = Field(1.0, ge=1, le=5)
    sales_column: str | None = "revenue"          # IRB: the SME firm-size adjustment on annual sales
    sales_min: float = Field(3000, gt=0)          # sales at or below: the full adjustment (-0.04)
    sales_max: float = Field(30000, gt=0)         # sales at or above: none (not an SME)

    @model_validator(mode="after")
    def _ordered(self) -> "Capital":
        if self.sales_min >= self.sales_max:
            raise ValueError(f"sales_min {self.sales_min:g} must be below sales_max {self.sales_max:g}")
        return self


class Pricing(PolicySettings):
    """What each approved or referred loan must earn (docs/pricing.md gives every formula)."""
    ftp_rate: float = Field(0.025, ge=0, lt=1)             # funds-transfer price, annual
    inclusive_discount: float = Field(0.011, ge=0, lt=1)   # 110 bp off the FTP for inclusive loans
    inclusive: Inclusive = Inclusive()
    operating_cost_rate: float = Field(0.01, ge=0, lt=1)
    tax_rate: float = Field(0.25, ge=0, lt=1)
    hurdle_rate: float = Field(0.10, ge=0, lt=1)           # cost of equity
    capital_ratio: float = Field(0.105, gt=0, lt=1)        # capital held per unit of risk-weighted assets
    capital: Capital = Capital()
    rate_cap: float | None = Field(None, gt=0, lt=1)       # a floor above it refers the loan
    lpr: float | None = Field(0.03, ge=0, lt=1)            # the loan prime rate quotes are spread over
    offered_rate_column: str | None = "offered_rate"       # the rate offered, where the data has it


class Policy(PolicySettings):
    version: str
    name_zh: str
    name_en: str
    blend: Blend
    tech_innovation_categories: list[str] = []
    bands: Bands
    pd_decline_above: float = Field(1.0, gt=0, le=1)
    knock_outs: list[KnockOut] = []
    limits: Limits
    pricing: Pricing = Pricing()

    def loan_columns(self) -> set[str]:
        """The input columns the decision reads besides the model's: knock-outs and loan fields."""
        lim = self.limits
        return ({k.column for k in self.knock_outs} | {lim.requested_column, lim.guarantee_column}
                | ({lim.revenue_multiple.column} if lim.revenue_multiple else set())
                | self.pricing_columns())

    def pricing_columns(self) -> set[str]:
        """The optional columns pricing reads: the term, the firm's size, the offered rate."""
        pr = self.pricing
        return ({c.column for c in pr.inclusive.small_firm_any}
                | {c for c in (pr.capital.maturity_column, pr.capital.sales_column, pr.offered_rate_column) if c})

    def loan_field_types(self, catalogue: Catalogue) -> dict[str, type]:
        """The loan columns that are not catalogue indicators, with their type (the guarantee is text)."""
        return {c: (str if c == self.limits.guarantee_column else float)
                for c in sorted(self.loan_columns() - set(catalogue.indicator_ids))}

    @cached_property
    def fingerprint(self) -> str:
        """A short hash of the policy content: logged with every decision and in MLflow (computed once:
        /score reads it on every request)."""
        return short_hash(json.dumps(self.model_dump(mode="json"), sort_keys=True))

    def require_columns(self, columns, source: str = "the input") -> "Policy":
        """Refuse input without a column a knock-out rule reads (`columns`: anything `in` works on):
        every rule applies, or nothing is decided. A dropped rule would approve what it declines."""
        absent = [k for k in self.knock_outs if k.column not in columns]
        if absent:
            raise PolicyInputError("; ".join(
                f"knock-out rule '{k.id}' reads column '{k.column}', which {source} lacks / "
                f"拒绝规则'{k.id}'所需字段'{k.column}'缺失" for k in absent) + ": every rule must apply / 每条规则都须适用")
        return self

    def assumptions(self, columns) -> list[dict[str, str]]:
        """What the decision assumes for each loan field `columns` lacks (said in the console and the
        report, never silently): the default guarantee type, no requested-amount or revenue bound."""
        lim, out = self.limits, []
        if lim.guarantee_column not in columns:
            g = lim.guarantees[lim.default_guarantee]
            out.append({"column": lim.guarantee_column,
                        "en": f"no '{lim.guarantee_column}' column: every loan is taken as {g.en} "
                              f"(cap {g.cap:g}, LGD {g.lgd:g})",
                        "zh": f"缺少'{lim.guarantee_column}'字段：全部按{g.zh}处理（上限{g.cap:g}，违约损失率{g.lgd:g}）"})
        if lim.requested_column not in columns:
            out.append({"column": lim.requested_column,
                        "en": f"no '{lim.requested_column}' column: limits are not bounded by a requested amount",
                        "zh": f"缺少'{lim.requested_column}'字段：额度不受申请金额约束"})
        if lim.revenue_multiple and lim.revenue_multiple.column not in columns:
            out.append({"column": lim.revenue_multiple.column,
                        "en": f"no '{lim.revenue_multiple.column}' column: limits are not bounded by revenue",
                        "zh": f"缺少'{lim.revenue_multiple.column}'字段：额度不受营业收入约束"})
        return out

    def check_against(self, catalogue: Catalogue, source: str = "policy") -> "Policy":
        """Refuse a policy that names categories the catalogue lacks."""
        unknown = sorted(set(self.blend.category_weight) - set(catalogue.category_ids))
        unknown += sorted(set(self.tech_innovation_categories) - set(catalogue.category_ids))
        if unknown:
            raise SettingsError(f"{source} is invalid: unknown category {unknown} (the catalogue has "
                                f"{catalogue.category_ids})")
        return self

    def with_overrides(self, overrides: dict[str, float]) -> "Policy":
        """The policy with `key=value` changes; a blend weight set here keeps the weights adding up to 1
        by scaling the weights not set in proportion (so raising one share is one number to change).

        Keys: `category_weight.<C>`, `model_weight`, `tech_innovation_weight` (the categories in
        `tech_innovation_categories` together, their proportions kept), `bands.approve_min`,
        `bands.refer_min`, `pd_decline_above`, `limits.expected_loss_budget`, `pricing.inclusive_discount`,
        `pricing.ftp_rate`, `pricing.hurdle_rate`, `pricing.rate_cap`.
        """
        raw = self.model_dump(mode="json")
        weights = {"model": raw["blend"]["model_weight"], **raw["blend"]["category_weight"]}
        fixed: dict[str, float] = {}
        for key, value in overrides.items():
            if key == "model_weight":
                fixed["model"] = value
            elif key.startswith("category_weight."):
                category = key.split(".", 1)[1]
                if category not in weights:
                    raise SettingsError(f"--set {key}: unknown category {category!r} (policy has "
                                        f"{sorted(raw['blend']['category_weight'])})")
                fixed[category] = value
            elif key == "tech_innovation_weight":
                tech = self.tech_innovation_categories
                share = sum(weights[c] for c in tech)
                fixed.update({c: value * (weights[c] / share if share else 1 / len(tech)) for c in tech})
            elif key in ("bands.approve_min", "bands.refer_min"):
                raw["bands"][key.split(".")[1]] = value
            elif key in ("pd_decline_above",):
                raw[key] = value
            elif key == "limits.expected_loss_budget":
                raw["limits"]["expected_loss_budget"] = value
            elif key in ("pricing.inclusive_discount", "pricing.ftp_rate", "pricing.hurdle_rate", "pricing.rate_cap"):
                raw["pricing"][key.split(".")[1]] = value
            else:
                raise SettingsError(f"--set {key}: not a key the what-if can change")
        if fixed:
            rest = {k: w for k, w in weights.items() if k not in fixed}
            room, held = 1 - sum(fixed.values()), sum(rest.values())
            outside = {k: v for k, v in overrides.items() if not 0 <= v <= 1
                       and (k in ("model_weight", "tech_innovation_weight") or k.startswith("category_weight."))}
            if outside:
                raise SettingsError("--set: a weight must be between 0 and 1, got "
                                    + ", ".join(f"{k} = {v:g}" for k, v in outside.items()))
            if room < -_WEIGHT_TOLERANCE:
                raise SettingsError(f"--set {overrides}: the weights set add up to {1 - room:g}, above 1, "
                                    f"which leaves no room for the others")
            scaled = {k: (w * room / held if held else room / max(len(rest), 1)) for k, w in rest.items()}
            weights = {**weights, **scaled, **fixed}
            raw["blend"]["model_weight"] = weights.pop("model")
            raw["blend"]["category_weight"] = weights
        try:
            return Policy.model_validate(raw)
        except Exception as exc:  # a change that breaks the policy's own rules
            raise SettingsError(f"--set {overrides}: {exc}") from None


def load_policy(path: str | Path | None = None, catalogue: Catalogue | None = None) -> Policy:
    from innoscore.paths import DEFAULT_POLICY

    path = Path(path or DEFAULT_POLICY)
    policy = load_settings(Policy, path)
    return policy.check_against(catalogue, str(path)) if catalogue is not None else policy


def parse_overrides(items: list[str]) -> dict[str, float]:
    """`["category_weight.B=0.4", ...]` -> {"category_weight.B": 0.4}; SettingsError naming a bad item."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            raise SettingsError(f"--set {item!r}: expected KEY=NUMBER") from None
        if not sep:
            raise SettingsError(f"--set {item!r}: expected KEY=NUMBER")
    return out
