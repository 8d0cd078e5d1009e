"""Typed configuration: dataclasses loaded from YAML/dicts with strict validation.

Every config section of jointsed is a (nested) dataclass. :func:`from_dict` builds one from plain
data and raises :class:`ConfigError` naming the offending key path (``model.student.channels``)
for an unknown key, a missing required key or a value of the wrong type. :func:`to_dict` is the
inverse, used to save the resolved config next to every run.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any, Optional, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

from jointsed.errors import JointsedError

T = TypeVar("T")


class ConfigError(JointsedError, ValueError):
    """A configuration value is unknown, missing or of the wrong type."""


#: deepest nesting of mappings / lists accepted in a config text (YAML or JSON): PyYAML and json
#: build nested objects recursively, so a few thousand levels end in a RecursionError; no config
#: of jointsed needs more than a handful
MAX_NESTING = 64
#: integers of a config fit in 64 bits (what torch, numpy and Lightning take)
MAX_INT = 2**63 - 1


@dataclasses.dataclass(frozen=True)
class Bound:
    """The allowed range of a numeric config key (each item of a list of numbers)."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False  # lo itself excluded
    hi_open: bool = False
    max_items: Optional[int] = None  # a list value: at most this many items (a grid's candidates)

    def allows(self, value: float) -> bool:
        if self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo):
            return False
        return not (self.hi is not None and (value >= self.hi if self.hi_open else value > self.hi))

    def text(self) -> str:
        """``1 <= x <= 4096``, ``0 < x <= 1``, ``x >= 0``."""
        def num(v: float) -> str:
            return f"{v:,.0f}".replace(",", "_") if float(v).is_integer() and abs(v) >= 10_000 else f"{v:g}"

        low = f"{num(self.lo)} {'<' if self.lo_open else '<='} " if self.lo is not None else ""
        high = f" {'<' if self.hi_open else '<='} {num(self.hi)}" if self.hi is not None else ""
        items = f", at most {self.max_items} values" if self.max_items is not None else ""
        return f"{low}x{high}{items}"


