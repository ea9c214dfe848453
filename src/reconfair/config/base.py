"""The base of every configuration model: unknown keys are errors, instances are frozen."""

from pydantic import BaseModel, ConfigDict

__all__ = ["Frozen"]


class Frozen(BaseModel):
    """A frozen pydantic model that forbids unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)
