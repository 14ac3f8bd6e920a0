"""Reading pricing files, with errors that name the file, line and field.

Loading is the fast path (libyaml when present, pydantic validation); only when
a file is broken do we parse it a second time to find the line of each error.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from .errors import CatalogError, unreadable_pricing_file
from .schema import PricingFile

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class PricingYamlLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """YAML's safe loader, except that a key given twice in one mapping is an error:
    YAML keeps the last one silently, so ``input: 3.0`` then ``input: 4.0`` would
    price at $4 with no word said. (Public for :mod:`genai_cost.catalog_import`, which
    reads the files it writes with it.)"""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, yaml.MappingNode):
            # ``tools: !!set [1]`` or ``!!map x``: a tag that asks a sequence or a scalar to be a
            # mapping. The base loader says so with the line; the loop below would not.
            raise yaml.constructor.ConstructorError(
                None, None, f"expected a mapping, but found a {node.id}", node.start_mark
            )
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                earlier = first_line.get(key)
            except TypeError:  # an unhashable key: the base loader says so
                break
            if earlier is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, f"{key!r} is given twice (first on line {earlier + 1})", key_node.start_mark
                )
            first_line[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)  # type: ignore[no-any-return]

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        # ``checked: 2026-02-30`` looks like a date to YAML, which then raises a bare
        # ValueError with no line; say where it is, as for any other bad value.
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError) as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value!r} is not a valid date or time ({exc})", node.start_mark
            ) from None

    def construct_yaml_int(self, node: yaml.ScalarNode) -> Any:
        # YAML 1.1 reads ``1:30`` as base 60 (90), ``010`` as octal (8), ``0x10`` as hex and
        # ``0b10`` as binary: a price typed ``1:30`` for 1.30 would load as $90 a million
        # without a word. Such a scalar is kept as the text it is (YAML 1.2 has no base 60, so
        # an unquoted ``start: 16:30`` is the time it looks like); where a number is expected,
        # the schema says what was read and what to write (see schema._string_hint).
        if _NOT_DECIMAL.fullmatch(node.value):
            return self.construct_scalar(node)
        try:
            return super().construct_yaml_int(node)
        except ValueError as exc:  # (more than 4,300 digits)
            raise yaml.constructor.ConstructorError(
                None, None, f"not a usable integer ({exc})", node.start_mark
            ) from None

    def construct_yaml_float(self, node: yaml.ScalarNode) -> Any:
        if ":" in node.value:  # base 60 (``1:30.5`` is 90.5): as for an int, kept as text
            return self.construct_scalar(node)
        return super().construct_yaml_float(node)


#: The ints YAML 1.1 reads in another base than 10: base 60 (a ``:``), octal (a leading 0),
#: hex and binary (``0x``, ``0b``).
_NOT_DECIMAL = re.compile(r"[-+]?(?:[0-9_]*:.*|0[0-9_]+|0[xXbB].*)")


PricingYamlLoader.add_constructor("tag:yaml.org,2002:timestamp", PricingYamlLoader.construct_yaml_timestamp)
PricingYamlLoader.add_constructor("tag:yaml.org,2002:int", PricingYamlLoader.construct_yaml_int)
PricingYamlLoader.add_constructor("tag:yaml.org,2002:float", PricingYamlLoader.construct_yaml_float)

_PathKey = tuple[str | int, ...]


def read_pricing_file(path: Path) -> PricingFile:
    """Parse and validate one file; raise :class:`CatalogError` naming every problem."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise unreadable_pricing_file(path, exc) from None
    return parse_pricing_text(decode_pricing_text(data, str(path)), str(path))


