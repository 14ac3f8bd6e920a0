"""The compiled catalog: pricing files reduced to plain data, and a snapshot of it.

Parsing thousands of YAML entries and validating them with pydantic takes far
longer than a process can afford at start-up (the imported catalog alone has
thousands of models). So each file is reduced once to an *intermediate
representation* (IR) made only of lists, dicts, strings and floats, already in
USD per token, and the IR of every shipped file is kept in
``pricing/compiled.json`` next to the sources, keyed by the SHA-1 of the file's
bytes. Loading the shipped catalog reads that snapshot and only parses a file
whose bytes no longer match (a stale snapshot is slower, never wrong);
``genai-cost pricing compile`` (and ``pricing import``) rewrites it and a test
checks it is up to date.

Nothing here imports pydantic or YAML unless a file has to be parsed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .model import ALL_RATE_FIELDS, PER_MILLION, RATE_FIELDS

_log = logging.getLogger("genai_cost")

if TYPE_CHECKING:
    from .schema import PricePeriod, PricingFile, RateSet, ServiceTierPrice

#: Bump when the IR layout changes: an old snapshot is then ignored.
IR_FORMAT = 7
#: Bump when validation gets stricter or the IR of a user's file gains what the shipped
#: files never have: a user's file cached before (as valid despite ``input: true``, or
#: without its ``infrastructure:`` section, or its ``doubts``) is then parsed again.
USER_CACHE_REVISION = 5
#: The whole shipped catalog, indexed, with the digest of every source file.
STATE_NAME = "compiled.json"
#: Each source file's IR alone: used to rebuild quickly when only some files changed.
SNAPSHOT_NAME = "compiled-files.json"
#: The price periods of every model, one JSON line each, read only for the models used.
MODELS_NAME = "compiled-models.jsonl"

FileIR = dict[str, Any]
RatesIR = list[float | None]


def digest(data: bytes) -> str:
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


# ------------------------------------------------------------------ file -> IR


def file_ir(parsed: PricingFile) -> FileIR:
    """The plain-data form of one validated pricing file."""
    ir: FileIR = {
        "version": parsed.version,
        "providers": [
            {
                "id": p.id,
                "name": p.name,
                "aliases": list(p.aliases),
                "model_prefixes": list(p.model_prefixes),
                "fallbacks": list(p.fallbacks),
                "regional_prefixes": dict(p.regional_prefixes),
                "regional_exempt": list(p.regional_exempt),
                "unpriced_prefixes": list(p.unpriced_prefixes),
                "implied_vendors": dict(p.implied_vendors),
                "fallback_per_search": p.fallback_per_search,
                "named_only": p.named_only,
                "priority": p.priority,
                "models": [
                    [
                        m.id,
                        m.kind,
                        m.origin,
                        list(m.match.exact) if m.match else [],
                        list(m.match.prefix) if m.match else [],
                        list(m.match.regex) if m.match else [],
                        [_period_ir(period) for period in m.prices],
                        m.name,
                    ]
                    for m in p.models
                ],
            }
            for p in parsed.providers
        ],
        "tools": [
            {
                "name": t.name,
                "aliases": list(t.aliases),
                "category": t.category,
                "per_call": t.per_call,
                "per_unit": t.per_unit,
                "unit_attribute": t.unit_attribute,
                "unit_name": t.unit_name,
                "source": t.source,
                "checked": t.checked.isoformat(),
            }
            for t in parsed.tools
        ],
        "discounts": [[d.provider, d.model, d.percent] for d in parsed.discounts],
    }
    # The cost layers that are not per span (genai_cost.layers), kept so that they are not
    # parsed again from the file; only when given, so that the shipped files' IR (which
    # never has them) is unchanged.
    infra = parsed.infrastructure
    if infra is not None:
        ir["infrastructure"] = [infra.monthly_usd, infra.monthly_traces, infra.allocation, infra.average_trace_seconds]
    if parsed.human_escalation is not None:
        ir["human_escalation"] = parsed.human_escalation.per_escalation
    # Likewise the values that are valid but almost surely a unit mistake, said as warnings
    # whenever the file is loaded, from its cached form too.
    from .doubts import doubtful_values  # (pydantic's schema: not on the path of a first price)

    doubts = doubtful_values(parsed)
    if doubts:
        ir["doubts"] = [[list(loc), doubt] for loc, doubt in doubts]
    return ir


def _rates_ir(rates: RateSet, gpus: float = 1.0) -> RatesIR:
    out: RatesIR = []
    for name in RATE_FIELDS:
        value = getattr(rates, name)
        out.append(None if value is None else value / PER_MILLION)
    out.append(rates.per_request)
    out.append(rates.per_search)
    out.append(None if rates.per_gpu_second is None else rates.per_gpu_second * gpus)
    assert len(out) == len(ALL_RATE_FIELDS)
    return out


def _tier_ir(tier: ServiceTierPrice, gpus: float) -> list[Any]:
    return [
        tier.multiplier,
        _rates_ir(tier, gpus),
        [[t.above_input_tokens, _rates_ir(t, gpus)] for t in tier.long_context],
    ]


def _period_ir(period: PricePeriod) -> list[Any]:
    gpus = float(period.gpus)
    start = period.effective_from
    if isinstance(start, dt.datetime) and start.tzinfo is None:
        start = start.replace(tzinfo=dt.timezone.utc)
    return [
        None if start is None else start.isoformat(),
        _rates_ir(period, gpus),
        [[t.above_input_tokens, _rates_ir(t, gpus)] for t in period.long_context],
        {name.lower(): _tier_ir(tier, gpus) for name, tier in period.service_tiers.items()},
        [
            [
                _minutes(w.start),
                _minutes(w.end),
                w.multiplier,
                _rates_ir(w, gpus),
                w.weekdays,
                w.weekday_utc_offset_minutes,
            ]
            for w in period.time_windows
        ],
        period.source,
        period.checked.isoformat(),
        gpus,
    ]


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


# -------------------------------------------------------------------- snapshot


def read_snapshot(directory: Path) -> dict[str, tuple[str, FileIR]]:
    """``{relative path: (sha1, IR)}`` from the snapshot; empty when absent,
    unreadable or of another format (the files are then parsed)."""
    try:
        raw = json.loads((directory / SNAPSHOT_NAME).read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(raw, dict) or raw.get("format") != IR_FORMAT or not isinstance(raw.get("files"), dict):
        return {}
    return {name: (entry[0], entry[1]) for name, entry in raw["files"].items()}


def write_snapshot(directory: Path, files: dict[str, tuple[str, FileIR]]) -> Path:
    """Write the snapshot deterministically (sorted keys, one file per line)."""
    path = directory / SNAPSHOT_NAME
    lines = [f'{{"format": {IR_FORMAT}, "files": {{']
    names = sorted(files)
    for index, name in enumerate(names):
        sha, ir = files[name]
        comma = "," if index < len(names) - 1 else ""
        lines.append(f"{json.dumps(name)}: {json.dumps([sha, ir], separators=(',', ':'), sort_keys=True)}{comma}")
    lines.append("}}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _digests(directory: Path, sources: list[Path]) -> dict[str, str]:
    return {path.relative_to(directory).as_posix(): digest(path.read_bytes()) for path in sources}


def read_state(directory: Path, sources: list[Path]) -> dict[str, Any] | None:
    """The compiled catalog state, if it was compiled from exactly these files."""
    try:
        raw = json.loads((directory / STATE_NAME).read_bytes())
        if raw.get("format") != IR_FORMAT or raw.get("digests") != _digests(directory, sources):
            return None
    except (OSError, ValueError, AttributeError):
        return None
    state: dict[str, Any] = raw["state"]
    try:
        bodies = (directory / MODELS_NAME).read_bytes()
    except OSError:
        return None
    if digest(bodies) != raw.get("models_digest"):
        return None
    state["bodies"] = bodies
    return state


def write_state(directory: Path, sources: list[Path], state: dict[str, Any]) -> Path:
    """Write the compiled state; model price periods are kept as JSON text and
    decoded only when a model is first used (most never are in one process)."""
    raw_models = state["raw"]
    lazy = {}
    lines: list[bytes] = []
    offset = 0
    for pricing_id in sorted(raw_models):
        provider_id, model, label, is_override = raw_models[pricing_id]
        body = list(model)
        body[3] = body[4] = body[5] = []  # the match rules live in the layers' indexes
        periods = body[6]
        if isinstance(periods, str):
            periods = json.loads(periods)
        line = json.dumps(periods, separators=(",", ":"), sort_keys=True).encode("utf-8")
        lines.append(line)
        # One packed string per model (parsing thousands of small lists costs more):
        # provider, id, kind, origin, file, override flag, [start, end) of its periods
        # in the models file, name.
        lazy[pricing_id] = "\x1f".join(
            [provider_id, body[0], body[1], body[2], label, "1" if is_override else "0",
             str(offset), str(offset + len(line)), body[7] or ""]
        )  # fmt: skip
        offset += len(line) + 1
    bodies = b"\n".join(lines) + b"\n"
    (directory / MODELS_NAME).write_bytes(bodies)
    document = {
        "format": IR_FORMAT,
        "digests": _digests(directory, sources),
        "models_digest": digest(bodies),
        "state": {**{k: v for k, v in state.items() if k != "bodies"}, "raw": lazy},
    }
    path = directory / STATE_NAME
    path.write_text(json.dumps(document, separators=(",", ":"), sort_keys=True) + "\n", encoding="utf-8")
    return path


#: The catalog version each content of the shipped catalog was released under.
VERSIONS_NAME = "versions.json"


def content_digest(directory: Path, sources: list[Path]) -> str:
    """One SHA-1 for the bytes of every source file: what a catalog version stands for."""
    listing = "".join(f"{name} {sha}\n" for name, sha in sorted(_digests(directory, sources).items()))
    return digest(listing.encode("utf-8"))


def version_problem(directory: Path, sources: list[Path], version: str) -> str | None:
    """Why ``version`` (the ``VERSION`` file) does not name the catalog's content, or ``None``
    (also for a directory without ``versions.json``).

    Every priced span carries the catalog version, so two catalogs that price differently
    must not share one: ``versions.json`` records the content digest of each version, and
    an edit of the files without a new version is caught here (by ``pricing compile`` and
    a test), not by a reader comparing two spans priced apart."""
    path = directory / VERSIONS_NAME
    if not path.exists():
        return None  # a catalog directory of one's own need not keep versions
    current = content_digest(directory, sources)
    try:
        recorded = json.loads(path.read_bytes())
    except (OSError, ValueError):
        recorded = None
    if not isinstance(recorded, dict):
        return f"{path} is not a JSON object of version -> content digest"
    if recorded.get(version) == current:
        return None
    owner = next((name for name, sha in recorded.items() if sha == current), None)
    if owner is not None:
        return f"the catalog's content is that of version {owner}, but {directory / 'VERSION'} says {version}"
    return (
        f"the catalog files changed since version {version} was recorded: write a new version in"
        f" {directory / 'VERSION'} (the date, YYYY.MM.DD; add .2, .3 on the same day) and record it in"
        f' {directory / VERSIONS_NAME} as "<version>": "{current}"'
    )


def snapshot_is_current(directory: Path, sources: list[Path]) -> list[str]:
    """Names of the source files the compiled state does not match (empty: current)."""
    try:
        recorded = json.loads((directory / STATE_NAME).read_bytes()).get("digests", {})
    except (OSError, ValueError, AttributeError):
        recorded = {}
    current = _digests(directory, sources)
    stale = [name for name, sha in current.items() if recorded.get(name) != sha]
    stale.extend(sorted(set(recorded) - set(current)))
    return stale


# ------------------------------------------------------- user files' compile cache


class UserFileCache:
    """Compiled user pricing files, kept in ``directory`` so that a process using
    ``GENAI_COST_PRICING_FILE`` does not pay for YAML + pydantic at every start.
    Entries are keyed by the SHA-1 of the file's bytes, so an edited file is parsed
    again.

    The directory is the caller's to choose (the span processor and the commands use
    :func:`genai_cost.config.user_cache_dir`): the pricing core reads no environment
    and writes nowhere it was not told to. One instance serves one load, and says
    once, not at every file, that the directory cannot be written."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._unwritable_reported = False

    def read(self, sha: str) -> FileIR | None:
        try:
            raw = json.loads((self.directory / _cache_name(sha)).read_bytes())
        except (OSError, ValueError):
            return None
        return raw if isinstance(raw, dict) else None

    def write(self, sha: str, ir: FileIR) -> None:
        """Best effort: a directory that cannot be written only costs speed."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            target = self.directory / _cache_name(sha)
            temporary = target.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps(ir, separators=(",", ":")), encoding="utf-8")
            os.replace(temporary, target)
        except OSError as exc:
            if not self._unwritable_reported:
                self._unwritable_reported = True
                # A warning: the caller chose this directory (genai_cost.config passes its
                # default one only when it can be created: a read-only home in a container
                # is no cache at all, not a warning at every start).
                _log.warning(
                    "genai-cost: cannot cache parsed pricing files in %s: %s;"
                    " they are parsed at every start (slower, never wrong)",
                    self.directory,
                    exc.strerror or exc,
                )


def _cache_name(sha: str) -> str:
    return f"{IR_FORMAT}.{USER_CACHE_REVISION}-{sha}.json"
