"""Span files: the spans a process already exported, read for ``genai-cost report``.

A report works after the fact, from the ``gen_ai.cost.*`` attributes on spans already
exported (:mod:`genai_cost.report` sums them), and those spans come as files: OTLP JSON as
the collector's ``file`` exporter writes it (one document a line), the same documents
pretty-printed one after another, one document as Jaeger's or Tempo's API answers it,
the Jaeger UI's own JSON (``{"data": [trace...]}``), or the stdout of a process run with
``OTEL_TRACES_EXPORTER=console`` (the SDK's ``ConsoleSpanExporter``: one pretty-printed
object a span, the application's own output between them), the one span format a user of
``opentelemetry-instrument`` has with no collector; a file, or standard input
(``genai-cost report -``). This module reads them all into :class:`ExportedSpan`, the one
shape the report sums.

It is lenient, because other programs wrote these files, and they get concatenated and cut
short on the way: a bad field loses only its span, a bad attribute value only that
attribute, a document that is not JSON or not UTF-8 (or text between the spans) only
itself, and each problem is named by file, line and field (:class:`SpanFileError`, which
carries the spans of the rest). A ``gen_ai.cost.*`` attribute that cannot be read is the
exception: it is kept, as :class:`Unreadable`, so that the report lists its span as
unpriced, never as priced at $0.
A file that is not text at all (OTLP protobuf, a compressed file) is named as such; but
text in UTF-16 (what Windows PowerShell's ``>`` writes) is read as text, and a line printed
in another encoding (a Latin-1 log line before the spans) loses only itself.

It streams, because span files grow large (64,000 demo spans make 82 MB, one document a
line): the file is read a chunk of whole lines (1 MiB) at a time and each document is turned
into spans before the next is parsed, with the strings that repeat from span to span kept
once per file, so that memory follows the spans kept, not the size of the file
(docs/performance.md, "genai-cost report on large files").

Pure Python, no OpenTelemetry import: it reads the JSON with pydantic.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import datetime as dt
import json
import re
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, BinaryIO, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError

from .pricing.files import dotted_path

__all__ = [
    "COST_PREFIX",
    "ExportedSpan",
    "SpanFileError",
    "Unreadable",
    "read_span_file",
    "read_span_stream",
]


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
    #: A ``gen_ai.cost.*`` value the file holds but that could not be read is an
    #: :class:`Unreadable`.
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


#: The attributes genai-cost writes on a span it priced: one it cannot read is not dropped
#: (the span would pass for a call it never saw, or for $0) but kept as :class:`Unreadable`.
COST_PREFIX = "gen_ai.cost."


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A ``gen_ai.cost.*`` attribute in a span file whose value could not be read (not of
    its type, no value, bytes, a key-value list, two values): the report
    (:mod:`genai_cost.report`) lists its span as unpriced (``invalid_cost``), never as
    priced at $0."""

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
        else :class:`Unreadable` (such an AnyValue is never a cost genai-cost wrote)."""
        kinds = [name for name in _ANY_VALUE_KINDS if getattr(self, name) is not None]
        if not kinds:
            return Unreadable("no value")
        if len(kinds) > 1:
            return Unreadable(f"more than one value: {', '.join(kinds)}")
        if kinds[0] in ("bytesValue", "kvlistValue"):
            return Unreadable(f"a {kinds[0]}")
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


# A span as the OpenTelemetry SDK's ConsoleSpanExporter prints it (``ReadableSpan.to_json``):
# ids as ``0x`` and hex, the kind as ``SpanKind.CLIENT``, times as ISO 8601, attributes as
# a JSON object; no instrumentation scope and no count of dropped attributes.
class _ConsoleContext(_Lenient):
    trace_id: str
    span_id: str


class _ConsoleSpan(_Lenient):
    context: _ConsoleContext
    name: str | None = None
    parent_id: str | None = None
    attributes: dict[str, Any] | None = None  # each read on its own, as OTLP's
    # Read if they can be (see _kind, _iso_nanos), never a reason to lose the span.
    kind: Any = None
    start_time: Any = None
    end_time: Any = None


#: Jaeger keeps the instrumentation scope as tags; the report reads it as the scope.
_JAEGER_SCOPE_NAMES = ("otel.scope.name", "otel.library.name")
_JAEGER_SCOPE_TAGS = frozenset({*_JAEGER_SCOPE_NAMES, "otel.scope.version", "otel.library.version"})
#: Jaeger keeps the OTLP span kind as this tag.
_JAEGER_KIND_TAG = "span.kind"
_KINDS = ("internal", "server", "client", "producer", "consumer")  # OTLP's 1 to 5


def _kind(value: object) -> str | None:
    """A span kind as OTLP JSON writes it (``3``, ``"SPAN_KIND_CLIENT"``), Jaeger's tag
    (``"client"``) or ``ConsoleSpanExporter`` (``"SpanKind.CLIENT"``), as one of
    :data:`_KINDS`; ``None`` when it is none of them."""
    if isinstance(value, int) and not isinstance(value, bool):
        return _KINDS[value - 1] if 1 <= value <= len(_KINDS) else None
    if isinstance(value, str):
        name = value.strip().lower().removeprefix("span_kind_").removeprefix("spankind.")
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


#: A time as ``ConsoleSpanExporter`` prints it (``2025-01-02T03:04:05.123456Z``), or with
#: nanoseconds or an offset.
_ISO_TIME = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:?\d\d)?", re.ASCII | re.IGNORECASE
)


def _iso_nanos(value: object) -> int | None:
    """A time in ISO 8601 in nanoseconds since the epoch (one with no offset is UTC, as the
    SDK writes it: ``Z``); ``None`` when it is no such time. Read exactly, with no float on
    the way, so that the spans of a file read in the order they ended as the SDK knew it (to
    the microsecond the SDK prints)."""
    match = _ISO_TIME.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    try:
        moment = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.timezone.utc)
    except ValueError:
        return None
    seconds = (moment.date().toordinal() - _EPOCH_DAY) * 86400 + hour * 3600 + minute * 60 + second
    offset = match[8] or "Z"
    if offset.upper() != "Z":
        sign = -1 if offset[0] == "-" else 1
        seconds -= sign * (int(offset[1:3]) * 3600 + int(offset[-2:]) * 60)
    nanos = seconds * 1_000_000_000 + int((match[7] or "").ljust(9, "0"))
    return nanos if 0 < nanos < 2**64 else None


_EPOCH_DAY = dt.date(1970, 1, 1).toordinal()


def _console_value(value: object) -> object:
    """An attribute value as ``ConsoleSpanExporter`` prints it (JSON), as the OTLP AnyValue
    of the same attribute reads (:meth:`_AnyValue.plain`): a scalar, an array as a tuple,
    ``null`` as ``None``; a JSON object (which no SDK attribute is) as ``None``, as a
    key-value list reads. Raises ValueError for an integer that is no int64, as OTLP's
    ``intValue`` does."""
    if isinstance(value, int) and not isinstance(value, bool) and not _INT64_MIN <= value <= _INT64_MAX:
        raise ValueError(f"not an int64 value: an integer of {len(str(abs(value)))} digits")
    if isinstance(value, list):
        return tuple(_console_value(item) for item in value)
    return None if isinstance(value, dict) else value


def _console_cost_value(value: object) -> object:
    """A ``gen_ai.cost.*`` attribute's value as ``ConsoleSpanExporter`` prints it, as
    :meth:`_AnyValue.cost_value` reads OTLP's: a scalar or an array, else
    :class:`Unreadable` (never a cost genai-cost wrote). Raises ValueError as
    :func:`_console_value` does."""
    if value is None:
        return Unreadable("no value")
    if isinstance(value, dict):
        return Unreadable("a JSON object")
    return _console_value(value)


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


def read_span_file(path: Path, *, application_output: list[str] | None = None) -> list[ExportedSpan]:
    """The spans in a file: OTLP JSON, one document (``{"resourceSpans": [...]}``, or as
    Jaeger's API (``{"result": ...}``) or Tempo's (``{"batches": [...]}``) wrap it; the
    pre-1.0 ``instrumentationLibrarySpans`` too) or several, one per line as the
    collector's ``file`` exporter writes them, or pretty-printed one after another; the
    Jaeger UI's JSON (``{"data": [trace...]}``); or the spans the OpenTelemetry SDK's
    ``ConsoleSpanExporter`` prints (``OTEL_TRACES_EXPORTER=console``), with whatever else the
    application printed between them. A UTF-8 BOM is skipped; a file in UTF-16 (Windows
    PowerShell's ``>``) or UTF-32 with its BOM, or clearly UTF-16 with none, is read as the
    text it is (see :func:`_wide_encoding`).
    Raises :class:`SpanFileError` naming every broken document (by the line it starts on)
    and field, with the spans of the rest (a bad field loses its span only, a bad attribute
    value only that attribute, bytes that are not UTF-8 the document they are in, text that
    is not a JSON object the lines it is on), or saying that the file holds no span, or is
    not text (a compressed file; or OTLP protobuf, said only of a file in which no span is
    found, as a Latin-1 or colored line before the spans looks the same).

    The file is read a chunk of whole lines at a time, and each document is read into spans
    before the next is parsed: memory follows the spans kept (and the largest document), not
    the size of the file.

    With ``application_output`` given, the text skipped in console-exporter output (what the
    application printed on the same stdout, named by its lines, whatever its encoding) is
    added to it, not to the problems: there it is expected, and no span is lost in it (a
    span broken by it is still a problem). Text skipped in any other input stays a problem."""
    try:
        file = path.open("rb")
    except OSError as exc:
        raise SpanFileError([f"{path}: cannot read span file: {exc.strerror or exc}"], []) from None
    with file:
        return read_span_stream(file, str(path), application_output=application_output)


def read_span_stream(file: BinaryIO, name: str, *, application_output: list[str] | None = None) -> list[ExportedSpan]:
    """The spans in ``file`` (standard input, ``genai-cost report -``), read as
    :func:`read_span_file` reads a file, each problem named by ``name`` (``<stdin>``) as a
    file's are by its path: a pipe is read to its end exactly as a file is."""
    spans: list[ExportedSpan] = []
    problems: list[str] = []
    skipped: dict[int, str] = {}  # the problems that are skipped text, as application output
    console = False  # a span as the SDK's console exporter prints it was read
    shared: dict[str, str] = {}  # (see _Reader.share)
    try:
        text = _SpanText(file)
        compressed = _compressed_format(text.head)
        if compressed is not None:
            raise SpanFileError([f"{name}: {compressed}"], [])
        # Said only if no span is found: a line the application printed in another encoding
        # (or in color) before the spans is no binary file, and must not lose them.
        binary = _binary_format(text.head)
        text.head = b""
        for where, document in text.documents(name):
            if isinstance(document, _NotUtf8):
                if document.output is not None:  # (text skipped anyway: no span was in it)
                    skipped[len(problems)] = f"{where}: {document.output}"
                problems.append(f"{where}: not UTF-8: {document}")
                continue
            if isinstance(document, _Skipped):
                skipped[len(problems)] = f"{where}: {document.output}"
                problems.append(f"{where}: {document}")
                continue
            if isinstance(document, Exception):
                problems.append(f"{where}: not JSON: {document}")
                continue
            if _log_line(document):
                # An object with nothing of a span in it: among console spans, a structured
                # log line the application printed (said, not a problem); anywhere else, a
                # file in no span format (a problem).
                signal = _other_signal(document)
                if signal is not None:  # the SDK's console exporter of metrics or logs
                    skipped[len(problems)] = f"{where}: the SDK's console {signal}, not spans: skipped"
                else:
                    shown = _shown(document)
                    skipped[len(problems)] = (
                        f"{where}: the application's output, not a span: {shown!r} (a JSON object, no span in it)"
                    )
                problems.append(f"{where}: not OTLP JSON: expected an object with 'resourceSpans'")
                continue
            reader = _Reader(where, shared)
            reader.document(document)
            del document  # (the next document is parsed without this one)
            spans.extend(reader.spans)
            problems.extend(reader.problems)
            console = console or reader.console
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise SpanFileError([*problems, f"{name}: cannot read span file: {reason}"], spans) from None
    if binary is not None and not spans:  # (its text problems would only hide what it is)
        raise SpanFileError([f"{name}: {binary}"], [])
    if text.blank:  # (whitespace only: any problem found in it is the file's being empty)
        raise SpanFileError([f"{name}: no spans: the file is empty"], [])
    if skipped and console and application_output is not None:
        application_output.extend(skipped.values())
        problems = [problem for index, problem in enumerate(problems) if index not in skipped]
    if not spans and not problems:
        problems.append(f"{name}: no spans: the file holds none")
    if problems:
        raise SpanFileError(problems, spans)
    return spans


_BOM = b"\xef\xbb\xbf"
#: Only JSON is read: what to do with the other files the collector's file exporter writes.
_JSON_ONLY = (
    "only JSON is read (OTLP JSON, the Jaeger UI's, the SDK console exporter's), not OTLP protobuf or"
    " compressed files: write it with the collector file exporter's `format: json` and no `compression`"
)
#: ASCII control characters that no JSON text holds (JSON's whitespace is tab, LF and CR).
_CONTROL = frozenset(range(32)) - {9, 10, 13}
#: ASCII that text is made of: what UTF-16 of JSON or of a console's output mostly is.
_ASCII_TEXT = frozenset(range(32, 127)) | {9, 10, 13}
#: The byte order marks of the encodings read besides UTF-8, UTF-32's first: its
#: little-endian mark is UTF-16's followed by a NUL (see _wide_encoding).
_WIDE_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def _not_utf32(raw: bytes, codec: str) -> bool:
    """Whether the first bytes after a UTF-32 BOM are no UTF-32: UTF-16 after its BOM and a
    NUL, more likely (its pairs of characters read as code points past U+10FFFF)."""
    try:
        raw[: min(len(raw), 512) & ~3].decode(codec)
    except UnicodeDecodeError:
        return True
    return False


def _wide_encoding(head: bytes) -> tuple[str, int] | None:
    """The codec of a file in UTF-16 or UTF-32 and the length of its BOM, or ``None`` (UTF-8,
    or not text): Windows PowerShell's ``>`` writes UTF-16 LE with a BOM. With no BOM, UTF-16
    only when its first bytes are clearly that: at least three characters in four ASCII text
    with a high byte of 0, and no NUL (no guess beyond that: other bytes are read as UTF-8,
    and named as not UTF-8 or not text)."""
    for bom, codec in _WIDE_BOMS:
        if head.startswith(bom) and not (codec.startswith("utf-32") and _not_utf32(head[4:], codec)):
            return codec, len(bom)
    sample = head[: min(len(head), 512) & ~1]
    if len(sample) < 4 or b"\x00" not in sample:  # (no NUL: not UTF-16 of ASCII)
        return None
    for codec, low, high in (("utf-16-le", sample[0::2], sample[1::2]), ("utf-16-be", sample[1::2], sample[0::2])):
        ascii_text = sum(1 for lo, hi in zip(low, high, strict=True) if not hi and lo in _ASCII_TEXT)
        if 4 * ascii_text >= 3 * len(low) and all(lo or hi for lo, hi in zip(low, high, strict=True)):
            return codec, 0
    return None


def _compressed_format(raw: bytes) -> str | None:
    """What a file that opens with a compressed format's magic number is: no text file
    opens so, so it is said at once, unread."""
    if raw.startswith(b"\x1f\x8b"):
        return f"not text: a gzip-compressed file ({_JSON_ONLY}; or gunzip it first)"
    if raw.startswith(b"\x28\xb5\x2f\xfd"):
        return f"not text: a zstd-compressed file ({_JSON_ONLY}; or unzstd it first)"
    return None


def _binary_format(raw: bytes) -> str | None:
    """What a file whose first bytes do not read as UTF-8 text may be, or ``None``. Only a
    guess: text in another encoding (a Latin-1 line) or with a color code (ESC) looks the
    same, so it is said only when no span is found in the file (bytes that are not UTF-8 in
    a file with spans are the problem of the line they are on)."""
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
    """A document with bytes that are not UTF-8 in it (the first named). ``output`` says it
    as the application's output when it is text that no span was in (a line, or a JSON log
    line, printed in another encoding): among console spans that is expected, as the same
    text in UTF-8 is, and the spans around it are whole."""

    def __init__(self, byte: int, line: int, column: int) -> None:
        super().__init__(f"byte 0x{byte:02x} (line {line}, column {column})")
        self.at = f"byte 0x{byte:02x} at line {line}, column {column}"
        self.output: str | None = None

    def skipped(self, shown: str, lines: str) -> _NotUtf8:
        """This, said as the application's output: ``shown`` and the ``lines`` skipped."""
        self.output = f"the application's output, not a span: {shown!r} ({lines}; not UTF-8: {self.at})"
        return self


class _Skipped(ValueError):
    """Text that is not a JSON object, skipped: what an application printed between the
    spans ``ConsoleSpanExporter`` printed on the same stdout, or a file in no JSON at all."""

    def __init__(self, shown: str, lines: str) -> None:
        super().__init__(f"not a JSON object: {shown!r} ({lines})")
        self.output = f"the application's output, not a span: {shown!r} ({lines})"


#: What may stand between two documents: JSON's whitespace, and the BOM of a file
#: concatenated to another (``cat a.json b.json``).
_BETWEEN_DOCUMENTS = re.compile(r"[ \t\n\r\ufeff]*")
#: Where reading goes on after a document that is not JSON: a line opening an object, or
#: a span as ``ConsoleSpanExporter`` prints it (``{`` then ``"name"`` indented by 4) after
#: text on its line: a ``print()`` in another thread writes its line end after its text,
#: and the exporter's span may come in between.
_NEXT_DOCUMENT = re.compile(r'[\r\n](?=\{)|(?=\{\r?\n {4}"name": )')
#: A byte that was not UTF-8, as ``surrogateescape`` decodes it.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")
#: Bytes read from a span file at a time (then cut after its last whole line); a document
#: longer than that is read on until it ends (see _SpanText.grow).
_CHUNK = 1 << 20


class _SpanText:
    """The text of a span file, read a chunk of whole lines at a time (from after a BOM):
    ``text`` holds the lines not yet read into documents, from the start of a line
    (``first_line``); a chunk that is not UTF-8 is decoded with ``surrogateescape``, each
    such byte a lone surrogate (``escaped``). A file in UTF-16 or UTF-32 (see
    :func:`_wide_encoding`) is decoded as it is read, so that everything after reads text
    as from UTF-8."""

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        head = file.read(max(_CHUNK, 1024))
        wide = _wide_encoding(head)
        #: The first bytes (after a UTF-8 BOM): the whole file if shorter than a chunk; none
        #: for a file in UTF-16 or UTF-32 (its bytes say nothing the text does not).
        self.head = head.removeprefix(_BOM) if wide is None else b""
        self._tail = self.head  # bytes read after the last line end
        #: UTF-16's or UTF-32's decoder, and the text it gave after the last line end. An
        #: invalid sequence reads as U+FFFD: no line of such a file can be told from the
        #: application's, so none is named (a cost it cuts is read as no number, never $0).
        self._decoder: codecs.IncrementalDecoder | None = None
        self._text_tail = ""
        if wide is not None:
            codec, bom = wide
            self._decoder = codecs.getincrementaldecoder(codec)("replace")
            self._text_tail = self._decoder.decode(head[bom:])
        del head
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
        piece = self._read_utf8() if self._decoder is None else self._read_wide(self._decoder)
        if not piece:
            return None
        if self.blank and piece.strip():
            self.blank = False
        return piece

    def _read_wide(self, decoder: codecs.IncrementalDecoder) -> str:
        """:meth:`_read` for UTF-16 or UTF-32: cut after the last line end of the text, as a
        byte 0x0a may be half of another character there."""
        pieces = [self._text_tail]
        while True:
            data = self.file.read(_CHUNK)
            text = decoder.decode(data, final=not data)
            if not data:
                self.eof = True
                self._text_tail = ""
                pieces.append(text)
                break
            end = text.rfind("\n") + 1
            if end:
                pieces.append(text[:end])
                self._text_tail = text[end:]
                break
            pieces.append(text)  # a line longer than a chunk: read on to its end
        return "".join(pieces)

    def _read_utf8(self) -> str:
        """:meth:`_read` for UTF-8: cut after the last line end of the bytes, which no UTF-8
        character spans, decoded a chunk at a time."""
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
        try:
            piece = raw.decode("utf-8")
        except UnicodeDecodeError:
            # (a chunk ends at a line end, which no UTF-8 character spans: decoded chunk by
            # chunk, the text is what decoding the whole file would give)
            piece = raw.decode("utf-8", errors="surrogateescape")
            self.escaped = True
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
        return _NotUtf8(byte, line, at - line_start + 1)

    def documents(self, label: str) -> Iterator[tuple[str, object | Exception]]:
        """The JSON documents of the file, one after another (compact, one a line, or
        pretty-printed), each parsed only once the one before has been taken, with where it
        is: ``label`` when the file is one document and nothing else, else ``label:line``, the
        line it starts on. A document that is not JSON comes as the error (its line and column
        said); reading goes on at the next line that opens an object, so the documents after
        it still count. Text that does not open an object (a line an application printed
        between the spans ``ConsoleSpanExporter`` printed, a number, a string or an array
        with more text on its line) comes as a :class:`_Skipped` error naming it and its
        lines, and is skipped in the same way; a JSON value in which no span document is
        recognised is read on from the next line in it that opens an object, if any (text
        around spans, ``[`` before and ``]`` after, made one JSON array of them). A document
        that holds a byte that was not UTF-8 comes as a :class:`_NotUtf8` error naming it,
        whether or not it parsed."""
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
                    if self.text[position] != "{" and not (
                        isinstance(document, list) and not self.rest_of_line(end).strip()
                    ):
                        # A number, a string (or an array) with more text on its line: text
                        # that is not a document, skipped as text that is not JSON is.
                        del document
                        found, position = self.skip_text(position)
                        break
                    bad = self.bad_byte(position, end)
                    if bad is not None and _log_line(document):
                        bad.skipped(_readable(_shown(document)), "a JSON object, no span in it")
                    found = bad or document
                    if found is document and _document_kind(document) is None:
                        # No span document: from the next line in it that opens an object,
                        # if any (text printed before and after spans, ``[`` and ``]`` say,
                        # made one JSON value of them), rather than past its end.
                        inner = _NEXT_DOCUMENT.search(self.text, position + 1, end)
                        end = inner.end() if inner is not None else end
                    del document
                    position = end
                    break
                if self.text[position] != "{":  # (a broken document opens an object)
                    found, position = self.skip_text(position)
                    break
                bad, position = self._resume(position)
                found = bad or problem
                break
            if several:
                yield f"{label}:{line}", found
            else:
                first = (line, found)
            del found
        if first is not None:
            where = label if not isinstance(first[1], Exception) else f"{label}:{first[0]}"
            yield where, first[1]

    def rest_of_line(self, position: int) -> str:
        end = self.text.find("\n", position)
        return self.text[position : end if end >= 0 else len(self.text)]

    def skip_text(self, position: int) -> tuple[_NotUtf8 | _Skipped, int]:
        """Text at ``position`` that is not a JSON object (a line the application printed
        among the spans ``ConsoleSpanExporter`` printed): skipped as a document that is not
        JSON is, and named by what it says and the lines skipped, which tell more than where
        the JSON decoder gave up on it (line 1, column 1)."""
        line, start_column = self.line_at(position), position - self.text.rfind("\n", 0, position)
        shown = self.text[position : position + 100].split("\n", 1)[0]
        bad, position = self._resume(position)
        last = self.line_at(position)  # (the line reading goes on at)
        if 0 < position < len(self.text) and self.text[position - 1] not in "\r\n":
            # (a span printed after text on its line: see _NEXT_DOCUMENT)
            column = position - self.text.rfind("\n", 0, position)
            skipped = f"skipped to line {last}, column {column}"
            if last == line:
                shown = shown[: column - start_column]
        else:
            unended = position == len(self.text) and self.text[-1:] not in ("", "\r", "\n")
            last -= 0 if unended else 1  # (up to the line reading goes on at, or the last)
            skipped = f"line {line} skipped" if last <= line else f"lines {line}-{last} skipped"
        shown = _readable(shown.rstrip())
        shown = shown if len(shown) <= 60 else shown[:60] + "..."
        if bad is not None:  # (named as any byte that is not UTF-8 is, and as skipped text)
            return bad.skipped(shown, skipped), position
        return _Skipped(shown, skipped), position

    def _resume(self, position: int) -> tuple[_NotUtf8 | None, int]:
        """After a document that is not JSON (at ``position``): the first byte in it that
        was not UTF-8, if any, and where reading goes on, the next line opening an object or
        the next span printed after text on its line (see :data:`_NEXT_DOCUMENT`; the text
        before it is dropped as it is searched)."""
        bad: _NotUtf8 | None = None
        searched = position + 1  # (past the document's first character, which may open a span)
        while True:
            resume = _NEXT_DOCUMENT.search(self.text, searched)
            bad = bad or self.bad_byte(position, resume.start() if resume is not None else len(self.text))
            if resume is not None:
                return bad, resume.end()
            # Read on, keeping the last line: a span may open at its end (see _NEXT_DOCUMENT),
            # or on the line after it (its line end then comes before the "{").
            cut = self.drop(len(self.text) - 1)
            position, searched = max(position - cut, 0), max(searched - cut, 0)
            if not self.more():
                return bad, len(self.text)


def _readable(text: str) -> str:
    """``text`` with each byte that was not UTF-8 (see :data:`_ESCAPED_BYTE`) shown as
    U+FFFD, as an editor shows it: a lone surrogate cannot be printed."""
    return _ESCAPED_BYTE.sub("\ufffd", text)


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
        self.console = False  # the document is a span as ConsoleSpanExporter prints it
        self._shared: dict[str, str] = {} if shared is None else shared

    def share(self, text: str) -> str:
        """``text``, as the one string object kept for it in the file: attribute keys, trace
        ids, names and short values repeat span after span (the 64,000 demo spans of an 82 MB
        file: 56 MB instead of 157 MB)."""
        if len(text) > _SHARED_LENGTH:
            return text
        return self._shared.setdefault(text, text)

    def keep(
        self,
        ids: tuple[str, str, str | None],
        name: str,
        scope: str | None,
        attributes: dict[str, object],
        kind: str | None,
        times: tuple[int | None, int | None],
        version: str | None = None,
        dropped: int = 0,
    ) -> None:
        """Keep a span read from any of the formats, its repeated strings shared (see
        :meth:`share`): ``ids`` are the trace's, the span's and its parent's."""
        trace_id, span_id, parent = ids
        self.spans.append(
            ExportedSpan(
                self.share(trace_id),
                span_id,
                parent,
                self.share(name),
                self.share(scope) if scope else scope,
                attributes,
                kind,
                times[0],
                times[1],
                self.share(version) if version is not None else None,
                dropped,
            )
        )

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
        found = _document_kind(document)
        if found is None:
            self.problems.append(f"{self.where}: not OTLP JSON: expected an object with 'resourceSpans'")
            return
        kind, body = found
        if kind in ("resourceSpans", "batches"):  # OTLP; Tempo API v1
            self.otlp(body[kind], kind)
        elif kind == "data":  # Jaeger UI and its /api/traces
            self.jaeger(body)
        elif kind == "jaeger_trace":  # one Jaeger trace
            self.jaeger_trace(body, ())
        else:
            self.console = True
            self.console_span(body)

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
        self.keep(
            (trace_id, span_id, parent),
            span.name or "",
            scope or None,
            attributes,
            _kind(span.kind),
            (_nanos(span.startTimeUnixNano), _nanos(span.endTimeUnixNano)),
            version,
            _dropped_count(span.droppedAttributesCount),
        )

    def put(self, attributes: dict[str, object], key: str, value: object, at: _Location) -> None:
        """``attributes[key] = value``, unless the key came before with another value: OTLP
        keys are unique, so the file is named, and a cost given twice is not known."""
        key = self.share(key)
        if isinstance(value, str):
            value = self.share(value)
        if key in attributes and attributes[key] != value:
            self.problem(at, f"attribute {key!r} given twice with different values")
            if key.startswith(COST_PREFIX):
                value = Unreadable("given twice with different values")
        attributes[key] = value

    def otlp_attribute(self, attributes: dict[str, object], item: object, at: _Location) -> None:
        """One OTLP attribute into ``attributes``. One that cannot be read is named and left
        out, but a ``gen_ai.cost.*`` one is kept as :class:`Unreadable`, as is such an
        attribute whose AnyValue is not one scalar or array (no value, bytes, a key-value
        list): the span's cost is not known, and the report must say so."""
        try:
            pair = _KeyValue.model_validate(item)
        except ValidationError as exc:
            errors = exc.errors()
            for error in errors:
                self.problem((*at, *error["loc"]), error["msg"])
            key = item.get("key") if isinstance(item, dict) else None
            if isinstance(key, str) and key.startswith(COST_PREFIX):
                attributes[key] = Unreadable("; ".join(error["msg"] for error in errors))
            return
        if pair.key.startswith(COST_PREFIX):
            self.put(attributes, pair.key, pair.value.cost_value(), at)
        else:
            self.put(attributes, pair.key, pair.value.plain(), at)

    def console_span(self, value: object) -> None:
        """One span as ``ConsoleSpanExporter`` prints it, read as its OTLP JSON reads, so
        that a report sums the same: its ``gen_ai.cost.*`` attributes kept (as
        :class:`Unreadable` when they cannot be read), a bad attribute losing only itself.
        The file gives no instrumentation scope and no count of dropped attributes: the
        rules of the processor that need them (Google ADK's records of a call, Logfire's
        streamed calls, a model name the SDK dropped) find nothing, which changes what is
        listed as having no cost attributes, never what a priced span cost."""
        span = self.parse(_ConsoleSpan, value, ())
        if span is None:
            return
        trace_id = self.id(_console_id(span.context.trace_id), 16, ("context", "trace_id"))
        span_id = self.id(_console_id(span.context.span_id), 8, ("context", "span_id"))
        parent = self.id(_console_id(span.parent_id), 8, ("parent_id",)) if span.parent_id else None
        if trace_id is None or span_id is None or (span.parent_id and parent is None):
            return
        attributes: dict[str, object] = {}
        for key, item in (span.attributes or {}).items():
            at = ("attributes", key)
            try:
                plain = _console_cost_value(item) if key.startswith(COST_PREFIX) else _console_value(item)
            except ValueError as exc:
                self.problem(at, str(exc))
                if key.startswith(COST_PREFIX):
                    attributes[self.share(key)] = Unreadable(str(exc))
                continue
            self.put(attributes, key, plain, at)
        self.keep(
            (trace_id, span_id, parent),
            span.name or "",
            None,
            attributes,
            _kind(span.kind),
            (_iso_nanos(span.start_time), _iso_nanos(span.end_time)),
        )

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
            # (or one in base64) is kept as Unreadable, so the span is never priced at $0.
            tag = self.parse(_JaegerTag, item, (*at, "tags", k))
            if tag is None:
                key = item.get("key") if isinstance(item, dict) else None
                if isinstance(key, str) and key.startswith(COST_PREFIX):
                    attributes[key] = Unreadable("not a Jaeger tag")
                continue
            try:
                plain = _tag_value(tag.type, tag.value)
            except ValueError as exc:
                self.problem((*at, "tags", k, "value"), str(exc))
                if tag.key.startswith(COST_PREFIX):
                    attributes[tag.key] = Unreadable(str(exc))
                continue
            if tag.key in _JAEGER_SCOPE_TAGS:
                if tag.key in _JAEGER_SCOPE_NAMES and scope is None:
                    scope = str(plain) or None
                elif tag.key not in _JAEGER_SCOPE_NAMES and version is None:
                    version = _version(plain)
            elif tag.key == _JAEGER_KIND_TAG:
                kind = kind or _kind(plain)
            elif tag.key.startswith(COST_PREFIX) and tag.type == "binary":
                self.put(attributes, tag.key, Unreadable("a binary value"), (*at, "tags", k))
            else:
                self.put(attributes, tag.key, plain, (*at, "tags", k))
        if good and trace_id is not None and span_id is not None:
            start = _nanos(span.startTime, 1000)
            duration = _nanos(span.duration, 1000) or (0 if span.duration in (0, "0") else None)
            end = start + duration if start is not None and duration is not None else None
            ids = (trace_id, span_id, parent)
            self.keep(ids, span.operationName or "", scope, attributes, kind, (start, end), version)


def _console_id(text: str) -> str:
    """An id as ``ConsoleSpanExporter`` prints it (``0x`` and hex), as OTLP JSON has it."""
    return text[2:] if text[:2] in ("0x", "0X") else text


#: Keys of a span in any format read here, or of what holds spans: an object with one of them
#: and no span document found is a broken span, not a log line.
_SPAN_KEYS = frozenset(
    {
        "context",
        "trace_id",
        "span_id",
        "traceId",
        "spanId",
        "traceID",
        "spanID",
        "spans",
        "scopeSpans",
        "result",
        "trace",
    }
)


def _log_line(document: object) -> bool:
    """Whether ``document`` is a JSON object holding no span document and no key of one (a
    structured log line: ``{"event": "step done", "level": "info"}``)."""
    return isinstance(document, dict) and _document_kind(document) is None and not _SPAN_KEYS & document.keys()


def _other_signal(document: object) -> str | None:
    """``metrics`` or ``logs`` for what the SDK's console exporters of those signals print
    beside the spans' (``{"resource_metrics": [...]}``), else None."""
    if isinstance(document, dict):
        if "resource_metrics" in document:
            return "metrics"
        if "resource_logs" in document:
            return "logs"
    return None


def _shown(document: object) -> str:
    """The start of ``document`` as JSON, to name it in a message."""
    text = json.dumps(document, ensure_ascii=False)
    return text if len(text) <= 100 else f"{text[:97]}..."


def _document_kind(document: object) -> tuple[str, dict[str, Any]] | None:
    """What a JSON document holds, and the object that holds it (inside the wrapper of
    Jaeger's v2 API or Tempo's): ``resourceSpans`` or ``batches`` (OTLP), ``data`` (the
    Jaeger UI's JSON), ``jaeger_trace`` (one Jaeger trace) or ``console`` (one span as the SDK's
    ``ConsoleSpanExporter`` prints it); ``None`` when none of them."""
    if not isinstance(document, dict):
        return None
    body: dict[str, Any] = document
    if isinstance(body.get("result"), dict):  # Jaeger v2 API (api/v3)
        body = body["result"]
    elif isinstance(body.get("trace"), dict):  # Tempo API v2
        body = body["trace"]
    for key in ("resourceSpans", "batches", "data"):
        if key in body:
            return key, body
    if "traceID" in body and "spans" in body:
        return "jaeger_trace", body
    context = body.get("context")
    if isinstance(context, dict) and ("trace_id" in context or "span_id" in context):
        return "console", body
    return None


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
