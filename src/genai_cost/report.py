"""What did each conversation cost, and why: a report from spans already exported.

The cost attributes are on the spans, so a file of exported spans (the collector's
``file`` exporter, a trace downloaded from Jaeger or Tempo, OTLP JSON or the Jaeger
UI's own JSON) holds the whole answer.
This module reads such files and sums them per trace, per model and per tool, and
lists what was not priced and why: spans flagged ``gen_ai.cost.unpriced``, and
billable spans that carry no cost attribute at all (the process that emitted them
did not run genai-cost), so that a report never passes a gap off as a zero.

Pure Python, no OpenTelemetry import: it reads OTLP JSON with pydantic and
classifies spans with :func:`genai_cost.usage.read_span_usage`, as the processor does.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
import string
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, BinaryIO, NamedTuple, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError

from . import attributes as A
from .config import env_pricing_files, user_cache_dir
from .pricing.catalog import Catalog
from .pricing.files import dotted_path
from .recorded_cost import RECORDED_CATEGORY_OTHER, RECORDED_REASON_UNKNOWN, RecordedCost, recorded_cost
from .records import (
    ADK_CALL,
    ADK_PARTIAL,
    ADK_SCOPE,
    UNTIL_ITS_LOG,
    CallRecord,
    adk_record,
    call_model,
    same_call_by_response_id,
    twin_records,
)
from .usage import USAGE_ON_STREAM_LOG_SCOPES, Role, SpanUsage, read_span_usage, usd_amount

__all__ = [
    "ExportedSpan",
    "SpanFileError",
    "ReportSummary",
    "TraceReport",
    "read_span_file",
    "render_json",
    "render_text",
    "report_traces",
    "summarize",
]

#: USD sums are rounded to this many decimal places for output only (float noise such as
#: 0.14200000000000002, not precision: a price per token is ~1e-8); sums stay exact inside.
USD_DECIMALS = 10


class SpanFileError(ValueError):
    """A span file that cannot be read, or parts of it. ``problems`` name the file, the
    line (for JSON lines) and the field; ``spans`` are those read from the rest."""

    def __init__(self, problems: list[str], spans: list[ExportedSpan]) -> None:
        self.problems = problems
        self.spans = spans
        super().__init__("\n".join(problems))


@dataclass(frozen=True, slots=True)
class ExportedSpan:
    trace_id: str  #: 32 lower-case hex digits
    span_id: str  #: 16 lower-case hex digits
    parent_span_id: str | None
    name: str
    scope: str | None
    attributes: Mapping[str, object]
    #: ``client``, ``server``, ``internal``, ``producer`` or ``consumer``; ``None`` when
    #: the file does not say (an ``invoke_agent`` CLIENT span is a call, as the processor
    #: reads it).
    kind: str | None = None
    #: Start and end, in nanoseconds since the epoch, when the file gives them.
    start_ns: int | None = None
    end_ns: int | None = None
    #: The instrumentation scope's version, when the file gives it (it tells Google ADK
    #: 1.x's second record of a call from ADK 2.x's only one).
    scope_version: str | None = None
    #: How many attributes the SDK dropped from the span (OTLP's ``droppedAttributesCount``):
    #: a span counting tokens with no model or operation left is then a call whose model
    #: was among them, as the processor reads it.
    dropped_attributes: int = 0


@dataclass(slots=True)
class CallTotals:
    """The priced calls of one catalog entry or tool in a trace. Counts are inclusive, as
    on spans: ``input_tokens`` includes the cache reads and writes, ``output_tokens`` the
    reasoning tokens."""

    calls: int = 0
    usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True, slots=True)
class SpanNote:
    """A span the report names: one not priced, with the reason."""

    span_id: str
    name: str
    reason: str
    detail: str = ""


@dataclass(slots=True)
class TraceReport:
    trace_id: str
    root_name: str
    spans: int = 0
    total_usd: float = 0.0
    by_category: dict[str, float] = field(default_factory=dict)
    #: ``openai/gpt-4o`` or ``tool/web_search`` -> its calls in this trace.
    by_entry: dict[str, CallTotals] = field(default_factory=dict)
    #: Spans flagged ``gen_ai.cost.unpriced`` by genai-cost, with its reason.
    unpriced: list[SpanNote] = field(default_factory=list)
    #: Billable spans with no ``gen_ai.cost.*`` attribute: never seen by genai-cost.
    not_priced_here: list[SpanNote] = field(default_factory=list)
    #: ``False`` when a local root said spans were still open as it ended.
    complete: bool = True
    #: Records of a span already counted (same trace and span id): retried exports,
    #: concatenated files, the same file given twice. The first record counts.
    duplicates_ignored: int = 0
    #: When the root span started (UTC, ISO 8601) and how long it lasted, if the file says.
    start: str | None = None
    duration_s: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id,
            "root_name": self.root_name,
            "start": self.start,
            "duration_s": self.duration_s,
            "spans": self.spans,
            "total_usd": _usd(self.total_usd),
            "by_category": {category: _usd(usd) for category, usd in self.by_category.items()},
            "by_entry": {key: _totals_dict(value) for key, value in self.by_entry.items()},
            "unpriced": [_note_dict(note) for note in self.unpriced],
            "not_priced_here": [_note_dict(note) for note in self.not_priced_here],
            "complete": self.complete,
            "duplicates_ignored": self.duplicates_ignored,
        }


# ------------------------------------------------------------------ reading

#: The attributes genai-cost writes on a span it priced: one it cannot read is not dropped
#: (the span would pass for a call it never saw, or for $0) but kept as :class:`_Unreadable`.
_COST_PREFIX = "gen_ai.cost."


@dataclass(frozen=True, slots=True)
class _Unreadable:
    """A ``gen_ai.cost.*`` attribute in a span file whose value could not be read (not of
    its type, no value, bytes, a key-value list, two values): the report lists its span as
    unpriced (``invalid_cost``), never as priced at $0."""

    why: str


class _Lenient(BaseModel):
    # OTLP carries much more than a report needs (resource, events, links, status...).
    model_config = ConfigDict(extra="ignore", frozen=True)


def _int64(value: int) -> int:
    """``value`` if an int64 (OTLP's and Jaeger's integer), else an error (a ValueError) that says so:
    a 400-digit total was read as an int too large for a float (OverflowError)."""
    if not _INT64_MIN <= value <= _INT64_MAX:
        # (PydanticCustomError: its message as written, with no "Value error, " before it)
        digits = len(str(abs(value)))
        raise PydanticCustomError("int64", "not an int64 value: an integer of {digits} digits", {"digits": digits})
    return value


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class _ArrayValue(_Lenient):
    values: list[_AnyValue] = []


class _AnyValue(_Lenient):
    # Field names as OTLP JSON spells them; int64 arrives as a JSON string, which lax mode reads.
    stringValue: str | None = None
    boolValue: bool | None = None
    # (an int64: a larger int, which no OTLP writer sends, is named as a problem, not summed)
    intValue: Annotated[int, AfterValidator(_int64)] | None = None
    doubleValue: float | None = None
    arrayValue: _ArrayValue | None = None
    # Not read as attribute values, but valid OTLP: they must not fail the span.
    bytesValue: Any = None
    kvlistValue: Any = None

    def plain(self) -> object:
        for value in (self.stringValue, self.boolValue, self.intValue, self.doubleValue):
            if value is not None:
                return value
        if self.arrayValue is not None:
            return tuple(item.plain() for item in self.arrayValue.values)
        return None

    def cost_value(self) -> object:
        """The value as a ``gen_ai.cost.*`` attribute is read: exactly one scalar or array,
        else :class:`_Unreadable` (such an AnyValue is never a cost genai-cost wrote)."""
        kinds = [name for name in _ANY_VALUE_KINDS if getattr(self, name) is not None]
        if not kinds:
            return _Unreadable("no value")
        if len(kinds) > 1:
            return _Unreadable(f"more than one value: {', '.join(kinds)}")
        if kinds[0] in ("bytesValue", "kvlistValue"):
            return _Unreadable(f"a {kinds[0]}")
        return self.plain()


_ANY_VALUE_KINDS = (
    "stringValue",
    "boolValue",
    "intValue",
    "doubleValue",
    "arrayValue",
    "bytesValue",
    "kvlistValue",
)


_ArrayValue.model_rebuild()


class _KeyValue(_Lenient):
    key: str
    value: _AnyValue = _AnyValue()


class _Span(_Lenient):
    traceId: str
    spanId: str
    # ``null`` as some JSON writers spell a field left out: a root, a span with no name.
    parentSpanId: str | None = None
    name: str | None = None
    attributes: list[Any] = []  # each read on its own: a bad one loses itself, not the span
    # Read if they can be (see _kind, _nanos), never a reason to lose the span.
    kind: Any = None
    startTimeUnixNano: Any = None
    endTimeUnixNano: Any = None
    droppedAttributesCount: Any = None


class _Scope(_Lenient):
    name: str = ""
    version: Any = None  # read if it is text (see _version), never a reason to lose the spans


# Each level is validated on its own (its lists as ``Any``), so that a bad field loses
# only the span (or group) it is in, not the document.
class _ScopeSpans(_Lenient):
    scope: _Scope | None = None
    instrumentationLibrary: _Scope | None = None  # OTLP before 1.0: the same, older name
    spans: list[Any] | None = None


class _ResourceSpans(_Lenient):
    scopeSpans: list[Any] | None = None
    instrumentationLibrarySpans: list[Any] | None = None  # OTLP before 1.0


# The Jaeger UI's JSON ("Download Results", "Trace JSON": its /api/traces answer).
class _JaegerTag(_Lenient):
    key: str
    type: str = "string"
    value: Any = None


class _JaegerReference(_Lenient):
    refType: str | None = None
    traceID: str | None = None
    spanID: str = ""


class _JaegerSpan(_Lenient):
    traceID: str | None = None
    spanID: str
    operationName: str | None = None
    references: list[_JaegerReference] | None = None
    tags: list[Any] | None = None  # each read on its own: a bad one loses itself, not the span
    startTime: Any = None  # microseconds since the epoch
    duration: Any = None  # microseconds


class _JaegerTrace(_Lenient):
    traceID: str | None = None
    spans: list[Any] | None = None


class _JaegerAnswer(_Lenient):
    data: list[Any] | None = None
    errors: list[Any] | None = None


#: Jaeger keeps the instrumentation scope as tags; the report reads it as the scope.
_JAEGER_SCOPE_NAMES = ("otel.scope.name", "otel.library.name")
_JAEGER_SCOPE_TAGS = frozenset({*_JAEGER_SCOPE_NAMES, "otel.scope.version", "otel.library.version"})
#: Jaeger keeps the OTLP span kind as this tag.
_JAEGER_KIND_TAG = "span.kind"
_KINDS = ("internal", "server", "client", "producer", "consumer")  # OTLP's 1 to 5


def _kind(value: object) -> str | None:
    """A span kind as OTLP JSON writes it (``3``, ``"SPAN_KIND_CLIENT"``) or Jaeger's tag
    (``"client"``), as one of :data:`_KINDS`; ``None`` when it is none of them."""
    if isinstance(value, int) and not isinstance(value, bool):
        return _KINDS[value - 1] if 1 <= value <= len(_KINDS) else None
    if isinstance(value, str):
        name = value.strip().lower().removeprefix("span_kind_")
        if name in ("1", "2", "3", "4", "5"):
            return _KINDS[int(name) - 1]
        return name if name in _KINDS else None
    return None


def _nanos(value: object, scale: int = 1) -> int | None:
    """A time in nanoseconds from OTLP's ``...UnixNano`` (an int64, often as a JSON string)
    or Jaeger's microseconds (``scale`` 1000); ``None`` when it is not a positive integer."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        value = int(text) if text.isascii() and text.isdigit() and len(text) <= 20 else None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and 0 < value * scale < 2**64:
        return value * scale
    return None


