"""Types shared by every request and response: numbers, the dataset, problem details.

Numbers in requests are strict: a JSON number, finite (no NaN, no Infinity, no 1e400), never
a string. Counts accept an integral JSON number such as ``1e6`` but not ``1.5``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AllowInfNan, BaseModel, BeforeValidator, ConfigDict, Field, Strict

Real = Annotated[float, Strict(), AllowInfNan(False)]
"""A finite JSON number (an integer literal is accepted as a float)."""


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Count = Annotated[int, BeforeValidator(_integral), Strict()]
"""A whole JSON number; ``1e6`` is accepted, ``1.5``, ``true`` and ``"10"`` are not."""


def _target(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a target is the number -1 or 1, not a boolean")
    if value == 0:
        raise ValueError("a target is -1 or 1 (for 0/1 labels, map 0 to -1)")
    return value


Target = Annotated[Literal[-1, 1], BeforeValidator(_target)]
"""A target: the JSON number −1 or 1 (``1.0`` is accepted as 1; ``true`` and ``0`` are not)."""

Flag = Annotated[bool, Strict()]
"""A JSON ``true``/``false``; ``0``, ``1`` and strings are rejected."""


class StrictModel(BaseModel):
    """Base of every request model: unknown fields are an error, nothing is coerced."""

    model_config = ConfigDict(extra="forbid")


class Dataset(StrictModel):
    """n examples: inputs (rows of the n×m matrix A) and targets ±1."""

    inputs: list[list[Real]] = Field(
        min_length=1,
        description="The n×m input matrix A, one example per row; all rows the same length.",
        examples=[[[1.0]]],
    )
    targets: list[Target] = Field(
        min_length=1,
        description="One target per row, each +1 or −1 (map 0/1 labels 0 → −1).",
        examples=[[1]],
    )
    bias: Flag = Field(
        default=False,
        description="Append a constant input 1 to every row (its weight is a threshold, last).",
    )


class FieldError(BaseModel):
    """One invalid field of a request."""

    loc: list[str | int] = Field(description="Path to the field, e.g. ['body', 'steps'].")
    field: str = Field(description="The same path, dotted, without 'body'.")
    message: str = Field(description="What is wrong and what would be accepted.")
    type: str = Field(description="A short machine-readable error code.")


class Problem(BaseModel):
    """An error, as RFC 9457 problem details (media type application/problem+json)."""

    type: str = Field(default="about:blank", description="A URI naming the kind of problem.")
    title: str = Field(description="A short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong with this request.")
    errors: list[FieldError] | None = Field(
        default=None, description="For invalid requests: each bad field."
    )
