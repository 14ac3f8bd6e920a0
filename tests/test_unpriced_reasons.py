"""The values of ``gen_ai.cost.unpriced_reason`` are spelled once (genai_cost.pricing.errors,
reached as ``attributes.REASON_*``) and every one a span can carry is in ``UNPRICED_REASONS``,
the set docs/attributes.md is checked against (tests/test_docs.py). They were spread over five
modules and bare strings, and two of them (``missing_duration``, ``pricing_error``) were written
on spans and documented nowhere."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from genai_cost import attributes as A
from genai_cost.pricing import errors

SRC = Path(__file__).resolve().parents[1] / "src/genai_cost"
SOURCES = sorted(SRC.rglob("*.py"))

def _reason_constants() -> dict[str, object]:
    return {name: value for name, value in vars(errors).items() if name.startswith("REASON_")}


def test_the_set_holds_every_reason_constant_each_a_plain_str() -> None:
    """An Enum member (even a ``str`` subclass) is refused by OpenTelemetry's attribute check."""
    constants = _reason_constants()
    assert set(constants.values()) == errors.UNPRICED_REASONS
    assert len(constants) == len(errors.UNPRICED_REASONS), "two constants spell one reason"
    assert all(type(value) is str for value in constants.values())
    assert A.UNPRICED_REASONS is errors.UNPRICED_REASONS
    assert {name: getattr(A, name) for name in constants} == constants


def _subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_pricing_error_carries_a_reason_of_the_set() -> None:
    reasons = {cls.__name__: cls.reason for cls in (errors.PricingError, *_subclasses(errors.PricingError))}
    assert {name: reason for name, reason in reasons.items() if reason not in errors.UNPRICED_REASONS} == {}


def _reason(node: ast.expr | None) -> Iterator[str]:
    """The reason an expression gives, when it says so itself: a string, or a ``REASON_*``
    constant; nothing for a value known only at run time (``exc.reason``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.Name | ast.Attribute):
        name = node.id if isinstance(node, ast.Name) else node.attr
        if name.startswith("REASON_"):
            constants = _reason_constants()
            assert name in constants, f"{name} is not a reason constant of genai_cost.pricing.errors"
            yield str(constants[name])
    elif isinstance(node, ast.IfExp):
        yield from _reason(node.body)
        yield from _reason(node.orelse)
    elif isinstance(node, ast.Tuple | ast.List | ast.Set):  # ``reason in (...)``
        for item in node.elts:
            yield from _reason(item)


def _argument(call: ast.Call, position: int, keyword: str) -> ast.expr | None:
    if len(call.args) > position:
        return call.args[position]
    return next((item.value for item in call.keywords if item.arg == keyword), None)


def _reasons_given(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, reason) of every reason the code writes on a span or compares one with: a
    ``gen_ai.cost.unpriced_reason`` attribute, a SpanCost's reason, the pricer's
    ``_unpriced``, an error's ``reason``, a comparison with ``unpriced_reason``. (Not a
    RecordedCost's: it is read from spans, whatever wrote them.)"""
    for node in ast.walk(tree):
        found: list[ast.expr | None] = []
        if isinstance(node, ast.Dict):
            found += [value for key, value in zip(node.keys, node.values, strict=True)
                      if isinstance(key, ast.Attribute) and key.attr == "COST_UNPRICED_REASON"]
        elif isinstance(node, ast.Call):
            callee = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            found += [item.value for item in node.keywords if item.arg == "reason"]
            if callee == "_unpriced":
                found.append(_argument(node, 1, "reason"))
            elif callee == "SpanCost":
                found.append(_argument(node, 4, "unpriced_reason"))
        elif isinstance(node, ast.ClassDef):
            found += [statement.value for statement in node.body if isinstance(statement, ast.Assign)
                      and any(isinstance(target, ast.Name) and target.id == "reason" for target in statement.targets)]
        elif (isinstance(node, ast.Compare) and isinstance(node.left, ast.Attribute)
              and node.left.attr in ("unpriced_reason", "reason")):
            found += node.comparators
        for expression in found:
            for reason in _reason(expression):
                yield getattr(expression, "lineno", 0), reason


def test_every_reason_a_span_can_carry_is_in_the_set() -> None:
    given: dict[str, set[str]] = {}
    for path in SOURCES:
        for line, reason in _reasons_given(ast.parse(path.read_text(), str(path))):
            given.setdefault(reason, set()).add(f"{path.relative_to(SRC)}:{line}")
    assert len(given) >= 10, "the scan finds too few reasons: it no longer sees how they are written"
    assert {reason: where for reason, where in given.items() if reason not in errors.UNPRICED_REASONS} == {}


def test_no_module_spells_a_reason_as_text() -> None:
    """Each is written as its constant, so that a reason is renamed or added in one place."""
    spelled: list[str] = []
    for path in SOURCES:
        where = path.relative_to(SRC).as_posix()
        if where == "pricing/errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and node.value in errors.UNPRICED_REASONS:
                spelled.append(f"{where}:{node.lineno}: {node.value!r}")
    assert spelled == []
