"""The base of every config model."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ConfigDict

_UNSET = object()

M = TypeVar("M", bound=BaseModel)


class Model(BaseModel):
    """Base for every config model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