def _dropped_count(value: object) -> int:
    """OTLP's ``droppedAttributesCount`` (a uint32; a JSON number, or a string as some
    writers send integers); 0 when it is absent or not a count, as for a span that
    dropped none: it only ever adds a reading, never loses the span."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, str):
        text = value.strip()
        value = int(text) if text.isascii() and text.isdigit() and len(text) <= 10 else None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and 0 < value < 2**32 else 0


_Model = TypeVar("_Model", bound=BaseModel)
_Location = tuple[str | int, ...]


def read_span_file(path: Path) -> list[ExportedSpan]:
    """The spans in a file: OTLP JSON, one document (``{"resourceSpans": [...]}``, or as
    Jaeger's API (``{"result": ...}``) or Tempo's (``{"batches": [...]}``) wrap it; the
    pre-1.0 ``instrumentationLibrarySpans`` too) or several, one per line as the
    collector's ``file`` exporter writes them, or pretty-printed one after another; or the
    Jaeger UI's JSON (``{"data": [trace...]}``). A UTF-8 BOM is skipped.
    Raises :class:`SpanFileError` naming every broken document (by the line it starts on)
    and field, with the spans of the rest (a bad field loses its span only, a bad attribute
    value only that attribute, bytes that are not UTF-8 the document they are in), or saying
    that the file holds no span, or is not text (OTLP protobuf, a compressed file).

    The file is read a chunk of whole lines at a time, and each document is read into spans
    before the next is parsed: memory follows the spans kept (and the largest document), not
    the size of the file."""
    spans: list[ExportedSpan] = []
    problems: list[str] = []
    shared: dict[str, str] = {}  # (see _Reader.share)
    try:
        with path.open("rb") as file:
            text = _SpanText(file)
            binary = _binary_format(text.head)
            text.head = b""
            if binary is not None:
                raise SpanFileError([f"{path}: {binary}"], [])
            for where, document in text.documents(str(path)):
                if isinstance(document, _NotUtf8):
                    problems.append(f"{where}: not UTF-8: {document}")
                    continue
                if isinstance(document, Exception):
                    problems.append(f"{where}: not JSON: {document}")
                    continue
                reader = _Reader(where, shared)
                reader.document(document)
                del document  # (the next document is parsed without this one)
                spans.extend(reader.spans)
                problems.extend(reader.problems)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise SpanFileError([*problems, f"{path}: cannot read span file: {reason}"], spans) from None
    if text.blank:  # (whitespace only: any problem found in it is the file's being empty)
        raise SpanFileError([f"{path}: no spans: the file is empty"], [])
    if not spans and not problems:
        problems.append(f"{path}: no spans: the file holds none")
    if problems:
        raise SpanFileError(problems, spans)
    return spans


_BOM = b"\xef\xbb\xbf"
#: Only OTLP JSON is read: what to do with the other files the collector's file exporter writes.
_JSON_ONLY = (
    "only OTLP JSON is read, not OTLP protobuf or compressed files: write it with the collector"
    " file exporter's `format: json` and no `compression`"
)
#: ASCII control characters that no JSON text holds (JSON's whitespace is tab, LF and CR).
_CONTROL = frozenset(range(32)) - {9, 10, 13}


def _binary_format(raw: bytes) -> str | None:
    """What is wrong with a file that is not text at all, or ``None`` when it is text (bytes
    that are not UTF-8 further on are the problem of the document they are in)."""
    if raw.startswith(b"\x1f\x8b"):
        return f"not text: a gzip-compressed file ({_JSON_ONLY}; or gunzip it first)"
    if raw.startswith(b"\x28\xb5\x2f\xfd"):
        return f"not text: a zstd-compressed file ({_JSON_ONLY}; or unzstd it first)"
    head = raw[:512]
    if any(byte in _CONTROL for byte in head):
        return f"not text: binary data, OTLP protobuf perhaps ({_JSON_ONLY})"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A character cut at the end of the 512 bytes is no sign of binary data.
        if exc.start < len(head) - 3 and not head.lstrip().startswith((b"{", b"[")):
            return f"not text: not UTF-8 from the start, OTLP protobuf perhaps ({_JSON_ONLY})"
    return None


class _NotUtf8(ValueError):
    """A document with bytes that are not UTF-8 in it."""


#: What may stand between two documents: JSON's whitespace, and the BOM of a file
#: concatenated to another (``cat a.json b.json``).
_BETWEEN_DOCUMENTS = re.compile(r"[ \t\n\r\ufeff]*")
#: Where reading goes on after a document that is not JSON: a line opening an object.
_NEXT_DOCUMENT = re.compile(r"[\r\n](?=\{)")
#: A byte that was not UTF-8, as ``surrogateescape`` decodes it.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")
#: Bytes read from a span file at a time (then cut after its last whole line); a document
#: longer than that is read on until it ends (see _SpanText.grow).
_CHUNK = 1 << 20


class _SpanText:
    """The text of a span file, read a chunk of whole lines at a time (from after a BOM):
    ``text`` holds the lines not yet read into documents, from the start of a line
    (``first_line``); a chunk that is not UTF-8 is decoded with ``surrogateescape``, each
    such byte a lone surrogate (``escaped``)."""

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        #: The first bytes (after the BOM): the whole file if shorter than a chunk.
        self.head = file.read(max(_CHUNK, 1024)).removeprefix(_BOM)
        self._tail = self.head  # bytes read after the last line end
        self.text = ""
        self.first_line = 1  # the line ``text`` starts on
        self.eof = False
        self.escaped = False  # a byte was not UTF-8
        self.blank = True  # all the text so far is whitespace
        # The line of a position in ``text`` (positions asked for only move forward).
        self._counted, self._line = 0, 1

    def more(self) -> bool:
        """Reads a chunk more onto ``text``; ``False`` when there is nothing more to read."""
        piece = self._read()
        if piece is None:
            return False
        self.text = self.text + piece if self.text else piece
        return True

    def grow(self) -> None:
        """Reads on for a document that goes on past the text read, to be parsed anew: past a
        line that closes an object or an array at its start (as a pretty-printed document
        ends) once at least half as much again is read, else to four times as much, or to the
        end of the file (a long document is parsed about once, at most about three times, in all)."""
        pieces = [self.text]
        held, read, closed = len(self.text), 0, False
        while read < 4 * held and not (closed and 2 * read >= held):
            piece = self._read()
            if piece is None:
                break
            pieces.append(piece)
            read += len(piece)
            closed = closed or piece.startswith(("}", "]")) or "\n}" in piece or "\n]" in piece
        self.text = "".join(pieces)

    def _read(self) -> str | None:
        """The next chunk of whole lines (or the rest of the file), or ``None`` at its end."""
        if self.eof:
            return None
        pieces: list[bytes | memoryview] = [self._tail]
        while True:
            data = self.file.read(_CHUNK)
            if not data:
                self.eof = True
                self._tail = b""
                break
            end = data.rfind(b"\n") + 1
            if end:
                pieces.append(memoryview(data)[:end])  # (copied once, by the join)
                self._tail = data[end:]
                break
            pieces.append(data)  # a line longer than a chunk: read on to its end
        raw = b"".join(pieces)
        del pieces, data
        if not raw:
            return None
        try:
            piece = raw.decode("utf-8")
        except UnicodeDecodeError:
            # (a chunk ends at a line end, which no UTF-8 character spans: decoded chunk by
            # chunk, the text is what decoding the whole file would give)
            piece = raw.decode("utf-8", errors="surrogateescape")
            self.escaped = True
        del raw
        if self.blank and piece.strip():
            self.blank = False
        return piece

    def line_at(self, position: int) -> int:
        self._line += self.text.count("\n", self._counted, position)
        self._counted = position
        return self._line

    def drop(self, position: int) -> int:
        """Forgets the text before the line ``position`` is on; returns how many characters
        went (to take from the positions held)."""
        line = self.line_at(position)
        cut = self.text.rfind("\n", 0, position) + 1
        self.text = self.text[cut:]
        self.first_line = self._line = line
        self._counted = 0
        return cut

    def bad_byte(self, start: int, end: int) -> _NotUtf8 | None:
        found = _ESCAPED_BYTE.search(self.text, start, end) if self.escaped else None
        if found is None:
            return None
        at = found.start()
        line_start = self.text.rfind("\n", 0, at) + 1
        byte = ord(self.text[at]) - 0xDC00
        line = self.first_line + self.text.count("\n", 0, at)
        return _NotUtf8(f"byte 0x{byte:02x} (line {line}, column {at - line_start + 1})")

    def documents(self, label: str) -> Iterator[tuple[str, object | Exception]]:
        """The JSON documents of the file, one after another (compact, one a line, or
        pretty-printed), each parsed only once the one before has been taken, with where it
        is: ``label`` when the file is one document and nothing else, else ``label:line``, the
        line it starts on. A document that is not JSON comes as the error (its line and column
        said); reading goes on at the next line that opens an object, so the documents after
        it still count. A document that holds a byte that was not UTF-8 comes as a
        :class:`_NotUtf8` error naming it, whether or not it parsed."""
        decoder = json.JSONDecoder()
        # The first document is held until it is known whether another follows (its label).
        first: tuple[int, object | Exception] | None = None
        several = False
        position = 0
        while True:
            position = _skip_between(self.text, position)
            if position == len(self.text):
                position -= self.drop(position)
                if self.more():
                    continue
                break
            line = self.line_at(position)
            if first is not None:
                yield f"{label}:{first[0]}", first[1]
                first = None
                several = True
            found: object | Exception
            while True:
                try:
                    document, end = decoder.raw_decode(self.text, position)
                except json.JSONDecodeError as exc:
                    if exc.pos >= len(self.text) and not self.eof:
                        # (the document goes on past the text read: read on, see grow)
                        position -= self.drop(position)
                        self.grow()
                        continue
                    absolute = self.first_line + exc.lineno - 1
                    problem: Exception = ValueError(f"{exc.msg} (line {absolute}, column {exc.colno})")
                except ValueError as exc:  # an integer too long to convert, say
                    problem = exc
                except RecursionError:
                    problem = ValueError("nested too deeply")
                else:
                    found = self.bad_byte(position, end) or document
                    del document
                    position = end
                    break
                found, position = self._resume(position, problem)
                break
            if several:
                yield f"{label}:{line}", found
            else:
                first = (line, found)
            del found
        if first is not None:
            where = label if not isinstance(first[1], Exception) else f"{label}:{first[0]}"
            yield where, first[1]

    def _resume(self, position: int, problem: Exception) -> tuple[_NotUtf8 | Exception, int]:
        """After a document that is not JSON (at ``position``): its problem (or the first
        byte in it that was not UTF-8), and where reading goes on, the next line opening an
        object (the text before it is dropped as it is searched)."""
        bad: _NotUtf8 | None = None
        while True:
            resume = _NEXT_DOCUMENT.search(self.text, position)
            bad = bad or self.bad_byte(position, resume.start() if resume is not None else len(self.text))
            if resume is not None:
                return bad or problem, resume.end()
            position = len(self.text)
            position -= self.drop(position)
            if not self.more():
                return bad or problem, position
            if self.text.startswith("{"):  # (the text read before ended a line)
                return bad or problem, 0


def _skip_between(text: str, position: int) -> int:
    match = _BETWEEN_DOCUMENTS.match(text, position)
    return match.end() if match is not None else position


#: Strings longer than this are kept as they are, not shared (see :meth:`_Reader.share`).
_SHARED_LENGTH = 64


class _Reader:
    """The spans of one document (``where``: the file, or file:line), and what is wrong
    in it, each problem named by its field path."""

    def __init__(self, where: str, shared: dict[str, str] | None = None) -> None:
        self.where = where
        self.spans: list[ExportedSpan] = []
        self.problems: list[str] = []
        self._shared: dict[str, str] = {} if shared is None else shared

    def share(self, text: str) -> str:
        """``text``, as the one string object kept for it in the file: attribute keys, trace
        ids, names and short values repeat span after span (the 64,000 demo spans of an 82 MB
        file: 56 MB instead of 157 MB)."""
        if len(text) > _SHARED_LENGTH:
            return text
        return self._shared.setdefault(text, text)

    def problem(self, at: _Location, message: str) -> None:
        self.problems.append(f"{self.where}: {dotted_path(at)}: {message}")

    def parse(self, model: type[_Model], value: object, at: _Location) -> _Model | None:
        try:
            return model.model_validate(value)
        except ValidationError as exc:
            for error in exc.errors():
                self.problem((*at, *error["loc"]), error["msg"])
            return None

    def id(self, text: str, size: int, at: _Location, *, short_hex: bool = False) -> str | None:
        found = _id(text.zfill(2 * size) if short_hex and _is_hex(text) else text, size)
        if found is None:
            shown = text if len(text) <= 40 else text[:40] + "..."
            self.problem(
                at,
                f"not a {'trace' if size == 16 else 'span'} id: {shown!r} (expected {2 * size} hex"
                f" digits or base64 of {size} bytes, not all zero)",
            )
        return found

    def document(self, document: object) -> None:
        if isinstance(document, dict):
            if isinstance(document.get("result"), dict):  # Jaeger v2 API (api/v3)
                document = document["result"]
            elif isinstance(document.get("trace"), dict):  # Tempo API v2
                document = document["trace"]
        if isinstance(document, dict) and "resourceSpans" in document:
            self.otlp(document["resourceSpans"], "resourceSpans")
        elif isinstance(document, dict) and "batches" in document:  # Tempo API v1
            self.otlp(document["batches"], "batches")
        elif isinstance(document, dict) and "data" in document:  # Jaeger UI and its /api/traces
            self.jaeger(document)
        elif isinstance(document, dict) and "traceID" in document and "spans" in document:  # one Jaeger trace
            self.jaeger_trace(document, ())
        else:
            self.problems.append(f"{self.where}: not OTLP JSON: expected an object with 'resourceSpans'")

    def otlp(self, resources: object, key: str) -> None:
        if resources is None:
            return
        if not isinstance(resources, list):
            self.problem((key,), "Input should be a valid list")
            return
        for r, item in enumerate(resources):
            resource = self.parse(_ResourceSpans, item, (key, r))
            if resource is None:
                continue
            scope_key = "scopeSpans"
            groups = resource.scopeSpans
            if groups is None and resource.instrumentationLibrarySpans is not None:
                scope_key, groups = "instrumentationLibrarySpans", resource.instrumentationLibrarySpans
            for s, group_item in enumerate(groups or []):
                group_at = (key, r, scope_key, s)
                group = self.parse(_ScopeSpans, group_item, group_at)
                if group is not None:
                    scope = group.scope if group.scope is not None else group.instrumentationLibrary
                    name, version = (scope.name, _version(scope.version)) if scope is not None else (None, None)
                    for i, span in enumerate(group.spans or []):
                        self.otlp_span(span, (*group_at, "spans", i), name, version)

    def otlp_span(self, value: object, at: _Location, scope: str | None, version: str | None = None) -> None:
        span = self.parse(_Span, value, at)
        if span is None:
            return
        trace_id = self.id(span.traceId, 16, (*at, "traceId"))
        span_id = self.id(span.spanId, 8, (*at, "spanId"))
        parent = self.id(span.parentSpanId, 8, (*at, "parentSpanId")) if span.parentSpanId else None
        if trace_id is None or span_id is None or (span.parentSpanId and parent is None):
            return
        attributes: dict[str, object] = {}
        for k, item in enumerate(span.attributes):
            self.otlp_attribute(attributes, item, (*at, "attributes", k))
        self.spans.append(
            ExportedSpan(
                self.share(trace_id),
                span_id,
                parent,
                self.share(span.name or ""),
                self.share(scope) if scope else None,
                attributes,
                _kind(span.kind),
                _nanos(span.startTimeUnixNano),
                _nanos(span.endTimeUnixNano),
                self.share(version) if version is not None else None,
                _dropped_count(span.droppedAttributesCount),
            )
        )

    def put(self, attributes: dict[str, object], key: str, value: object, at: _Location) -> None:
        """``attributes[key] = value``, unless the key came before with another value: OTLP
        keys are unique, so the file is named, and a cost given twice is not known."""
        key = self.share(key)
        if isinstance(value, str):
            value = self.share(value)
        if key in attributes and attributes[key] != value:
            self.problem(at, f"attribute {key!r} given twice with different values")
            if key.startswith(_COST_PREFIX):
                value = _Unreadable("given twice with different values")
        attributes[key] = value

    def otlp_attribute(self, attributes: dict[str, object], item: object, at: _Location) -> None:
        """One OTLP attribute into ``attributes``. One that cannot be read is named and left
        out, but a ``gen_ai.cost.*`` one is kept as :class:`_Unreadable`, as is such an
        attribute whose AnyValue is not one scalar or array (no value, bytes, a key-value
        list): the span's cost is not known, and the report must say so."""
        try:
            pair = _KeyValue.model_validate(item)
        except ValidationError as exc:
            errors = exc.errors()
            for error in errors:
                self.problem((*at, *error["loc"]), error["msg"])
            key = item.get("key") if isinstance(item, dict) else None
            if isinstance(key, str) and key.startswith(_COST_PREFIX):
                attributes[key] = _Unreadable("; ".join(error["msg"] for error in errors))
            return
        if pair.key.startswith(_COST_PREFIX):
            self.put(attributes, pair.key, pair.value.cost_value(), at)
        else:
            self.put(attributes, pair.key, pair.value.plain(), at)

    def jaeger(self, document: object) -> None:
        answer = self.parse(_JaegerAnswer, document, ())
        if answer is None:
            return
        for e, error in enumerate(answer.errors or []):
            message = error.get("msg") if isinstance(error, dict) else None
            said = message if isinstance(message, str) else repr(error)
            self.problem(("errors", e), f"Jaeger answered: {said}")
        for t, trace in enumerate(answer.data or []):
            self.jaeger_trace(trace, ("data", t))

    def jaeger_trace(self, value: object, at: _Location) -> None:
        trace = self.parse(_JaegerTrace, value, at)
        if trace is not None:
            for i, span in enumerate(trace.spans or []):
                self.jaeger_span(span, (*at, "spans", i), trace.traceID or "")

    def jaeger_span(self, value: object, at: _Location, trace_text: str) -> None:
        span = self.parse(_JaegerSpan, value, at)
        if span is None:
            return
        trace_id = self.id(span.traceID or trace_text, 16, (*at, "traceID"), short_hex=True)
        span_id = self.id(span.spanID, 8, (*at, "spanID"), short_hex=True)
        good = trace_id is not None and span_id is not None
        parent: str | None = None
        for r, reference in enumerate(span.references or []):
            # As Jaeger reads the parent: the first CHILD_OF in the same trace.
            if (reference.refType or "").upper() != "CHILD_OF":
                continue
            if reference.traceID and _id(reference.traceID.zfill(32), 16) != trace_id:
                continue
            parent = self.id(reference.spanID, 8, (*at, "references", r, "spanID"), short_hex=True)
            good = good and parent is not None
            break
        scope: str | None = None
        version: str | None = None
        kind: str | None = None
        attributes: dict[str, object] = {}
        for k, item in enumerate(span.tags or []):
            # As for OTLP attributes: a bad tag loses itself, not the span; a bad cost tag
            # (or one in base64) is kept as _Unreadable, so the span is never priced at $0.
            tag = self.parse(_JaegerTag, item, (*at, "tags", k))
            if tag is None:
                key = item.get("key") if isinstance(item, dict) else None
                if isinstance(key, str) and key.startswith(_COST_PREFIX):
                    attributes[key] = _Unreadable("not a Jaeger tag")
                continue
            try:
                plain = _tag_value(tag.type, tag.value)
            except ValueError as exc:
                self.problem((*at, "tags", k, "value"), str(exc))
                if tag.key.startswith(_COST_PREFIX):
                    attributes[tag.key] = _Unreadable(str(exc))
                continue
            if tag.key in _JAEGER_SCOPE_TAGS:
                if tag.key in _JAEGER_SCOPE_NAMES and scope is None:
                    scope = str(plain) or None
                elif tag.key not in _JAEGER_SCOPE_NAMES and version is None:
                    version = _version(plain)
            elif tag.key == _JAEGER_KIND_TAG:
                kind = kind or _kind(plain)
            elif tag.key.startswith(_COST_PREFIX) and tag.type == "binary":
                self.put(attributes, tag.key, _Unreadable("a binary value"), (*at, "tags", k))
            else:
                self.put(attributes, tag.key, plain, (*at, "tags", k))
        if good and trace_id is not None and span_id is not None:
            start = _nanos(span.startTime, 1000)
            duration = _nanos(span.duration, 1000) or (0 if span.duration in (0, "0") else None)
            end = start + duration if start is not None and duration is not None else None
            self.spans.append(
                ExportedSpan(
                    self.share(trace_id),
                    span_id,
                    parent,
                    self.share(span.operationName or ""),
                    self.share(scope) if scope is not None else None,
                    attributes,
                    kind,
                    start,
                    end,
                    self.share(version) if version is not None else None,
                )
            )


