"""Typed settings from YAML files: every config file loads through a pydantic model that refuses
unknown and misspelled keys, and a bad file is named with its key and the reason.

At the bottom of the dependency graph with `paths`: every layer's settings derive from `Settings`.
"""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

S = TypeVar("S", bound="Settings")


class SettingsError(ValueError):
    """A settings file that cannot be used: the message names the file, the key and the reason."""


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def read_yaml(path: str | Path) -> dict:
    """The mapping in a YAML file, or SettingsError naming what is wrong with the file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"config file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path} is not valid YAML: {exc}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SettingsError(f"{path} must be a mapping of keys to values, got {type(raw).__name__}")
    return raw


def _known_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """The keys allowed where `loc` points (for a did-you-mean), following nested settings models."""
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def validation_problems(exc: ValidationError, model: type[BaseModel]) -> str:
    problems = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            close = difflib.get_close_matches(str(err["loc"][-1]), _known_keys(model, err["loc"]), n=1)
            problems.append(f"unknown key '{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        else:
            problems.append(f"{key}: {err['msg'].removeprefix('Value error, ')}" if key else
                            err["msg"].removeprefix("Value error, "))
    return "; ".join(problems)


def load_settings(model: type[S], path: str | Path, overrides: dict | None = None) -> S:
    """Read `path` into `model` (keys in `overrides` replace the file's); SettingsError if it does not fit."""
    raw = read_yaml(path)
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise SettingsError(f"{path} is invalid: {validation_problems(exc, model)}") from None
