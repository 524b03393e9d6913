"""TodoWrite: placeholder until the tools land (events import TodosChanged)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class TodosChanged:
    todos: list[dict[str, Any]] = field(default_factory=list)
