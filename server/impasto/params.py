"""Method parameter schemas: declared once, validated on every request, published by ListMethods."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from .errors import InvalidInput

Scalar = bool | int | float | str
ParamKind = Literal["float", "int", "bool", "string", "choice"]


class ParamError(InvalidInput):
    """A parameter value a painter should correct; the message names the parameter."""


@dataclass(frozen=True)
class Param:
    name: str
    kind: ParamKind
    default: Scalar
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = field(default=())

    def coerce(self, value: Scalar) -> Scalar:
        """The value as this parameter's type; text such as "0.5" is parsed (CLI --set, GIMP JSON)."""
        name = self.name
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ParamError(f"parameter '{name}' must be true or false, not {value!r}")
        if self.kind in ("float", "int"):
            if isinstance(value, bool):
                raise ParamError(f"parameter '{name}' must be a number, not {value!r}")
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise ParamError(f"parameter '{name}' must be a number, not {value!r}") from None
            if not math.isfinite(number):  # NaN or ±inf: never a setting, and int() of inf raises
                raise ParamError(f"parameter '{name}' must be a finite number, not {_fmt(number)}")
            if self.kind == "int":
                if number != int(number):
                    raise ParamError(f"parameter '{name}' must be a whole number, not {value!r}")
                number = int(number)
            if self.minimum is not None and number < self.minimum:
                raise ParamError(f"parameter '{name}' must be at least {_fmt(self.minimum)}, not {_fmt(number)}")
            if self.maximum is not None and number > self.maximum:
                raise ParamError(f"parameter '{name}' must be at most {_fmt(self.maximum)}, not {_fmt(number)}")
            return number
        text = str(value)
        if self.kind == "choice" and text not in self.choices:
            raise ParamError(f"parameter '{name}' must be one of {', '.join(self.choices)}, not {text!r}")
        return text


def _fmt(number: float) -> str:
    return f"{number:g}"


def resolve(schema: Sequence[Param], given: Mapping[str, Scalar], method: str) -> dict[str, Scalar]:
    """Defaults overlaid with the given values, each validated; unknown names are refused."""
    by_name = {p.name: p for p in schema}
    unknown = sorted(set(given) - set(by_name))
    if unknown:
        known = ", ".join(by_name) or "none"
        raise ParamError(f"method '{method}' has no parameter '{unknown[0]}' (its parameters: {known})")
    values = {p.name: p.default for p in schema}
    for name, value in given.items():
        values[name] = by_name[name].coerce(value)
    return values


def retune(schema: Sequence[Param], **changes: Mapping[str, object]) -> tuple[Param, ...]:
    """The schema with some parameters' fields changed (e.g. size={"default": 0}): methods built on another
    method keep its controls under their own defaults."""
    unknown = set(changes) - {p.name for p in schema}
    if unknown:
        raise KeyError(f"no parameters {sorted(unknown)} to change")
    return tuple(replace(p, **changes[p.name]) if p.name in changes else p for p in schema)


def parse_weighted(spec: str, name: str, allowed: Collection[str], noun: str) -> dict[str, float]:
    """'a,b:0.5' → {'a': 1.0, 'b': 0.5}, each name one of `allowed` (a `noun` in the error sentence)."""
    parts: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        key, _, weight = part.partition(":")
        if key not in allowed:
            raise ParamError(f"parameter '{name}': {key!r} is not {noun}")
        try:
            value = float(weight) if weight else 1.0
        except ValueError:
            raise ParamError(f"parameter '{name}': weight {weight!r} of {key} is not a number") from None
        # NaN and inf would turn the loss into NaN and the result into the untouched content or a black layer.
        if not math.isfinite(value) or value < 0:
            raise ParamError(
                f"parameter '{name}': the weight of {key} must be a finite number of at least 0, not {weight}"
            )
        parts[key] = value
    if not parts:
        raise ParamError(f"parameter '{name}' names nothing")
    return parts
