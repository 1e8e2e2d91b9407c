"""Dagster Config classes derived from the plain settings dataclasses in `pipeline/`.

Each stage's settings are defined once, as a dataclass next to the code that uses them.
Dagster needs a `dg.Config` (pydantic) class for the typed Launchpad form, so this builds
one with the same fields, types, defaults and comments instead of a hand-kept copy.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import dagster as dg
from pydantic import Field, create_model


def settings_config(
    settings_cls: type, name: str, exclude: frozenset[str] = frozenset(), **extra: tuple[type, Any]
) -> type[dg.Config]:
    """A `dg.Config` subclass named `name` with the fields of `settings_cls` but `exclude` (plus `extra`)."""
    hints = typing.get_type_hints(settings_cls)
    fields: dict[str, tuple[type, Any]] = {}
    for field in dataclasses.fields(settings_cls):
        if field.name in exclude:
            continue
        if field.default is not dataclasses.MISSING:
            default = field.default
        elif field.default_factory is not dataclasses.MISSING:
            default = Field(default_factory=field.default_factory)
        else:
            default = ...
        fields[field.name] = (hints[field.name], default)
    fields.update(extra)
    model = create_model(name, __base__=dg.Config, __doc__=settings_cls.__doc__, **fields)
    return model


def to_settings(config: dg.Config, settings_cls: type, **override: Any):
    """Build the settings dataclass from a config instance (extra config fields are ignored)."""
    names = {f.name for f in dataclasses.fields(settings_cls)}
    values = {k: v for k, v in config.model_dump().items() if k in names}
    return settings_cls(**{**values, **override})


def planned(settings, plan: dict):
    """``settings`` with every field it leaves at its default taken from ``plan`` (a size's plan from
    models.presets): a value the run config sets wins, and a run that sets nothing, as a UI "Materialize"
    of the defaults, gets what `mpyforge run --preset` gets."""
    default = type(settings)()
    unset = {k: v for k, v in plan.items() if getattr(settings, k) == getattr(default, k)}
    return dataclasses.replace(settings, **unset)