def decode_pricing_text(data: bytes, label: str) -> str:
    """The file's text; a byte that is not UTF-8 is named with its line."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CatalogError([f"{label}:{line}: not UTF-8 text: {exc.reason} (byte {data[exc.start]:#04x})"]) from None


def parse_pricing_text(text: str, label: str) -> PricingFile:
    try:
        data: Any = yaml.load(text, Loader=PricingYamlLoader)  # noqa: S506 - a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{label}:{mark.line + 1}" if mark is not None else label
        raise CatalogError([f"{where}: invalid YAML: {exc.problem}"]) from None
    except yaml.YAMLError as exc:
        raise CatalogError([f"{label}: invalid YAML: {exc}"]) from None
    except (ValueError, RecursionError, MemoryError) as exc:  # (nesting thousands deep)
        raise CatalogError([f"{label}: unreadable YAML: {type(exc).__name__}: {exc}"]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise CatalogError([f"{label}:1: a pricing file must be a mapping with 'providers' and/or 'tools'"])
    try:
        parsed = PricingFile.model_validate(data)
    except ValidationError as exc:
        try:
            problems = _describe(exc, text, label)
        except RecursionError:  # nesting too deep for the pure-Python parser that finds lines
            problems = [f"{label}: {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise CatalogError(problems) from None
    duplicates = _duplicates(parsed)
    if duplicates:
        lines = _line_map(text)
        problems = []
        for loc, message, first in duplicates:
            line = _closest_line(lines, loc)
            first_line = _closest_line(lines, first)
            where = f"{label}:{line}" if line else label
            at = f"{dotted_path(first)}, line {first_line}" if first_line else dotted_path(first)
            problems.append(f"{where}: {dotted_path(loc)}: {message} (first at {at})")
        raise CatalogError(problems)
    return parsed


def _duplicates(parsed: PricingFile) -> list[tuple[_PathKey, str, _PathKey]]:
    """What one file says twice, which the catalog would silently settle by letting the
    last one win: a provider block given twice, a model id given twice for a provider
    (also differing only in case: names are matched lower-cased), and an exact name
    (id or ``match.exact``) claimed by two entries of a provider (ambiguous at run
    time). Each as (where, what, where it was first given). Across files, a later
    file replacing an earlier one's entry is the documented layering, not an error."""
    found: list[tuple[_PathKey, str, _PathKey]] = []
    providers: dict[str, int] = {}
    for p_index, provider in enumerate(parsed.providers):
        here: _PathKey = ("providers", p_index)
        earlier = providers.setdefault(provider.id, p_index)
        if earlier != p_index:
            found.append(
                (
                    (*here, "id"),
                    f"provider {provider.id!r} is given twice in this file; put its models in one block",
                    ("providers", earlier, "id"),
                )
            )
        ids: dict[str, int] = {}
        names: dict[str, tuple[int, _PathKey]] = {}  # exact name -> (model index, where given)
        for m_index, model in enumerate(provider.models):
            at: _PathKey = (*here, "models", m_index)
            own = model.id.lower()
            first_id = ids.setdefault(own, m_index)
            if first_id != m_index:
                found.append(
                    (
                        (*at, "id"),
                        f"model {model.id!r} is given twice for provider {provider.id!r}"
                        " (ids are matched ignoring case); the later entry would silently replace the earlier",
                        (*here, "models", first_id, "id"),
                    )
                )
                continue
            spelled: list[tuple[str, _PathKey]] = [(own, (*at, "id"))]
            if model.match is not None:
                spelled += [(name.lower(), (*at, "match", "exact", i)) for i, name in enumerate(model.match.exact)]
            for name, where in spelled:
                claimed = names.get(name)
                if claimed is None:
                    names[name] = (m_index, where)
                elif claimed[0] != m_index:
                    found.append(
                        (
                            where,
                            f"{name!r} already names another entry of provider {provider.id!r}:"
                            " two entries cannot share an exact name",
                            claimed[1],
                        )
                    )
    found += _duplicate_tools(parsed)
    found += _duplicate_discounts(parsed)
    return found


def _duplicate_tools(parsed: PricingFile) -> list[tuple[_PathKey, str, _PathKey]]:
    """A tool name or alias claimed by two tools of the file: names and aliases are one
    namespace, matched ignoring case (``Catalog.tool``), so the later would silently win."""
    found: list[tuple[_PathKey, str, _PathKey]] = []
    claimed: dict[str, tuple[int, _PathKey]] = {}  # lower-cased name -> (tool index, where given)
    for t_index, tool in enumerate(parsed.tools):
        at: _PathKey = ("tools", t_index)
        spelled = [(tool.name, (*at, "name")), *((alias, (*at, "aliases", i)) for i, alias in enumerate(tool.aliases))]
        for name, where in spelled:
            key = name.lower()
            first = claimed.get(key)
            if first is None:
                claimed[key] = (t_index, where)
            elif first[0] != t_index:
                what = "tool" if where[-1] == "name" else "alias"
                found.append(
                    (
                        where,
                        f"{what} {name!r} already names another tool in this file (tool names and aliases are"
                        " matched ignoring case); the later one would silently replace the earlier",
                        first[1],
                    )
                )
    return found