def _tag_value(kind: str, value: object) -> object:
    """A Jaeger tag's value as the attribute it was: ``type`` is string, bool, int64,
    float64 or binary (base64, kept as text)."""
    if kind in ("string", "binary") and isinstance(value, str):
        return value
    if kind == "bool" and isinstance(value, bool):
        return value
    if not isinstance(value, bool):
        try:
            if kind == "int64" and isinstance(value, int):
                return _int64(value)
            if kind == "int64" and isinstance(value, str | float) and float(value).is_integer():
                return _int64(int(float(value)) if isinstance(value, float) else int(value))
            if kind == "float64" and isinstance(value, int | float | str):
                return float(value)
        except (ValueError, OverflowError):
            pass
    if kind not in ("string", "binary", "bool", "int64", "float64"):
        raise ValueError(f"unknown tag type {kind!r}")
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "..."
    raise ValueError(f"not a {kind} value: {shown}")


def _version(value: object) -> str | None:
    """An instrumentation scope's version as a file gives it: text, else not known."""
    return value if isinstance(value, str) and value else None


def _is_hex(text: str) -> bool:
    return bool(text) and all(char in string.hexdigits for char in text)


def _id(text: str, size: int) -> str | None:
    """Hex, as OTLP JSON has it, or base64, as protobuf's JSON mapping (Tempo) has it."""
    if len(text) == 2 * size and _is_hex(text):
        raw = bytes.fromhex(text)
    else:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return None
    return raw.hex() if len(raw) == size and any(raw) else None


