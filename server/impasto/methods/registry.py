"""Methods are plugins: every method, built-in or third-party, registers under the `impasto.methods`
entry-point group, so a package that declares one is listed by the daemon, run by the CLI and shown by
both editors with no change to impasto."""

from __future__ import annotations

import logging
import math
from importlib.metadata import EntryPoint, entry_points

from ..params import Param
from .base import Method

log = logging.getLogger("impasto.methods")
GROUP = "impasto.methods"
BUILTIN_DISTRIBUTION = "impasto"
_KINDS = ("float", "int", "bool", "string", "choice")
_FLAGS = (
    "takes_style_images",
    "takes_builtin_styles",
    "takes_mask",
    "takes_label_maps",
    "supports_preserve_color",
    "luminance_inputs",
)


class MethodSchemaError(ValueError):
    """A method whose declaration the daemon cannot publish or validate requests against."""


def load_methods(group: str = GROUP) -> dict[str, Method]:
    """Every loadable method of the group by name, in their `list_order` (then by name).

    A method that fails to import, construct or validate is skipped with one log line, so one broken
    third-party package never keeps the daemon from starting.
    """
    # impasto's own come first so that a third-party method can never take a built-in's name.
    found = sorted(entry_points(group=group), key=lambda e: (_distribution(e) != BUILTIN_DISTRIBUTION, e.name))
    methods: dict[str, Method] = {}
    for ep in found:
        origin = f"{ep.value} from {_distribution(ep) or 'an unnamed distribution'}"
        if ep.name in methods:
            log.warning(f"method '{ep.name}' ({origin}) skipped: a method of that name is already registered")
            continue
        try:
            methods[ep.name] = _instantiate(ep)
        except Exception as err:  # a third-party bug of any kind must not stop the daemon
            log.warning(f"method '{ep.name}' ({origin}) skipped: {type(err).__name__}: {_one_line(err)}")
    return dict(sorted(methods.items(), key=lambda item: (item[1].list_order, item[0])))


def _instantiate(ep: EntryPoint) -> Method:
    target = ep.load()
    method = target() if isinstance(target, type) else target
    check_method(method, ep.name)
    return method


def check_method(method: object, name: str) -> None:
    """Refuses a method the protocol cannot describe or the service cannot validate requests against."""
    if not isinstance(method, Method):
        raise MethodSchemaError(f"{type(method).__name__} is not an impasto Method")
    if getattr(method, "name", None) != name:
        raise MethodSchemaError(f"its name {getattr(method, 'name', None)!r} differs from its entry point {name!r}")
    for attr in ("title", "description"):
        if not isinstance(getattr(method, attr, None), str):
            raise MethodSchemaError(f"'{attr}' must be text")
    if not isinstance(method.list_order, int):
        raise MethodSchemaError("'list_order' must be a whole number")
    if not isinstance(method.max_styles, int) or method.max_styles < 0:
        raise MethodSchemaError("'max_styles' must be a whole number of at least 0")
    for flag in _FLAGS:
        if not isinstance(getattr(method, flag), bool):
            raise MethodSchemaError(f"'{flag}' must be true or false")
    if not callable(getattr(method, "run", None)) or type(method).run is Method.run:
        raise MethodSchemaError("it does not implement run()")
    names: set[str] = set()
    for param in method.params:
        _check_param(param)
        if param.name in names:
            raise MethodSchemaError(f"parameter '{param.name}' is declared twice")
        names.add(param.name)


def _check_param(param: object) -> None:
    if not isinstance(param, Param):
        raise MethodSchemaError(f"parameter {param!r} is not an impasto Param")
    where = f"parameter '{param.name}'"
    if not param.name or not param.name.isidentifier():
        raise MethodSchemaError(f"{where}: a name must be an identifier")
    if param.kind not in _KINDS:
        raise MethodSchemaError(f"{where}: kind {param.kind!r} is not one of {', '.join(_KINDS)}")
    if param.kind == "choice" and not param.choices:
        raise MethodSchemaError(f"{where}: a choice needs choices")
    for bound in (param.minimum, param.maximum):
        if bound is not None and not math.isfinite(bound):
            raise MethodSchemaError(f"{where}: its range must be finite")
    if param.minimum is not None and param.maximum is not None and param.minimum > param.maximum:
        raise MethodSchemaError(f"{where}: its minimum is above its maximum")
    try:
        default = param.coerce(param.default)
    except ValueError as err:
        raise MethodSchemaError(f"{where}: its default is not valid under its own schema ({err})") from None
    if default != param.default:
        raise MethodSchemaError(f"{where}: its default {param.default!r} is not a {param.kind}")


def _distribution(ep: EntryPoint) -> str | None:
    dist = ep.dist
    return dist.metadata["Name"] if dist is not None else None


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or "(no message)"