def _leaves(data: Any, prefix: str = ""):
    """``(dotted key, value)`` of every non-mapping value of plain config data."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaves(value, f"{prefix}{key}.")
    else:
        yield prefix.rstrip("."), data


def _numbers(value: Any):
    """The numbers in a value (itself, or the items of nested lists); strings and bools aside."""
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from _numbers(item)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield value


def check_bounds(data: dict[str, Any], bounds: dict[str, Bound], where: str = "") -> None:
    """Check plain config data against ``bounds`` (dotted keys; ``*`` matches one key), before any
    object is built from it (a batch size of 10^9 must not allocate first). Values of the wrong
    type are left to :func:`from_dict`.

    Raises:
        ConfigError: naming the key, the value and the bound.
    """
    import fnmatch

    for key, value in _leaves(data):
        bound = bounds.get(key) or next((b for k, b in bounds.items() if "*" in k and fnmatch.fnmatchcase(key, k)),
                                        None)
        if bound is None:
            continue
        name = f"{where}.{key}" if where else key
        if bound.max_items is not None and isinstance(value, (list, tuple)) and len(value) > bound.max_items:
            raise ConfigError(f"{name}: {len(value)} values, more than {bound.max_items} (allowed: {bound.text()})")
        items = enumerate(value) if isinstance(value, (list, tuple)) else [(None, value)]
        for index, item in items:
            for number in _numbers(item):
                if number != number or not bound.allows(number):
                    at = name if index is None else f"{name}[{index}]"
                    raise ConfigError(f"{at}: {number!r} is out of range (allowed: {bound.text()})")


def check_nesting(text: str, where: str, kind: str = "yaml", limit: int = MAX_NESTING) -> None:
    """Refuse a YAML or JSON text nested deeper than ``limit`` levels, before it is parsed into
    objects (both parsers recurse per level: 3,000 levels end in a RecursionError).

    Raises:
        ConfigError: naming ``where``, the depth reached and the limit.
    """
    depth = 0
    if kind == "json":
        in_string = escaped = False
        for char in text:  # brackets outside strings
            if in_string:
                if escaped:
                    escaped = False
                elif char == "\\":
                    escaped = True
                elif char == '"':
                    in_string = False
            elif char == '"':
                in_string = True
            elif char in "[{":
                depth += 1
                if depth > limit:
                    break
            elif char in "]}":
                depth -= 1
    else:
        # events build no objects and do not recurse; libyaml's parser is fast (the pure-Python
        # one takes seconds on thousands of open brackets) and stops itself at 1,000 levels
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        try:
            for event in yaml.parse(text, Loader=loader):
                if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                    depth += 1
                    if depth > limit:
                        break
                elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                    depth -= 1
        except yaml.YAMLError as exc:
            if "nesting depth" not in str(exc):
                return  # the real parse reports it, with its line
            depth = limit + 1
    if depth > limit:
        raise ConfigError(f"{where}: nested more than {limit} levels deep; no jointsed setting needs that")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(value: Any, tp: Any, where: str) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")
    if origin is typing.Literal:
        if value not in get_args(tp):
            choices = ", ".join(repr(a) for a in get_args(tp))
            raise ConfigError(f"{where}: must be one of {choices}, got {value!r}")
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping for {tp.__name__}, got {value!r}")
        return from_dict(tp, value, where)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        args = get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise ConfigError(f"{where}: expected {len(args)} items, got {len(value)}")
            return tuple(_convert(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        inner = args[0] if args else Any
        items = [_convert(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        kt, vt = get_args(tp) or (Any, Any)
        return {_convert(k, kt, f"{where}.{k}"): _convert(v, vt, f"{where}.{k}") for k, v in value.items()}
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        if isinstance(value, int) and abs(value) > MAX_INT:
            raise ConfigError(f"{where}: {value} is too large a number")
        if not math.isfinite(value):  # .nan / .inf: no setting of jointsed means them
            raise ConfigError(f"{where}: expected a finite number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        if abs(value) > MAX_INT:
            raise ConfigError(f"{where}: {value} is too large an integer (at most {MAX_INT})")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")
    return value


def from_dict(cls: type[T], data: dict[str, Any], where: str = "") -> T:
    """Build dataclass ``cls`` from ``data``, validating every key and value.

    Raises:
        ConfigError: naming the dotted key path of the first problem.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {data!r}")
    bounds = getattr(cls, "BOUNDS", None)  # a class's ranges of its own keys (check_bounds)
    if isinstance(bounds, dict):
        try:
            check_bounds(data, bounds)
        except ConfigError as exc:
            raise ConfigError(_within(where, str(exc))) from None
    precheck = getattr(cls, "check_data", None)
    if callable(precheck):  # checks of the raw data that must run before any part is built
        try:
            precheck(data)
        except ConfigError as exc:
            raise ConfigError(_within(where, str(exc))) from None
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        key = f"{where}.{unknown[0]}" if where else unknown[0]
        raise ConfigError(
            f"unknown key '{key}' (allowed here: {', '.join(sorted(fields))})"
        )
    kwargs = {}
    for name, field in fields.items():
        key = f"{where}.{name}" if where else name
        if name in data:
            kwargs[name] = _convert(data[name], hints[name], key)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(f"missing required key '{key}'")
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if callable(validate):
        try:
            validate()
        except ConfigError as exc:
            raise ConfigError(_within(where, str(exc))) from None
    return obj


def _within(where: str, message: str) -> str:
    """``where: message``, unless the message already starts with its key (``data.classes: ...``)."""
    return message if not where or message.startswith(f"{where}.") else f"{where}: {message}"