# ------------------------------------------------------------------ summing


def report_traces(spans: Iterable[ExportedSpan], *, catalog: Catalog | None = None) -> list[TraceReport]:
    """One report per trace, the most expensive first. A span (trace and span id) counts
    once: the first record of it; the others are counted as ``duplicates_ignored``.

    ``catalog`` resolves model names for the rule on sibling records with no response id
    (two spellings of one model); by default the shipped catalog and the files of
    ``GENAI_COST_PRICING_FILE``, as the processor resolves them, loaded only for a trace
    that has two such records to compare."""
    by_trace: dict[str, dict[str, ExportedSpan]] = {}
    duplicates: dict[str, int] = {}
    for span in spans:
        trace = by_trace.setdefault(span.trace_id, {})
        if span.span_id in trace:
            duplicates[span.trace_id] = duplicates.get(span.trace_id, 0) + 1
        else:
            trace[span.span_id] = span
    models = _CallModels(catalog)
    reports = [
        _report(trace_id, list(trace.values()), duplicates.get(trace_id, 0), models)
        for trace_id, trace in by_trace.items()
    ]
    reports.sort(key=lambda report: (-report.total_usd, report.trace_id))
    return reports


def _report(trace_id: str, spans: list[ExportedSpan], duplicates: int, models: _CallModels) -> TraceReport:
    ids = {span.span_id for span in spans}
    roots = [span for span in spans if span.parent_span_id not in ids]
    root = min(roots, key=lambda span: (span.parent_span_id is not None, span.name)) if roots else spans[0]
    report = TraceReport(trace_id, root.name, spans=len(spans), duplicates_ignored=duplicates)
    if root.start_ns is not None:
        report.start = _iso(root.start_ns)
        if root.end_ns is not None and root.end_ns >= root.start_ns:
            report.duration_s = round((root.end_ns - root.start_ns) / 1e9, 6)
    usages = {span.span_id: _usage(span) for span in spans}
    adk_partials, adk_calls = _adk_records(spans, usages)
    wrappers = _wrappers(spans, usages, adk_partials, adk_calls)
    first_records = _first_records(spans, usages, wrappers, adk_partials, models)
    also: dict[str, list[str]] = {}
    for second, first in first_records.items():
        # Named on the record that is listed: a first record may itself be a second one (a
        # wrapper that ended first, and a twin of another record of its call).
        seen = {second}
        while first in first_records and first not in seen:
            seen.add(first)
            first = first_records[first]
        also.setdefault(first, []).append(second)
    for span in spans:
        attributes = span.attributes
        if attributes.get(A.TRACE_COMPLETE) is False:
            report.complete = False
        if _INFRA_KEY in attributes:  # known per trace only, so written on the local root
            infra = attributes[_INFRA_KEY]
            amount = None if isinstance(infra, _Unreadable) else usd_amount(infra)
            if amount is None:  # a share of the trace's cost that cannot be read is no $0
                why = infra.why if isinstance(infra, _Unreadable) else f"not a USD amount: {infra!r}"
                report.unpriced.append(
                    SpanNote(span.span_id, span.name, A.REASON_INVALID_COST, f"{_INFRA_KEY} could not be read: {why}")
                )
            elif amount:
                _add_cost(report, A.CATEGORY_INFRA, amount)
        usage = usages[span.span_id]
        cost = _recorded_cost(attributes)
        if cost is not None and cost.total_usd is not None:
            total = cost.total_usd
            category = cost.category
            _add_cost(report, category, total)
            totals = report.by_entry.setdefault(_entry(attributes, usage, category), CallTotals())
            totals.calls += 1
            totals.usd += total
            tokens = usage.usage
            if tokens is not None:
                totals.input_tokens += tokens.input_tokens
                totals.output_tokens += tokens.output_tokens
                totals.cache_read_tokens += tokens.cache_read_tokens
                totals.cache_write_tokens += tokens.cache_write_tokens
                totals.reasoning_tokens += tokens.reasoning_tokens
        elif cost is not None:  # as the roll-up reads it: unpriced, never $0
            reason = cost.reason or RECORDED_REASON_UNKNOWN
            report.unpriced.append(SpanNote(span.span_id, span.name, reason, cost.detail))
        elif (
            _billable(usage.role)
            and span.span_id not in wrappers
            and span.span_id not in first_records
            and not _seen(attributes)
        ):
            what = " ".join(filter(None, (usage.provider, usage.model or usage.tool_name)))
            if span.span_id in also:
                what += f" (also recorded as span {', '.join(also[span.span_id])})"
            report.not_priced_here.append(SpanNote(span.span_id, span.name, _NO_COST_ATTRIBUTES, what.strip()))
    report.by_category = dict(sorted(report.by_category.items(), key=lambda item: (-item[1], item[0])))
    report.by_entry = dict(sorted(report.by_entry.items(), key=lambda item: (-item[1].usd, item[0])))
    return report


