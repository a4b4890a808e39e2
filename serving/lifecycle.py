"""Which registered version the service answers with, and how it follows an alias.

A `ServedModel` is one version with its metadata; the service reads `ModelFollower.current` once per
request, so a reply never mixes versions. When the service was started on an alias
(`models:/innoscore-pd@champion`), the follower polls the registry every `poll_interval_s`; a moved
alias loads the new version beside the old one and switches with one assignment (requests in flight
finish on the version they started with). `/reload` asks at once. A pinned version
(`models:/NAME/3`) never moves, but its aliases are read fresh at start. A registry that cannot be
reached keeps the current version serving and logs one line, never a request's content.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Callable

from innoscore.model.scoring.interface import ScoringModel

logger = logging.getLogger("innoscore.serving")


@dataclass(frozen=True)
class ServedModel:
    model: ScoringModel
    name: str
    version: str
    run_id: str
    aliases: tuple[str, ...] = ()
    tags: dict = field(default_factory=dict)
    model_uri: str = ""
    _searches: dict = field(default_factory=dict, repr=False, compare=False)

    @cached_property
    def reference(self) -> dict:
        """What every reply's `model` block says (`schemas.ModelRef`'s fields), built once per version
        and aliases (a moved alias makes a new `ServedModel`)."""
        return {"name": self.name, "version": self.version, "aliases": list(self.aliases), "run_id": self.run_id}

    def counterfactual_search(self, policy=None):
        """The version's counterfactual search, built once (it reads the trees' thresholds)."""
        key = None if policy is None else policy.fingerprint
        if key not in self._searches:
            from innoscore.model.counterfactual.search import CounterfactualSearch

            self._searches[key] = CounterfactualSearch(self.model, policy=policy)
        return self._searches[key]


def follows_alias(model_uri: str) -> bool:
    return model_uri.startswith("models:/") and "@" in model_uri


class ModelFollower:
    """Holds the served version. `resolve(uri)` answers (name, version, run_id, aliases, tags) from the
    registry; `load(name, version)` the ScoringModel of a version."""

    def __init__(self, initial: ServedModel, resolve: Callable, load: Callable[[str, str], ScoringModel],
                 poll_interval_s: float | None = None):
        self._current = initial
        self._resolve, self._load = resolve, load
        self.poll_interval_s = poll_interval_s if follows_alias(initial.model_uri) else None
        self._lock = threading.Lock()          # one check at a time (poller and /reload)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def current(self) -> ServedModel:
        return self._current

    def check(self) -> ServedModel:
        """Ask the registry what the URI names now; load and switch to a new version, or refresh the
        aliases of the current one. Raises what the registry raises."""
        with self._lock:
            served = self._current
            found = self._resolve(served.model_uri)
            if found.version == served.version and found.name == served.name:
                if tuple(found.aliases) != served.aliases:
                    self._current = replace(served, aliases=tuple(found.aliases), tags=dict(found.tags))
                return self._current
            model = self._load(found.name, found.version)          # beside the old one, which keeps serving
            self._current = ServedModel(model, found.name, found.version, found.run_id, tuple(found.aliases),
                                        dict(found.tags), served.model_uri)
            logger.info("now serving %s v%s (was v%s) for %s", found.name, found.version, served.version,
                        served.model_uri)
            return self._current

    def start(self) -> None:
        """Poll in a daemon thread when following an alias."""
        if self.poll_interval_s is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._poll, name="innoscore-model-follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_interval_s):
            try:
                self.check()
            except Exception as exc:   # the registry is away: keep serving what we have
                logger.warning("cannot check %s in the registry (%s); still serving v%s",
                               self._current.model_uri, type(exc).__name__, self._current.version)
