"""Lazy package exports (PEP 562), so `from pipeline.train import TrainSettings` works without
importing torch: a name is resolved to its module the first time someone asks for it."""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_exports(package: str, names: dict[str, str]) -> tuple[Callable[[str], object], list[str]]:
    """A module ``__getattr__`` and ``__all__`` for ``package``, given name -> submodule."""

    def __getattr__(name: str) -> object:
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{names[name]}"), name)

    return __getattr__, sorted(names)