_INFRA_KEY = A.trace_category_key(A.CATEGORY_INFRA)
#: The reason of a billable span no genai-cost saw (``NO COST ATTRIBUTES``): the report's,
#: not a ``gen_ai.cost.unpriced_reason`` (nothing was written on the span).
_NO_COST_ATTRIBUTES = "no_cost_attributes"


def _usage(span: ExportedSpan) -> SpanUsage:
    """The span read as the processor reads it (:func:`genai_cost.usage.read_span_usage`)."""
    return read_span_usage(
        span.attributes, span.scope, client=span.kind == "client", dropped_attributes=span.dropped_attributes
    )


def _entry(attributes: Mapping[str, object], usage: SpanUsage, category: str) -> str:
    """The ``by_entry`` key of a priced span: its catalog entry (``openai/gpt-4o``,
    ``tool/web_search``), or, for a cost the span carried itself with no catalog entry
    (no ``gen_ai.cost.pricing.id``), its provider and model (or tool) marked
    ``(span cost)``; its category only when it names neither."""
    pricing_id = attributes.get(A.COST_PRICING_ID)
    if pricing_id:
        return str(pricing_id)
    if usage.model:
        name = "/".join(filter(None, (usage.provider, usage.model)))
    elif usage.tool_name:
        name = f"tool/{usage.tool_name}"
    else:
        return category
    return f"{name} (span cost)"


