"""The ``genai-cost`` command.

Exit codes: 0 success, 2 a usage problem the user can fix (unknown model,
broken pricing file, bad argument), 1 anything unexpected.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ._vocabulary import CONVERSATION_KEYS
from .config import CostSettings, env_pricing_files, report_unknown_variables, user_cache_dir
from .pricing import Catalog, CatalogError, PricingError, TokenUsage
from .pricing.calc import UNPRICED_AT_DEFAULT
from .pricing.errors import (
    REASON_MISSING_DURATION,
    REASON_UNKNOWN_MODEL,
    REASON_UNKNOWN_PROVIDER,
    UnpricedDeploymentError,
)
from .pricing.model import RATE_FIELDS

EXIT_USAGE = 2
#: ``demo`` ran and printed its cost, but the trace did not reach OTEL_EXPORTER_OTLP_ENDPOINT.
EXIT_NOT_SENT = 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return EXIT_USAGE
    if args.handler is not _gateway:  # (the gateway checks its variables as it starts)
        # A misspelt GENAI_COST_PRICING_FILE would otherwise price at list price in silence,
        # in the very command one runs to check that a pricing file is picked up.
        report_unknown_variables()
    code: int = 0
    try:
        code = args.handler(args)
        sys.stdout.flush()
        return code
    except CatalogError as exc:
        print(f"genai-cost: pricing file error:\n{exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # `genai-cost report ... | head`: the reader has gone, which is not an error in
        # itself; the code the command returned (when the pipe broke as its output was
        # flushed) is kept: 2 for a report on files with problems.
        _stdout_gone()
        return code


def _stdout_gone() -> None:
    """The reader of stdout has gone: what is left to write (and Python's flush at exit)
    goes nowhere instead of raising BrokenPipeError again."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


#: ``--pricing-file`` of the commands that price: the same layer as ``GENAI_COST_PRICING_FILE``.
_PRICING_FILE_HELP = (
    "extra pricing file or directory (repeatable); loaded after those GENAI_COST_PRICING_FILE names,"
    " so its entries override theirs"
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genai-cost", description="USD cost of AI-agent work on OpenTelemetry traces."
    )
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(title="commands")

    price = commands.add_parser(
        "price",
        help="price one call from the catalog",
        description="Prices one call from the shipped catalog, overlaid as the runtime overlays it with the "
        "pricing files GENAI_COST_PRICING_FILE names (files or directories, separated by "
        f"{os.pathsep!r}), then with each --pricing-file. Counts are inclusive, as on spans: --input-tokens "
        "includes the cache and audio input tokens, --output-tokens the reasoning and audio output tokens.",
    )
    price.add_argument("--provider", help="provider name as spans carry it (openai, anthropic, aws.bedrock...)")
    price.add_argument(
        "--model",
        required=True,
        type=_model_name,
        help="model name as spans carry it: an id, a dated snapshot or an alias (gpt-4o)",
    )
    for flag, meaning in _TOKEN_COUNT_FLAGS:
        price.add_argument(flag, type=_count, default=0, help=meaning)
    price.add_argument(
        "--requests", type=_count, default=1, help="requests the call made (priced where a model bills per request)"
    )
    price.add_argument("--service-tier", help="the tier the response says was served (flex, priority...)")
    price.add_argument("--batch", action="store_true", help="a batch API call")
    price.add_argument("--at", type=_instant, help="ISO-8601 time of the call (default: now)")
    price.add_argument(
        "--duration-s",
        type=_seconds,
        metavar="SECONDS",
        help="how long the call ran (a span's duration): prices models billed per GPU-second",
    )
    price.add_argument("--pricing-file", action="append", default=[], help=_PRICING_FILE_HELP)
    price.add_argument("--json", action="store_true", help="print JSON")
    price.add_argument("--explain", action="store_true", help="say which catalog entry matched and why")
    price.set_defaults(handler=_price)

    demo = commands.add_parser(
        "demo",
        help="run the ten-step research agent and print its cost",
        description="Runs the ten-step research agent of the articles (real token counts, tool fees) through"
        " the OpenTelemetry SDK, the processor and the roll-up, and prints what each span and the trace cost."
        " With OTEL_EXPORTER_OTLP_ENDPOINT set, also sends the trace there over OTLP.",
    )
    demo.add_argument("--json", action="store_true", help="print JSON")
    demo.add_argument("--pricing-file", action="append", default=[], help=_PRICING_FILE_HELP)
    demo.add_argument(
        "--save",
        type=Path,
        metavar="FILE",
        help="also write the spans as OTLP JSON (for `report`); - for stdout, the table then going to stderr",
    )
    demo.set_defaults(handler=_demo)

    report = commands.add_parser(
        "report",
        help="what each trace in exported span files cost, and what was not priced (OTLP JSON, Jaeger JSON,"
        " the SDK's console exporter)",
    )
    report.add_argument(
        "files",
        nargs="+",
        # (not a Path: "./-" must stay a file named "-", and Path("./-") is Path("-"))
        metavar="FILE",
        help="OTLP JSON (the collector's file exporter, or a trace from Jaeger's or Tempo's API),"
        " the Jaeger UI's JSON (Download Results, Trace JSON), or what the OpenTelemetry SDK's"
        " ConsoleSpanExporter prints (OTEL_TRACES_EXPORTER=console, the application's own output"
        " among it is skipped); UTF-8, or UTF-16 as Windows PowerShell's > writes it; - reads standard input",
    )
    report.add_argument(
        "--top",
        type=_count,
        default=10,
        help="the N most expensive traces, or conversations with --by conversation (0: all; default 10)",
    )
    report.add_argument("--trace", type=_trace_id, help="only this trace id (32 hex digits, as backends show it)")
    report.add_argument(
        "--by",
        choices=("trace", "conversation"),
        help="trace (the default): each trace; conversation: the traces (turns) of each conversation added up,"
        " the default with --conversation",
    )
    report.add_argument(
        "--conversation",
        type=_not_blank("a conversation id"),
        metavar="ID",
        help="only the traces of this conversation (as --by conversation prints it)",
    )
    report.add_argument(
        "--conversation-key",
        type=_not_blank("an attribute key (gen_ai.conversation.id, session.id, ...)"),
        action="append",
        metavar="KEY",
        help="the span attribute that names a trace's conversation (a ticket, a session); repeat for several,"
        f" best first (default: {', '.join(CONVERSATION_KEYS)})",
    )
    report.add_argument(
        "--what-if",
        action="append",
        metavar="FROM=TO",
        help="also price the calls of catalog entry FROM again with entry TO, from their token counts, at TO's"
        " rates of today (openai/gpt-4o=openai/gpt-4o-mini); repeatable",
    )
    report.add_argument("--json", action="store_true", help="print JSON")
    report.set_defaults(handler=_report)

    gateway = commands.add_parser(
        "gateway",
        help="receive OTLP from other processes (agents in any language), price the spans, forward them",
        description="Receives OTLP traces, prices and rolls them up as in process, and forwards them to the "
        "exporters OTEL_TRACES_EXPORTER names (otlp by default), configured by the standard OTEL_EXPORTER_OTLP_* "
        "variables. Records the cost metrics when OTEL_METRICS_EXPORTER is set. Runs until interrupted.",
    )
    gateway.add_argument(
        "--http",
        default="127.0.0.1:4318",
        metavar="HOST:PORT",
        help="where to receive OTLP/HTTP, protobuf or JSON ('off' for none; default %(default)s)",
    )
    gateway.add_argument(
        "--grpc",
        default="127.0.0.1:4317",
        metavar="HOST:PORT",
        help="where to receive OTLP/gRPC ('off' for none; default %(default)s)",
    )
    gateway.add_argument(
        "--tls-cert", metavar="FILE", help="serve both receivers over TLS: the certificate chain (PEM)"
    )
    gateway.add_argument("--tls-key", metavar="FILE", help="the private key of --tls-cert (PEM, unencrypted)")
    gateway.add_argument(
        "--tls-client-ca",
        metavar="FILE",
        help="require client certificates signed by this CA (PEM): mutual TLS",
    )
    gateway.set_defaults(handler=_gateway)

    try:
        from . import cli_pricing  # type: ignore[attr-defined,unused-ignore]
    except ImportError:  # pragma: no cover - module always shipped
        pass
    else:
        cli_pricing.register(commands)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    from .pricing.catalog import catalog_version, default_pricing_dir

    try:
        package = version("genai-cost")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree
        package = "(not installed)"
    return f"genai-cost {package}, pricing catalog {catalog_version(default_pricing_dir())}"


#: The token counts ``price`` takes: each part is included in the total it names.
_TOKEN_COUNT_FLAGS = (
    ("--input-tokens", "total input, cache and audio input tokens included"),
    ("--output-tokens", "total output, reasoning and audio output tokens included"),
    ("--cache-read-tokens", "the part of --input-tokens read from cache (included in it)"),
    ("--cache-write-tokens", "the part of --input-tokens written to cache, 5-minute and 1-hour (included in it)"),
    ("--cache-write-1h-tokens", "the part of --cache-write-tokens with a 1-hour TTL (included in it)"),
    ("--reasoning-tokens", "the part of --output-tokens spent reasoning (included in it)"),
    ("--input-audio-tokens", "the part of --input-tokens that is audio (included in it)"),
    ("--output-audio-tokens", "the part of --output-tokens that is audio (included in it)"),
    ("--cache-read-audio-tokens", "the part of --cache-read-tokens that is audio (included in it)"),
    ("--input-image-tokens", "the part of --input-tokens that is images (included in it)"),
    ("--output-image-tokens", "the part of --output-tokens that is images (included in it)"),
    ("--web-searches", "web searches the call ran (priced per search where the model bills them)"),
)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative")
    return value


def _trace_id(text: str) -> str:
    """A trace id as report keys them: lower-case hex, zero-padded to 32 digits (a
    backend may drop the leading zeros), without ``0x``."""
    digits = text.strip().lower().removeprefix("0x")
    if not digits:
        return ""  # said by the command, which knows why it may be empty
    if len(digits) > 32 or any(c not in "0123456789abcdef" for c in digits):
        raise argparse.ArgumentTypeError(f"{text!r} is not a trace id (up to 32 hex digits)")
    return digits.zfill(32)


def _not_blank(what: str) -> Callable[[str], str]:
    """A flag's value that must not be blank: ``--conversation "$ID"`` with the variable
    unset would otherwise select nothing, or everything."""

    def parse(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"is empty: give {what}")
        return text

    return parse


def _model_name(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty: give the model name (gpt-4o, claude-sonnet-4-5...)")
    return text


def _instant(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO-8601 date or time") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


#: The parts of a price the text output shows when not zero (JSON has them all).
_COST_PARTS = (
    "input_usd",
    "cache_read_usd",
    "cache_write_usd",
    "output_usd",
    "request_usd",
    "search_usd",
    "compute_usd",
)


def _call_usd(usd: float) -> str:
    """One call's cost to six decimals (``$0.002750``), and a cost below a millionth of a
    dollar in full (``$0.0000001`` for five embedding tokens): never ``$0.000000``, which reads
    as free (the same mistake as a rate written per token, not per million)."""
    shown = f"${usd:.6f}"
    if usd > 0 and float(shown[1:]) == 0:
        return "$" + f"{usd:.15f}".rstrip("0")
    return shown


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value < math.inf:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (0 or more seconds)")
    return value


def _price(args: argparse.Namespace) -> int:
    from .pricing.calc import usage_problem

    # A 1-hour count without the total of the writes: the writes are taken to be that count,
    # all of it 1-hour, as a span that carries only Anthropic's 1-hour count is read
    # (genai_cost.usage: the writes are at least the 5-minute plus the 1-hour counts).
    all_1h = not args.cache_write_tokens and args.cache_write_1h_tokens > 0
    usage = TokenUsage(
        input_tokens=args.input_tokens,
        output_tokens=args.output_tokens,
        cache_read_tokens=args.cache_read_tokens,
        cache_write_tokens=args.cache_write_1h_tokens if all_1h else args.cache_write_tokens,
        cache_write_1h_tokens=args.cache_write_1h_tokens,
        reasoning_tokens=args.reasoning_tokens,
        input_audio_tokens=args.input_audio_tokens,
        output_audio_tokens=args.output_audio_tokens,
        cache_read_audio_tokens=args.cache_read_audio_tokens,
        input_image_tokens=args.input_image_tokens,
        output_image_tokens=args.output_image_tokens,
        requests=args.requests,
        web_searches=args.web_searches,
    )
    # Every part within its total, the text parts too (a cache larger than the input is a
    # typing mistake here, not another convention to read), worded with the flags.
    problem = usage_problem(usage, lambda field: "--" + field.replace("_", "-"), text_parts=True)
    if problem is not None:
        print(f"genai-cost: {problem}", file=sys.stderr)
        return EXIT_USAGE
    # As the runtime prices: the shipped catalog, the files of GENAI_COST_PRICING_FILE,
    # then those of the command line (the same layer, so the later file wins).
    env_files = env_pricing_files()
    try:
        catalog = Catalog.load([*env_files, *args.pricing_file], cache_dir=user_cache_dir())
    except CatalogError as exc:
        print(f"genai-cost: pricing file error:\n{exc}", file=sys.stderr)
        if env_files:
            named = os.pathsep.join(env_files)
            print(f"genai-cost: the pricing files include GENAI_COST_PRICING_FILE={named}", file=sys.stderr)
        return EXIT_USAGE
    from .cli_pricing import say_file_issues

    say_file_issues(catalog.problems, catalog.doubts)  # as the runtime logs them
    try:
        resolution = catalog.resolve(args.model, args.provider)
        # A call made now is priced at today's rates, not at a period the catalog already
        # knows starts later (an introductory price that ends next month).
        at = args.at.timestamp() if args.at is not None else dt.datetime.now(dt.timezone.utc).timestamp()
        cost = catalog.price_resolved(
            resolution, usage, at=at, service_tier=args.service_tier, batch=args.batch, duration_s=args.duration_s
        )
    except PricingError as exc:
        print(f"genai-cost: cannot price {args.model!r}: {exc} [{exc.reason}]", file=sys.stderr)
        if exc.reason == REASON_MISSING_DURATION:
            print("genai-cost: give the call's duration with --duration-s", file=sys.stderr)
        unknown = exc.reason in (REASON_UNKNOWN_MODEL, REASON_UNKNOWN_PROVIDER)
        if unknown and not isinstance(exc, UnpricedDeploymentError):
            near = catalog.near_misses(args.model, args.provider)
            if near:
                print(f"genai-cost: did you mean {' or '.join(near)}?", file=sys.stderr)
        return EXIT_USAGE
    if cost.total_usd == 0 and not (args.input_tokens or args.output_tokens):
        # A call with no counts costs nothing: a $0 printed for flags left out would read as
        # a price. (--explain still shows the rates; a fee per request or GPU-second is a price.)
        # A count left out is 0 (the parser's default), so one given as 0 cannot be told from
        # it here: the message is true of both.
        message = (
            "all token counts are 0 (no token counts given, or each given as 0):"
            " give --input-tokens and/or --output-tokens above 0"
        )
        if not args.explain:
            print(f"genai-cost: {message}", file=sys.stderr)
            return EXIT_USAGE
        print(f"genai-cost: {message} (the $0 below is for no tokens)", file=sys.stderr)
    if all_1h:
        print(
            f"genai-cost: --cache-write-1h-tokens {args.cache_write_1h_tokens} without --cache-write-tokens:"
            f" the cache writes are taken to be those {args.cache_write_1h_tokens}, all with a 1-hour TTL"
            " (as a span with only the 1-hour count is read)",
            file=sys.stderr,
        )
    entry = resolution.model
    period = next(p for p in entry.periods if p.start_label == cost.effective_from)
    result: dict[str, Any] = {
        "total_usd": cost.total_usd,
        "input_usd": cost.input_usd,
        "cache_read_usd": cost.cache_read_usd,
        "cache_write_usd": cost.cache_write_usd,
        "output_usd": cost.output_usd,
        "request_usd": cost.request_usd,
        "search_usd": cost.search_usd,
        "compute_usd": cost.compute_usd,
        "pricing_id": cost.pricing_id,
        "pricing_version": catalog.version,
        "source": "override" if entry.is_override else "catalog",
        "effective_from": cost.effective_from,
        "adjustments": list(cost.adjustments),
        "price_source": period.source,
        "price_checked": period.checked,
    }
    if resolution.match:
        result["match"] = resolution.match
    if args.explain:
        result["explain"] = {
            "matched": resolution.how,
            "defined_in": entry.defined_in,
            "origin": entry.origin,
            "rates_per_million": {
                name: round(value * 1e6, 6)
                for name in RATE_FIELDS  # (audio and image too: gpt-realtime read as having none)
                if (value := getattr(period.rates, name)) is not None
            },
            "layer": catalog.layer_of(entry),
            "multiplier": resolution.multiplier,
            "fees": {
                name: value
                for name in ("per_request", "per_search", "per_second")
                if (value := getattr(period.rates, name)) is not None
            },
            "long_context_thresholds": [tier.above_input_tokens for tier in period.long_context],
            "service_tiers": sorted(period.service_tiers),
            "time_windows": len(period.windows),
            "price_periods": [p.start_label for p in entry.periods],
        }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{cost.pricing_id}: {_call_usd(cost.total_usd)}")
    for part in _COST_PARTS:
        if result[part]:
            print(f"  {part:<16} {_call_usd(result[part])}")
    print(f"  price from {period.source} (checked {period.checked}, effective {cost.effective_from})")
    if cost.adjustments:
        print(f"  adjustments: {', '.join(cost.adjustments)}")
    for adjustment in cost.adjustments:
        if adjustment.endswith(UNPRICED_AT_DEFAULT):
            # As on a span (the adjustment says it there): priced, but the user asked for a
            # tier or mode the catalog has no rates for, perhaps mistyped.
            print(
                f"genai-cost: {cost.pricing_id} has no rates for {adjustment.removesuffix(UNPRICED_AT_DEFAULT)}"
                " in the catalog: priced at its standard rates",
                file=sys.stderr,
            )
    if resolution.match and not args.explain:
        # As the span says (gen_ai.cost.pricing.match): a variant's own price may differ.
        print(f"  matched by {resolution.match}, not by name: {args.model!r} is not a name the entry lists")
    if args.explain:
        print(f"  matched: {resolution.how}")
        print(f"  defined in: {entry.defined_in} ({entry.origin}, {catalog.layer_of(entry)} layer)")
        print(f"  price periods: {', '.join(p.start_label for p in entry.periods)}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import (
        otlp_endpoint_from_env,
        otlp_protocol_from_env,
        render,
        run_demo,
        summarize,
        write_span_file,
        write_span_stream,
    )

    if otlp_endpoint_from_env():
        try:
            otlp_protocol_from_env()
        except ValueError as exc:
            print(f"genai-cost demo: {exc}", file=sys.stderr)
            return EXIT_USAGE
    unread = _exporters_the_demo_ignores(os.environ.get("OTEL_TRACES_EXPORTER", ""))
    if unread:
        print(
            f"genai-cost demo: OTEL_TRACES_EXPORTER={','.join(unread)} is not read by the demo (it is the"
            " application's setting, under opentelemetry-instrument): the demo sends over OTLP when"
            " OTEL_EXPORTER_OTLP_ENDPOINT is set, and --save FILE writes its spans for `genai-cost report`",
            file=sys.stderr,
        )
    run = run_demo(pricing_files=args.pricing_file)
    from .cli_pricing import say_file_issues

    say_file_issues(run.pricing_problems, run.pricing_doubts)  # as `price` says them
    spans = run.spans
    if args.save is not None:
        try:
            if str(args.save) == "-":  # `demo --save - | genai-cost report -`: the table goes to stderr
                write_span_stream(spans, sys.stdout)
                sys.stdout.flush()
            else:
                write_span_file(spans, args.save)
        except BrokenPipeError:
            _stdout_gone()
            return 0
        except OSError as exc:
            print(f"genai-cost demo: cannot write {args.save}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_USAGE
    summary = summarize(spans)
    # With the spans on stdout (`--save -`), the table goes to stderr, out of the pipe.
    out = sys.stderr if args.save is not None and str(args.save) == "-" else sys.stdout
    if args.json:
        print(json.dumps(summary, indent=2), file=out)
    else:
        print(
            "genai-cost demo: the ten-step research agent (GPT-4o; web_search $0.005, read_page $0.001 a call)\n",
            file=out,
        )
        print(render(summary), file=out)
    if run.sent_to is not None:
        if run.send_failed:
            print(
                f"genai-cost demo: the trace was NOT sent to {run.sent_to} (OTEL_EXPORTER_OTLP_ENDPOINT):"
                f" see the exporter's messages above; {_why_not_sent(run.sent_to, otlp_protocol_from_env())}",
                file=sys.stderr,
            )
            return EXIT_NOT_SENT
        print(f"genai-cost demo: trace sent to {run.sent_to}", file=sys.stderr)
    return 0


def _why_not_sent(endpoint: str, protocol: str) -> str:
    """The likely reason a trace did not reach ``endpoint``: gRPC to the standard OTLP/HTTP
    port (or HTTP to the gRPC one) fails as if nothing listened, though a collector does."""
    from urllib.parse import urlsplit

    try:
        port = urlsplit(endpoint if "//" in endpoint else f"//{endpoint}").port
    except ValueError:
        port = None
    if port == 4318 and protocol == "grpc":
        return "port 4318 is OTLP/HTTP's: set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf, or send gRPC to port 4317"
    if port == 4317 and protocol != "grpc":
        return "port 4317 is OTLP/gRPC's: unset OTEL_EXPORTER_OTLP_PROTOCOL (gRPC), or send http/protobuf to port 4318"
    return "is the collector running there?"


def _exporters_the_demo_ignores(setting: str) -> list[str]:
    """The exporters an ``OTEL_TRACES_EXPORTER`` value names besides ``otlp``: a newcomer
    trying ``console`` (to pipe into ``report``) or ``none`` on the demo gets no sign that
    the demo reads only the OTLP endpoint variables, so it says so."""
    names = (name.strip() for name in setting.split(","))
    return [name for name in names if name and name.lower() != "otlp"]


def _gateway_catalog(settings: CostSettings) -> Catalog | None:
    """The catalog the gateway prices from, or ``None`` (said) when a pricing file of the
    user's does not load, or part of it cannot take effect. An application goes on without
    such a file (logged), but the gateway prices every sender's spans: started, it priced
    them all at list price, "ready" to every probe, where the file meant a negotiated rate."""
    catalog, skipped = Catalog.load_lenient(settings.pricing_files, cache_dir=user_cache_dir())
    problems = [f"pricing file {rejected.path} does not load:\n{rejected.error}" for rejected in skipped]
    problems.extend(f"pricing file problem: {problem}" for problem in catalog.problems)
    for problem in problems:
        print(f"genai-cost gateway: {problem}", file=sys.stderr)
    if problems:
        print(
            "genai-cost gateway: not started: without these prices it would price every sender's spans at the"
            " shipped catalog's. Fix the file (genai-cost pricing validate --with-catalog FILE) or leave it out"
            " of GENAI_COST_PRICING_FILE",
            file=sys.stderr,
        )
        return None
    for doubt in catalog.doubts:
        print(f"genai-cost gateway: pricing file warning (priced as written): {doubt}", file=sys.stderr)
    return catalog


def _host_port(host: str, port: int) -> str:
    """``host:port`` as an endpoint setting takes it: an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _report(args: argparse.Namespace) -> int:
    from .conversations import group_conversations, render_conversations_json, render_conversations_text
    from .report import render_json, render_text, report_traces
    from .span_file import SpanFileError, read_span_file, read_span_stream

    if args.files.count("-") > 1:  # (read again, standard input would be empty: no totals)
        print("genai-cost report: - (standard input) can be given only once", file=sys.stderr)
        return EXIT_USAGE
    if args.trace == "":
        # `--trace "$TRACE_ID"` with the variable empty: every trace, read as the one asked for
        print("genai-cost report: --trace is empty: give a trace id (32 hex digits)", file=sys.stderr)
        return EXIT_USAGE
    repricer = None
    catalog = None
    if args.what_if:
        from .report import runtime_catalog
        from .what_if import Repricer, WhatIfError

        try:
            catalog = runtime_catalog()
            repricer = Repricer(catalog, args.what_if)
        except WhatIfError as exc:
            print(f"genai-cost report: {exc}", file=sys.stderr)
            return EXIT_USAGE
    spans = []
    problems: list[str] = []
    # The application's own prints among console-exporter spans: said, but not problems.
    skipped_output: list[str] = []
    # A file of which nothing could be read (missing, empty, not OTLP): the totals would leave
    # it out as if it held $0, so none are printed, only the problems (a script that ignores
    # the exit code must not read $0). A file with some bad lines still reports the rest.
    unreadable = False
    for name in args.files:
        try:
            if name != "-":
                spans.extend(read_span_file(Path(name), application_output=skipped_output))
            elif sys.stdin is None:  # (started with no standard input at all)
                raise SpanFileError(["<stdin>: cannot read span file: there is no standard input"], [])
            else:  # `some-exporter | genai-cost report -`, as Unix tools read "-"
                spans.extend(read_span_stream(sys.stdin.buffer, "<stdin>", application_output=skipped_output))
        except SpanFileError as exc:  # the rest of the file is still reported
            problems.extend(exc.problems)
            spans.extend(exc.spans)
            unreadable = unreadable or not exc.spans
    keys = tuple(args.conversation_key or CONVERSATION_KEYS)
    reports = report_traces(spans, catalog=catalog, conversation_keys=keys, repricer=repricer)
    if args.trace:
        reports = [report for report in reports if report.trace_id == args.trace]
    missing_trace = bool(args.trace) and not reports
    # Traces whose spans name the conversation asked for, counted for another one (their root's).
    elsewhere: list[tuple[str, str | None]] = []
    if args.conversation is not None:
        elsewhere = [
            (report.trace_id, report.conversation_id)
            for report in reports
            if args.conversation in report.other_conversation_ids
        ]
        reports = [report for report in reports if report.conversation_id == args.conversation]
    missing_conversation = args.conversation is not None and not reports and not missing_trace
    # Said, not problems: the files were read (the exit code stays 0).
    notes = [
        f"--what-if {source}={target}: no call of {source} in the traces reported"
        for source, target in (repricer.substitutions.items() if repricer is not None else ())
        if not any(source in report.what_if for report in reports)
    ]
    by_conversation = args.by == "conversation" or (args.by is None and args.conversation is not None)
    # The problems first: a reader that stops early (`| head`) must not make them go unsaid.
    for problem in problems:
        print(f"genai-cost report: {problem}", file=sys.stderr)
    for skipped in (*skipped_output, *notes):
        print(f"genai-cost report: {skipped}", file=sys.stderr)
    sys.stderr.flush()
    if not (unreadable or missing_trace or missing_conversation):
        try:
            if by_conversation:
                conversations, unnamed = group_conversations(reports)
                listed = conversations[: args.top] if args.top else conversations
                if args.json:
                    print(
                        render_conversations_json(
                            reports, conversations, listed, unnamed, keys, problems, skipped_output
                        )
                    )
                else:
                    print(render_conversations_text(reports, conversations, listed, unnamed, keys))
            else:
                shown = reports[: args.top] if args.top else reports
                if args.json:
                    print(render_json(reports, shown, problems, skipped_output))
                else:
                    print(render_text(reports, shown))
            sys.stdout.flush()
        except BrokenPipeError:  # the reader has gone; the exit code still says what was wrong
            _stdout_gone()
    if unreadable:
        print("genai-cost report: no totals: a file could not be read at all", file=sys.stderr)
        return EXIT_USAGE
    if missing_trace:
        print(f"genai-cost report: no trace {args.trace} in the files", file=sys.stderr)
        return EXIT_USAGE
    if missing_conversation:
        where = f" among the spans of trace {args.trace}" if args.trace else " in the files"
        print(
            f"genai-cost report: no trace names conversation {args.conversation!r}{where}"
            f" (read from {', '.join(keys)})"
            + "".join(
                f"; spans of trace {trace_id} name it, counted for conversation {counted!r}"
                for trace_id, counted in elsewhere[:5]
            ),
            file=sys.stderr,
        )
        return EXIT_USAGE
    return EXIT_USAGE if problems else 0


def _gateway(args: argparse.Namespace) -> int:
    import signal
    import threading

    from . import gateway as gw
    from .gateway_grpc import serve_grpc
    from .gateway_http import serve_http
    from .gateway_tls import GatewayTls, TlsConfigError
    from .gateway_upstream import (
        FanOutExporter,
        cost_meter_provider,
        described,
        exporter_endpoint,
        exporter_not_installed,
        parse_address,
        sends_to_itself,
        unreadable_exporter_files,
        upstream_exporters,
        variables_behind,
    )

    try:
        http_at = None if args.http == "off" else parse_address(args.http, "--http")
        grpc_at = None if args.grpc == "off" else parse_address(args.grpc, "--grpc")
    except ValueError as exc:
        print(f"genai-cost gateway: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if http_at is None and grpc_at is None:
        print("genai-cost gateway: --http and --grpc are both off: nothing to receive on", file=sys.stderr)
        return EXIT_USAGE
    tls: GatewayTls | None = None
    if args.tls_cert or args.tls_key or args.tls_client_ca:
        if not (args.tls_cert and args.tls_key):
            print("genai-cost gateway: TLS needs both --tls-cert and --tls-key", file=sys.stderr)
            return EXIT_USAGE
        ca = Path(args.tls_client_ca) if args.tls_client_ca else None
        tls = GatewayTls(Path(args.tls_cert), Path(args.tls_key), ca)
        try:
            tls.server_context()
        except TlsConfigError as exc:
            print(f"genai-cost gateway: cannot use the TLS files: {exc}", file=sys.stderr)
            return EXIT_USAGE
    settings = CostSettings.from_env()
    report_unknown_variables()
    catalog = _gateway_catalog(settings)
    if catalog is None:
        return EXIT_USAGE
    unreadable = unreadable_exporter_files()
    if unreadable:
        print(
            f"genai-cost gateway: cannot read the exporter's TLS files: {'; '.join(unreadable)}"
            " (every forward would fail its handshake)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        exporters = upstream_exporters()
    except Exception as exc:
        print(
            f"genai-cost gateway: cannot build the exporter to forward to: {exc}{variables_behind(exc, 'TRACES')}"
            f"{exporter_not_installed(exc, 'TRACES', none_too=False)}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    listening = [address for address in (http_at, grpc_at) if address is not None]
    for exporter in exporters:
        endpoint = exporter_endpoint(exporter)
        if endpoint is not None and sends_to_itself(endpoint, listening):
            host, port = endpoint
            # Only the receiver the exporter reaches is in the loop: name the flag that moves it.
            flags = [
                flag
                for flag, address in (("--http", http_at), ("--grpc", grpc_at))
                if address is not None and sends_to_itself(endpoint, [address])
            ]
            print(
                f"genai-cost gateway: the {type(exporter).__name__} would send to {host}:{port}, where the gateway "
                "itself listens (a loop). Set OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) "
                f"to your collector or backend, or move the gateway with {' / '.join(flags)}.",
                file=sys.stderr,
            )
            return EXIT_USAGE
    try:
        meter_provider = cost_meter_provider()
    except Exception as exc:
        print(
            "genai-cost gateway: cannot build the metrics exporter (OTEL_METRICS_EXPORTER): "
            f"{exc}{variables_behind(exc, 'METRICS')}{exporter_not_installed(exc, 'METRICS', none_too=True)}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    upstream = exporters[0] if len(exporters) == 1 else FanOutExporter(exporters)
    gateway = gw.CostGateway(upstream, settings=settings, catalog=catalog, meter_provider=meter_provider)
    http_server: Any = None
    grpc_server: Any = None
    # Before the ports open: a SIGTERM between the first answer and the handler killed the
    # gateway outright, with requests unanswered and no summary.
    stop = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        if stop.is_set():  # a second Ctrl-C must not cut an export short: the stop is bounded
            os.write(2, b"genai-cost gateway: already stopping, finishing the requests in progress\n")
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    receiver = "--http"  # which receiver a failure to listen is about: both may be on
    try:
        if http_at is not None:
            http_server = serve_http(gateway, *http_at, tls=tls)
        receiver = "--grpc"
        if grpc_at is not None:
            grpc_server = serve_grpc(gateway, *grpc_at, tls=tls)
    except (OSError, RuntimeError) as exc:
        host, port = (http_at if receiver == "--http" else grpc_at) or ("?", 0)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(
            f"genai-cost gateway: cannot listen on {_host_port(host, port)} ({receiver}): {reason}",
            file=sys.stderr,
        )
        if http_server is not None:
            http_server.shutdown()
            http_server.server_close()
        gateway.shutdown()
        if meter_provider is not None:
            meter_provider.shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        return EXIT_USAGE
    names = ", ".join(described(exporter) for exporter in exporters)
    if http_server is not None:
        host, port = http_server.server_address[:2]
        scheme = "https" if tls is not None else "http"
        print(f"genai-cost gateway: OTLP/HTTP on {scheme}://{_host_port(host, port)}/v1/traces", file=sys.stderr)
    if grpc_server is not None:
        where = f"{_host_port(grpc_at[0] if grpc_at else '', grpc_server.port)}{' over TLS' if tls is not None else ''}"
        print(f"genai-cost gateway: OTLP/gRPC on {where}", file=sys.stderr)
    if meter_provider is not None:
        print(f"genai-cost gateway: recording cost metrics ({os.environ['OTEL_METRICS_EXPORTER']})", file=sys.stderr)
    if gateway.pricing_enabled:
        print(f"genai-cost gateway: forwarding priced spans to {names}; Ctrl-C to stop", file=sys.stderr, flush=True)
    else:  # (inherited from an .env meant for an application's own pricing, most likely)
        print(
            "genai-cost gateway: GENAI_COST_ENABLED=false: pricing is off, so the spans are forwarded as they"
            " came, with no cost and no trace totals; unset it to price them",
            file=sys.stderr,
        )
        print(f"genai-cost gateway: forwarding UNPRICED spans to {names}; Ctrl-C to stop", file=sys.stderr, flush=True)

    try:
        while not stop.wait(1.0):
            pass
    finally:
        try:
            # Requests from now on are answered 503 / UNAVAILABLE (their senders retry); those
            # in progress get their answers, for gw.STOP_GRACE_S at most in all: one deadline,
            # not one per server, so that a hung upstream cannot outlast an orchestrator's grace.
            deadline = time.monotonic() + gw.STOP_GRACE_S

            def left() -> float:
                return max(0.0, deadline - time.monotonic())

            gateway.begin_stop()
            stopped_grpc = grpc_server.stop(grace=gw.STOP_GRACE_S) if grpc_server is not None else None
            if http_server is not None and not http_server.stop(left()):
                print("genai-cost gateway: stopped with HTTP requests still unanswered", file=sys.stderr)
            if stopped_grpc is not None:
                stopped_grpc.wait(left())
            gateway.shutdown(left())
            if meter_provider is not None:
                meter_provider.shutdown()  # after the spans: it exports what they recorded
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    print(f"genai-cost gateway: {gateway.summary()}", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