def to_dict(obj: Any) -> Any:
    """Plain-data form of a config dataclass (lists for tuples), suitable for YAML/JSON."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, with an error naming the file (and line) when it does not parse."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
        check_nesting(text, str(path))
        data = yaml.safe_load(text)
    except UnicodeDecodeError as exc:  # a binary file given as a config
        raise ConfigError(f"{path}: not a YAML text file (byte {exc.start} is not UTF-8 text)") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of keys, got {type(data).__name__}")
    return data


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge (``override`` wins), used for ``base:`` recipe inheritance and CLI overrides."""
    out = dict(base)
    for k, v in override.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def parse_override(text: str) -> dict[str, Any]:
    """``"training.max_epochs=3"`` → ``{"training": {"max_epochs": 3}}`` (value parsed as YAML)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key.path=value")
    key, raw = text.split("=", 1)
    if not key.strip() or any(not p for p in key.strip().split(".")):
        raise ConfigError(f"override {text!r} must look like key.path=value")
    if key.count(".") >= MAX_NESTING:
        raise ConfigError(f"override {text[:60]!r}...: a key path of more than {MAX_NESTING} parts")
    check_nesting(raw, f"override {key.strip()}")
    try:
        value = yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {text!r}: the value is not valid YAML ({getattr(exc, 'problem', exc)}); "
                          "quote it, e.g. --set 'key=\"text\"'") from None
    out: dict[str, Any] = {}
    cur = out
    parts = key.strip().split(".")
    for p in parts[:-1]:
        cur = cur.setdefault(p, {})
    cur[parts[-1]] = value
    return out


# ----- reference documentation --------------------------------------------------------------------
def _field_comments(cls: type) -> dict[str, str]:
    """Comments written next to (trailing) or just above a dataclass field in its source."""
    import inspect
    import re

    try:
        lines = inspect.getsource(cls).splitlines()
    except (OSError, TypeError):
        return {}
    comments: dict[str, str] = {}
    pending: list[str] = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("#").strip())
            continue
        match = re.match(r"^\s{4}(\w+)\s*:", line)
        if match and not stripped.startswith(("def ", "class ")):
            name = match.group(1)
            trailing = line.split("  # ", 1)[1].strip() if "  # " in line else ""
            comments[name] = " ".join([*pending, trailing]).strip()
        pending = []
    return comments


def _doc_type(tp: Any) -> str:
    """Readable type for the reference: ``'a' | 'b'``, ``int or null``, ``list of int``."""
    origin = get_origin(tp)
    args = get_args(tp)
    if origin is typing.Literal:
        return " / ".join(repr(a) for a in args)
    if origin in (Union, types.UnionType):
        parts = [_doc_type(a) for a in args if a is not type(None)]
        text = " or ".join(parts)
        return text + " or null" if type(None) in args else text
    if origin in (list, tuple):
        inner = [a for a in args if a is not Ellipsis]
        if origin is tuple and args and args[-1] is not Ellipsis:
            return "[" + ", ".join(_doc_type(a) for a in inner) + "]"
        return f"list of {_doc_type(inner[0])}" if inner else "list"
    if origin is dict:
        return f"mapping {_doc_type(args[0])} → {_doc_type(args[1])}" if args else "mapping"
    if dataclasses.is_dataclass(tp):
        return "section"
    return getattr(tp, "__name__", str(tp))


def _default_text(field: dataclasses.Field) -> str:
    if field.default is not dataclasses.MISSING:
        value = field.default
    elif field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    else:
        return "(required)"
    if dataclasses.is_dataclass(value):
        return "(section)"
    return "`" + yaml.safe_dump(to_dict(value), default_flow_style=True, width=10_000).strip().removesuffix(
        "\n..."
    ).strip() + "`"


def reference_markdown(cls: type, title: str, bounds: dict[str, Bound] | None = None) -> str:
    """Markdown reference of a config dataclass tree: one table per section, with every key's
    type, default, the comment written beside it in the source and its allowed range
    (``bounds``, as for :func:`check_bounds`). Generated, so it cannot drift."""
    import fnmatch
    import inspect

    bounds = bounds or {}

    def bound_note(key: str) -> str:
        matches = [b for k, b in bounds.items() if k == key or fnmatch.fnmatchcase(key, k)
                   or (k.endswith(".*") and k[:-2] == key)]
        return f" Range: `{matches[0].text()}`." if matches else ""

    out = [f"# {title}", ""]

    def section(tp: type, path: str) -> None:
        hints = get_type_hints(tp)
        doc = inspect.cleandoc(tp.__doc__ or "") if tp.__doc__ and not tp.__doc__.startswith(tp.__name__ + "(") else ""
        out.append(f"## `{path}`" if path else "## top level")
        out.append("")
        if doc:
            out.extend([doc, ""])
        comments = _field_comments(tp)
        out.append("| key | type | default | notes |")
        out.append("|---|---|---|---|")
        children = []
        for f in dataclasses.fields(tp):
            if not f.init:
                continue
            tp_f = hints[f.name]
            type_text = _doc_type(tp_f).replace("|", "\\|")
            key = f"{path}.{f.name}" if path else f.name
            note = (comments.get(f.name, "") + bound_note(key)).strip().replace("|", "\\|")
            default = _default_text(f).replace("|", "\\|")
            out.append(f"| `{f.name}` | {type_text} | {default} | {note} |")
            if dataclasses.is_dataclass(tp_f):
                children.append((tp_f, f"{path}.{f.name}" if path else f.name))
        out.append("")
        for child, child_path in children:
            section(child, child_path)

    section(cls, "")
    return "\n".join(out).rstrip() + "\n"