def _billable(role: Role) -> bool:
    return role in (Role.LLM, Role.EMBEDDING, Role.TOOL, Role.RETRIEVAL)


def _seen(attributes: Mapping[str, object]) -> bool:
    """Whether genai-cost wrote on this span (a second record of a call, say)."""
    return any(key.startswith("gen_ai.cost.") for key in attributes)


def _recorded_cost(attributes: Mapping[str, object]) -> RecordedCost | None:
    """What the span says it cost, read as the roll-up reads it
    (:func:`genai_cost.recorded_cost.recorded_cost`), unless one of its ``gen_ai.cost.*``
    attributes could not be read from the file: then it is unpriced (``invalid_cost``)."""
    for key, value in attributes.items():
        if isinstance(value, _Unreadable) and key.startswith(_COST_PREFIX):
            why = f"{key} could not be read: {value.why}"
            return RecordedCost(RECORDED_CATEGORY_OTHER, None, A.REASON_INVALID_COST, why)
    return recorded_cost(attributes)


_INFERENCE = (Role.LLM, Role.EMBEDDING)


def _adk_records(spans: list[ExportedSpan], usages: Mapping[str, SpanUsage]) -> tuple[dict[str, str], set[str]]:
    """Google ADK's records of its model calls (:func:`genai_cost.records.adk_record`, as
    the processor reads them): ADK 1.x's ``generate_content`` spans, each a second record of
    the ``call_llm`` above it (span id -> that parent's id), and ADK's ``call_llm`` spans."""
    partials: dict[str, str] = {}
    calls: set[str] = set()
    for span in spans:
        usage = usages[span.span_id]
        if span.scope == ADK_SCOPE and usage.role in _INFERENCE:
            record = adk_record(span.name, _ScopeOf(span.scope_version), usage.operation)
            if record == ADK_PARTIAL and span.parent_span_id is not None:
                partials[span.span_id] = span.parent_span_id
            elif record == ADK_CALL:
                calls.add(span.span_id)
    return partials, calls


class _ScopeOf(NamedTuple):
    """A span's instrumentation scope, as :func:`genai_cost.records.adk_record` reads it."""

    version: str | None


def _wrappers(
    spans: list[ExportedSpan],
    usages: Mapping[str, SpanUsage],
    adk_partials: Mapping[str, str],
    adk_calls: set[str],
) -> set[str]:
    """Span ids of the inference spans that had an inference call below them when they
    ended (at any depth, through any span): wrappers, never priced. A tool or retrieval
    span with a model call inside it is still a call, priced as one.

    The processor meets spans as they end, and a call below a span reaches it only through
    spans that ended before their parent (:func:`_ended_before`). A span whose calls below
    all ended after it (a framework's span returning a stream still being read) was priced
    as the call, so it is no wrapper here either (:func:`_first_records` names the spans
    below it as its second records). Spans with no end time in the file cannot be ordered:
    they are taken to end before their parent, as nested spans do.

    As in the processor, ADK 1.x's second record of a call (``adk_partials``) passes
    nothing up, and an ADK ``call_llm`` (``adk_calls``) is a wrapper only with a call among
    its children: what ADK 1.x runs under it deeper down (tools, sub-agents) came after
    its own call."""
    by_id = {span.span_id: span for span in spans}
    above: set[str] = set()  # spans with a call below them
    directly: set[str] = set()  # ... among their children
    for span in spans:
        if usages[span.span_id].role in _INFERENCE and span.span_id not in adk_partials:
            child = span
            parent = by_id.get(child.parent_span_id) if child.parent_span_id is not None else None
            if parent is not None and _ended_before(child, parent):
                directly.add(parent.span_id)
            while parent is not None and parent.span_id not in above and _ended_before(child, parent):
                above.add(parent.span_id)
                if parent.span_id in adk_partials:
                    break
                child = parent
                parent = by_id.get(child.parent_span_id) if child.parent_span_id is not None else None
    return {
        span_id
        for span_id in above
        if usages[span_id].role in _INFERENCE
        and span_id not in adk_partials
        and (span_id in directly or span_id not in adk_calls)
    }