def _duplicate_discounts(parsed: PricingFile) -> list[tuple[_PathKey, str, _PathKey]]:
    """Two discounts for one provider (or one model of it), as spelt in the file: the
    later would silently replace the earlier."""
    found: list[tuple[_PathKey, str, _PathKey]] = []
    seen: dict[tuple[str, str | None], int] = {}
    for d_index, discount in enumerate(parsed.discounts):
        model = discount.model.strip().lower() if discount.model is not None else None
        key = (discount.provider.strip().lower(), model)
        first = seen.setdefault(key, d_index)
        if first != d_index:
            target = f"model {discount.model!r} of provider" if discount.model is not None else "provider"
            found.append(
                (
                    ("discounts", d_index),
                    f"a discount for {target} {discount.provider!r} is given twice in this file;"
                    " the later would silently replace the earlier: keep one",
                    ("discounts", first),
                )
            )
    return found


def locate(label: str, loc: Iterable[str | int]) -> str:
    """``label:line`` of ``loc`` in the pricing file ``label`` (a path), or ``label``
    alone when the file cannot be read again or has no such place. For messages about
    a file already loaded (a problem found once the catalog is built)."""
    return locate_all(label, [tuple(loc)])[0]


def locate_all(label: str, locs: Sequence[tuple[str | int, ...]]) -> list[str]:
    """:func:`locate` for many places of one file, which is read and composed once (once
    per place, a file with a thousand doubtful rates took minutes to load)."""
    try:
        text = Path(label).read_text(encoding="utf-8")
        lines = _line_map(text)
    except (OSError, ValueError, RecursionError):
        return [label] * len(locs)
    found = []
    for loc in locs:
        line = _closest_line(lines, loc)
        found.append(f"{label}:{line}" if line else label)
    return found


def _describe(exc: ValidationError, text: str, label: str) -> list[str]:
    lines = _line_map(text)
    problems = []
    for error in exc.errors():
        loc: _PathKey = tuple(error["loc"])
        line = _closest_line(lines, loc)
        field = dotted_path(loc)
        where = f"{label}:{line}" if line else label
        message = error["msg"]
        if error["type"] == "value_error":  # our own validators' messages say what is wrong
            message = message.removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message += _known_keys_hint(loc)
        problems.append(f"{where}: {field}: {message}")
    return problems


def _known_keys_hint(loc: _PathKey) -> str:
    """'; did you mean ...' for a misspelt key, else the keys allowed there: pydantic only
    says the key is not permitted, and the fix is almost always a typo or a wrong level."""
    model = _model_at(loc[:-1])
    if model is None or not isinstance(loc[-1], str):
        return ""
    known = list(model.model_fields)
    close = difflib.get_close_matches(loc[-1], known, n=1)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; expected one of: {', '.join(known)}"


def _model_at(loc: _PathKey) -> type[BaseModel] | None:
    """The schema model that validates the mapping at ``loc`` in a pricing file."""
    annotation: Any = PricingFile
    for part in loc:
        annotation = _unwrapped(annotation)
        if isinstance(part, int):
            if typing.get_origin(annotation) is not list:
                return None
            annotation = typing.get_args(annotation)[0]
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(part)
            if field is None:
                return None
            annotation = field.annotation
        elif typing.get_origin(annotation) is dict:
            annotation = typing.get_args(annotation)[1]
        else:
            return None
    annotation = _unwrapped(annotation)
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _unwrapped(annotation: Any) -> Any:
    """``X | None`` and ``Annotated[X, ...]`` as ``X``."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin is typing.Union or origin is types.UnionType:
            members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def dotted_path(loc: Iterable[str | int]) -> str:
    """A validation error's location as a person writes it: ``providers[0].models[1].id``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _closest_line(lines: dict[_PathKey, int], loc: _PathKey) -> int | None:
    for end in range(len(loc), -1, -1):
        line = lines.get(loc[:end])
        if line is not None:
            return line
    return None


def _line_map(text: str) -> dict[_PathKey, int]:
    """1-based line of every mapping key and sequence item, by its path."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    lines: dict[_PathKey, int] = {}

    def walk(node: yaml.Node, path: _PathKey) -> None:
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.start_mark.line)
                key_path = (*path, key)
                lines[key_path] = key_node.start_mark.line + 1
                walk(value_node, key_path)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, (*path, index))

    if root is not None:
        walk(root, ())
    return lines