def _ended_before(child: ExportedSpan, parent: ExportedSpan) -> bool:
    """Whether ``child`` ended before its ``parent``, so that the processor had seen it
    when the parent ended. Without both end times, and at the same time, it did: nested
    spans end so, and the file cannot say otherwise."""
    return child.end_ns is None or parent.end_ns is None or child.end_ns <= parent.end_ns


#: How far up through spans still open a call looks for a wrapper priced before it ended:
#: the processor's ``WRAPPER_DEPTH`` (``genai_cost._call_records``), not imported (that
#: module imports OpenTelemetry, which the report runs without).
_WRAPPER_DEPTH = 4


def _wrapper_ended_first(span: ExportedSpan, by_id: Mapping[str, ExportedSpan], leaves: set[str]) -> str | None:
    """The span id of the call above ``span`` that ended before it and was priced as the
    leaf (in ``leaves``): its parent, or an ancestor reached through spans still open when
    ``span`` ended (a middleware span between a wrapper and the call it wraps), up to
    :data:`_WRAPPER_DEPTH` levels up, as ``CallRecords.wrapper_ended_first`` finds
    it; ``None`` when there is none, or when an end time on the way is missing (nothing
    can be said of what was open)."""
    end = span.end_ns
    ancestor_id = span.parent_span_id
    if end is None:
        return None
    for _ in range(_WRAPPER_DEPTH):
        ancestor = by_id.get(ancestor_id) if ancestor_id is not None else None
        if ancestor is None or ancestor.end_ns is None:
            return None
        if ancestor.end_ns < end:  # ended before it: the processor knew only what it was
            return ancestor_id if ancestor_id in leaves else None
        ancestor_id = ancestor.parent_span_id  # still open: the processor looked above it
    return None


def _first_records(
    spans: list[ExportedSpan],
    usages: Mapping[str, SpanUsage],
    wrappers: set[str],
    adk_partials: Mapping[str, str],
    models: _CallModels,
) -> dict[str, str]:
    """The second records of a call, each with the span id of its first record: the
    processor's rules for one call recorded twice (docs/attributes.md, "One call, two
    records"), applied to the trace's leaf inference spans as the processor meets them, in
    the order they ended (``CallRecords.first_record``, ``genai_cost._call_records``):

    - two records with the same ``gen_ai.response.id`` are one call, unless one
      instrumentation scope wrote both, one after the other (a server that reuses ids);
    - else, siblings for the same model (as the catalog knows it) and the same input and
      output token counts are one call when different scopes wrote them and they overlap
      in time (a provider SDK's span under a Logfire stream request counts as a sibling of
      the request, lasting until the log that records the stream);
    - ADK 1.x's ``generate_content`` is a second record of the ``call_llm`` above it;
    - a call that ends under an inference span that ended before it and was priced as the
      call (a framework's span that returned while the stream it wraps was still read, see
      :func:`_wrappers`; found above spans still open in between, as the processor finds
      it: :func:`_wrapper_ended_first`) is a second record of that span's call. Only a span
      that carries usage or a cost stands for the call below it: one without would take
      the call's cost with it, so the processor flags it and prices the call below.

    The first to end is the call, except for ADK's pair, where ``call_llm`` is. Spans with
    no end time cannot be ordered: they are never taken for a wrapper that ended first."""
    seconds = dict(adk_partials)
    by_id = {span.span_id: span for span in spans}
    #: Calls priced as leaves so far that carry usage or a cost (``CallRecords._leaf_calls``).
    leaves: set[str] = set()
    by_response: dict[str, CallRecord] = {}
    twins = _Twins(models)
    #: Span id -> its parent's, of Logfire's request spans of streamed calls that had ended.
    stream_requests: dict[str, str] = {}
    for span in sorted(spans, key=lambda span: span.end_ns or 0):  # as the processor meets them
        span_id, parent = span.span_id, span.parent_span_id
        usage = usages[span_id]
        if usage.role is Role.OTHER:
            if parent is not None and span.scope in USAGE_ON_STREAM_LOG_SCOPES:
                stream_requests[span_id] = parent
            continue
        if usage.role not in _INFERENCE or span_id in wrappers or span_id in adk_partials:
            continue
        wrapper = _wrapper_ended_first(span, by_id, leaves)
        if wrapper is not None:
            seconds[span_id] = wrapper
            continue
        if usage.usage is not None or usage.reported_cost is not None:
            leaves.add(span_id)
        record = CallRecord(span_id, span.scope or "", span.start_ns or 0, span.end_ns or 0)
        if usage.response_id is not None:
            first = by_response.setdefault(usage.response_id, record)
            if first is not record:
                if same_call_by_response_id(first, record):
                    seconds[span_id] = first.span_id
                    continue
                by_response[usage.response_id] = record  # two calls: the later is remembered
        tokens = usage.usage
        if tokens is None or parent is None:
            continue
        request_parent = stream_requests.get(parent)
        if request_parent is not None:
            parent, record = request_parent, record._replace(end=UNTIL_ITS_LOG)
        twin = twins.first((parent, tokens.input_tokens, tokens.output_tokens), usage, record)
        if twin is not None:
            seconds[span_id] = twin
    return seconds


class _Twins:
    """The twin rule's first records of a trace, by parent, model (as the catalog knows
    it) and token counts: ``CallRecords.first_record``'s, but a model name is
    resolved only once two records have the same parent and counts, so that a report
    loads the catalog only when it has twins to tell apart."""

    def __init__(self, models: _CallModels) -> None:
        self._models = models
        #: (parent, input, output) -> its one record so far (with its usage, the model not
        #: resolved yet), or its records by model.
        self._records: dict[tuple[str, int, int], tuple[SpanUsage, CallRecord] | dict[str | None, CallRecord]] = {}

    def first(self, where: tuple[str, int, int], usage: SpanUsage, record: CallRecord) -> str | None:
        """The span id of the first record of the call ``record`` is a twin of, or ``None``
        (then ``record`` is the one a later twin is compared with)."""
        found = self._records.get(where)
        if found is None:
            self._records[where] = (usage, record)
            return None
        if isinstance(found, tuple):
            found = self._records[where] = {self._models.key(found[0]): found[1]}
        model = self._models.key(usage)
        twin = found.get(model)
        if twin is not None and twin_records(twin, record):
            return twin.span_id
        found[model] = record  # another call, one after the other: the later is remembered
        return None


class _CallModels:
    """Model names as the catalog knows them (:func:`genai_cost.records.call_model`), with
    the catalog loaded when first needed."""

    def __init__(self, catalog: Catalog | None) -> None:
        self._catalog = catalog

    def key(self, usage: SpanUsage) -> str | None:
        if usage.model is None:
            return None
        if self._catalog is None:
            self._catalog = _runtime_catalog()
        return call_model(self._catalog, usage.model, usage.provider)


def _runtime_catalog() -> Catalog:
    """The catalog the processor resolves model names with: the shipped one and the files
    of ``GENAI_COST_PRICING_FILE``, a broken one left out as the processor leaves it out."""
    catalog, _skipped = Catalog.load_lenient(env_pricing_files(), cache_dir=user_cache_dir())
    return catalog


def _add_cost(report: TraceReport, category: str, usd: float) -> None:
    report.total_usd += usd
    report.by_category[category] = report.by_category.get(category, 0.0) + usd


def _iso(nanos: int) -> str | None:
    """A time in nanoseconds since the epoch as ISO 8601 in UTC, to the millisecond."""
    try:
        moment = dt.datetime.fromtimestamp(nanos // 1_000_000_000, tz=dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    moment = moment.replace(microsecond=nanos // 1000 % 1_000_000)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _usd(amount: float) -> float:
    return round(amount, USD_DECIMALS)


def _totals_dict(totals: CallTotals) -> dict[str, Any]:
    return {
        "calls": totals.calls,
        "usd": _usd(totals.usd),
        "input_tokens": totals.input_tokens,
        "output_tokens": totals.output_tokens,
        "cache_read_tokens": totals.cache_read_tokens,
        "cache_write_tokens": totals.cache_write_tokens,
        "reasoning_tokens": totals.reasoning_tokens,
    }


def _note_dict(note: SpanNote) -> dict[str, str]:
    return {"span_id": note.span_id, "name": note.name, "reason": note.reason, "detail": note.detail}


@dataclass(frozen=True, slots=True)
class ReportSummary:
    """The totals of all the traces reported, whether listed (``--top``) or not: the one
    summary both the text and the JSON print."""

    traces: int
    total_usd: float
    #: category -> USD, the most first (then by name).
    by_category: dict[str, float]
    #: Spans flagged unpriced, in all traces.
    unpriced_spans: int
    #: Billable spans with no cost attribute (never seen by genai-cost), in all traces.
    not_priced_here_spans: int
    #: Ids of the traces whose root said spans were still open as it ended.
    incomplete_traces: list[str]
    duplicates_ignored: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "traces": self.traces,
            "total_usd": _usd(self.total_usd),
            "by_category": {category: _usd(usd) for category, usd in self.by_category.items()},
            "unpriced_spans": self.unpriced_spans,
            "not_priced_here_spans": self.not_priced_here_spans,
            "incomplete_traces": list(self.incomplete_traces),
            "duplicates_ignored": self.duplicates_ignored,
        }


def summarize(reports: Sequence[TraceReport]) -> ReportSummary:
    """The totals of ``reports`` (all the traces reported, after ``--trace``)."""
    categories: dict[str, float] = {}
    for report in reports:
        for category, usd in report.by_category.items():
            categories[category] = categories.get(category, 0.0) + usd
    return ReportSummary(
        traces=len(reports),
        total_usd=sum(report.total_usd for report in reports),
        by_category=dict(sorted(categories.items(), key=lambda item: (-item[1], item[0]))),
        unpriced_spans=sum(len(report.unpriced) for report in reports),
        not_priced_here_spans=sum(len(report.not_priced_here) for report in reports),
        incomplete_traces=[report.trace_id for report in reports if not report.complete],
        duplicates_ignored=sum(report.duplicates_ignored for report in reports),
    )


# ------------------------------------------------------------------ output


def render_json(reports: Sequence[TraceReport], shown: Sequence[TraceReport], problems: Sequence[str]) -> str:
    """``genai-cost report --json``: ``reports`` are the traces reported (after ``--trace``),
    ``shown`` the ones listed (``--top``), ``problems`` those of reading the files. The
    top level holds the totals of all ``reports`` (:func:`summarize`)."""
    document = {
        **summarize(reports).as_dict(),
        "problems": list(problems),
        "shown": [report.as_dict() for report in shown],
    }
    return json.dumps(document, indent=2)


def _money(usd: float, decimals: int) -> str:
    """``$0.1420`` (``decimals`` 4); an amount that is not zero but rounds to zero is
    ``<$0.0001``, never ``$0.0000``: a cost must not read as free."""
    shown = f"${usd:.{decimals}f}"
    if usd > 0 and float(shown[1:]) == 0:
        return f"<${10**-decimals:.{decimals}f}"
    return shown


def render_text(reports: Sequence[TraceReport], shown: Sequence[TraceReport]) -> str:
    """``genai-cost report``: the totals of ``reports``, then each of ``shown`` in detail."""
    summary = summarize(reports)
    parts = ", ".join(f"{category} {_money(usd, 4)}" for category, usd in summary.by_category.items())
    incomplete = len(summary.incomplete_traces)
    lines = [
        f"{summary.traces} trace(s), {_money(summary.total_usd, 4)} in all"
        + (f" ({parts})" if parts else "")
        + f"; {summary.unpriced_spans} unpriced span(s)"
        + f"; {summary.not_priced_here_spans} billable span(s) without cost attributes"
        + (f"; {incomplete} incomplete trace(s)" if incomplete else "")
        + (f"; {summary.duplicates_ignored} duplicate span record(s) ignored" if summary.duplicates_ignored else "")
    ]
    if len(shown) < len(reports):
        lines.append(f"the {len(shown)} most expensive:")
    for report in shown:
        lines.append("")
        when = ""
        if report.start is not None:
            when += f"  start {report.start}"
        if report.duration_s is not None:
            when += f"  duration {report.duration_s:.3f} s"
        flag = "" if report.complete else "  (spans were still open when the root ended)"
        if report.duplicates_ignored:
            flag += f"  ({report.duplicates_ignored} duplicate span record(s) ignored)"
        lines.append(f"trace {report.trace_id}  {report.root_name!r}  {_money(report.total_usd, 6)}{when}{flag}")
        if report.by_category:
            lines.append(
                "  " + "  ".join(f"{category} {_money(usd, 6)}" for category, usd in report.by_category.items())
            )
        for entry, calls in report.by_entry.items():
            tokens = ""
            if calls.input_tokens or calls.output_tokens:
                tokens = (
                    f"  in {calls.input_tokens:,}  out {calls.output_tokens:,}  cache read {calls.cache_read_tokens:,}"
                    + (f"  cache write {calls.cache_write_tokens:,}" if calls.cache_write_tokens else "")
                    + (f"  reasoning {calls.reasoning_tokens:,}" if calls.reasoning_tokens else "")
                )
            lines.append(f"  {entry:<40} {calls.calls:>4} call(s)  {_money(calls.usd, 6)}{tokens}")
        for note in report.unpriced:
            lines.append(
                f"  UNPRICED {note.name!r} (span {note.span_id}): {note.reason}"
                + (f": {note.detail}" if note.detail else "")
            )
        for note in report.not_priced_here:
            lines.append(
                f"  NO COST ATTRIBUTES {note.name!r} (span {note.span_id})"
                + (f" {note.detail}" if note.detail else "")
                + ": the process that emitted it did not run genai-cost"
            )
    return "\n".join(lines)
