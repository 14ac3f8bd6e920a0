"""genai-cost's own options, read from ``GENAI_COST_*`` environment variables.

A bad value never stops the application: it is logged with the variable named
and the default is used (configuration is read at start-up, inside the host).
"""

from __future__ import annotations

import difflib
import logging
import math
import os
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Literal

_log = logging.getLogger("genai_cost")

ReportedCostPolicy = Literal["prefer", "compare", "ignore"]

#: Upper bounds (USD) of the cost bands written to ``gen_ai.trace.cost.band``.
DEFAULT_BANDS: tuple[float, ...] = (0.01, 0.05, 0.10, 0.50, 1.00, 5.00)

#: What :class:`~genai_cost.CostSpanProcessor` reads when given no settings.
PROCESSOR_VARIABLES = (
    "GENAI_COST_ENABLED",
    "GENAI_COST_PRICING_FILE",
    "GENAI_COST_REPORTED_COST",
    "GENAI_COST_DEFERRED_PRICING",
)
#: What :class:`~genai_cost.TraceCostExporter` reads for the options it is not given.
ROLLUP_VARIABLES = ("GENAI_COST_BANDS", "GENAI_COST_TRACE_IDLE_TIMEOUT", "GENAI_COST_MAX_TRACES")
#: The budget's limits (:meth:`genai_cost.BudgetLimits.from_env`).
BUDGET_VARIABLES = (
    "GENAI_COST_BUDGET_MAX_COST_USD",
    "GENAI_COST_BUDGET_MAX_LLM_CALLS",
    "GENAI_COST_BUDGET_MAX_TOKENS_PER_CALL",
)
#: The fixed cost of a hand-off to a person (:class:`genai_cost.HumanEscalationLayer`).
ESCALATION_VARIABLE = "GENAI_COST_HUMAN_ESCALATION_USD"
#: Every variable genai-cost reads; the last ones only the zero-code configurator (and the
#: gateway) reads: in code, budgets, layers and metrics are objects one adds.
KNOWN_VARIABLES = frozenset(
    (
        *PROCESSOR_VARIABLES,
        *ROLLUP_VARIABLES,
        *BUDGET_VARIABLES,
        "GENAI_COST_CACHE_DIR",
        "GENAI_COST_METRICS",
        "GENAI_COST_INFRA_MONTHLY_USD",
        "GENAI_COST_INFRA_MONTHLY_TRACES",
        "GENAI_COST_INFRA_ALLOCATION",
        "GENAI_COST_INFRA_AVG_TRACE_SECONDS",
        ESCALATION_VARIABLE,
    )
)
#: Variables of genai-cost's own test suite, not of the library.
_TEST_SUITE_PREFIX = "GENAI_COST_TEST_"


@dataclass(frozen=True)
class CostSettings:
    """Every option, with its environment variable and default.

    ======================================  ==========================================
    ``GENAI_COST_ENABLED``                  ``true``; ``false`` turns pricing off (spans pass untouched)
    ``GENAI_COST_PRICING_FILE``             extra pricing files or directories, separated by ``os.pathsep``
    ``GENAI_COST_REPORTED_COST``            ``prefer`` | ``compare`` | ``ignore`` a cost already on the span
    ``GENAI_COST_BANDS``                    comma-separated USD thresholds of the trace cost band
    ``GENAI_COST_TRACE_IDLE_TIMEOUT``       seconds a trace with no new span stays in the roll-up (300)
    ``GENAI_COST_MAX_TRACES``               traces held in the roll-up at once (10000)
    ``GENAI_COST_DEFERRED_PRICING``         ``true``: price off the application thread; ``false``: inline
    ======================================  ==========================================
    """

    enabled: bool = True
    pricing_files: tuple[str, ...] = ()
    reported_cost: ReportedCostPolicy = "prefer"
    bands: tuple[float, ...] = DEFAULT_BANDS
    trace_idle_timeout_s: float = 300.0
    max_traces: int = 10_000
    deferred_pricing: bool = True
    problems: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        # Settings made in code are held to what the environment's are: one that cannot
        # work is refused here, not found later as a wrong band label in production.
        files: Iterable[str | os.PathLike[str]] = self.pricing_files
        if isinstance(files, (str, os.PathLike)):
            files = (files,)  # one path, not the characters of one
        object.__setattr__(self, "pricing_files", tuple(os.fspath(f) for f in files))
        for name in ("enabled", "deferred_pricing"):
            # The string "false" is true: a flag given as text would silently mean on.
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False, not {getattr(self, name)!r}")
        if isinstance(self.trace_idle_timeout_s, bool) or not isinstance(self.trace_idle_timeout_s, int | float):
            raise TypeError(f"trace_idle_timeout_s must be a number of seconds, not {self.trace_idle_timeout_s!r}")
        if self.reported_cost not in ("prefer", "compare", "ignore"):
            raise ValueError(f"reported_cost must be 'prefer', 'compare' or 'ignore', not {self.reported_cost!r}")
        object.__setattr__(self, "bands", checked_bands(self.bands))
        if not (0 < self.trace_idle_timeout_s < math.inf):
            raise ValueError(f"trace_idle_timeout_s must be a number of seconds > 0, not {self.trace_idle_timeout_s!r}")
        if not (isinstance(self.max_traces, int) and self.max_traces >= 1):
            raise ValueError(f"max_traces must be a whole number >= 1, not {self.max_traces!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CostSettings:
        env = os.environ if environ is None else environ
        problems: list[str] = []
        defaults = cls()

        def flag(name: str, default: bool) -> bool:
            raw = env.get(name)
            if raw is None or raw.strip() == "":
                return default
            value = raw.strip().lower()
            if value in ("1", "true", "yes", "on"):
                return True
            if value in ("0", "false", "no", "off"):
                return False
            problems.append(f"{name}={raw!r}: expected true or false; using {str(default).lower()}")
            return default

        def number(name: str, default: float, minimum: float, *, integer: bool = False) -> float:
            value = env_number(env, name, problems, minimum=minimum, integer=integer, otherwise=f"using {default:g}")
            return default if value is None else value

        files = tuple(p for p in env.get("GENAI_COST_PRICING_FILE", "").split(os.pathsep) if p.strip())
        policy_raw = env.get("GENAI_COST_REPORTED_COST", "").strip().lower() or defaults.reported_cost
        policy: ReportedCostPolicy = defaults.reported_cost
        if policy_raw in ("prefer", "compare", "ignore"):
            policy = policy_raw  # type: ignore[assignment]
        else:
            problems.append(
                f"GENAI_COST_REPORTED_COST={policy_raw!r}: expected prefer, compare or ignore; using {policy}"
            )
        bands = defaults.bands
        raw_bands = env.get("GENAI_COST_BANDS")
        if raw_bands:
            try:
                bands = checked_bands(float(b) for b in raw_bands.split(","))
            except ValueError:
                problems.append(
                    f"GENAI_COST_BANDS={raw_bands!r}: expected increasing positive USD amounts, e.g. 0.01,0.1,1;"
                    f" using {','.join(f'{b:g}' for b in DEFAULT_BANDS)}"
                )
        settings = cls(
            enabled=flag("GENAI_COST_ENABLED", True),
            pricing_files=files,
            reported_cost=policy,
            bands=bands,
            trace_idle_timeout_s=number("GENAI_COST_TRACE_IDLE_TIMEOUT", defaults.trace_idle_timeout_s, 0.001),
            max_traces=int(number("GENAI_COST_MAX_TRACES", defaults.max_traces, 1, integer=True)),
            deferred_pricing=flag("GENAI_COST_DEFERRED_PRICING", True),
            problems=tuple(problems),
        )
        for problem in problems:
            _log.error("genai-cost configuration: %s", problem)
        return settings


def settings_from_env(variables: Collection[str]) -> CostSettings:
    """Settings from only ``variables`` of the environment, the rest at their defaults:
    each component reads, and speaks up about, only the variables it uses (a bad
    ``GENAI_COST_BANDS`` is the roll-up's to report, not the processor's)."""
    return CostSettings.from_env({name: value for name, value in os.environ.items() if name in variables})


def env_pricing_files() -> tuple[str, ...]:
    """The pricing files ``GENAI_COST_PRICING_FILE`` names, read as the runtime reads them
    (:meth:`CostSettings.from_env`), for the commands that price."""
    return settings_from_env(("GENAI_COST_PRICING_FILE",)).pricing_files


#: ``GENAI_COST_CACHE_DIR`` values that turn the compile cache off.
_CACHE_OFF = ("off", "0", "false", "none")


def user_cache_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """Where the span processor and the commands cache compiled user pricing files
    (``Catalog.load(..., cache_dir=)``), so that a process using
    ``GENAI_COST_PRICING_FILE`` does not pay for YAML + pydantic at every start:
    ``GENAI_COST_CACHE_DIR``, else ``$XDG_CACHE_HOME/genai-cost``, else
    ``~/.cache/genai-cost``; empty is unset. ``None``, no cache, for ``off`` (or
    ``false``, ``0``, ``none``), and for a default directory that could not be
    created (a read-only home in a container): that only costs speed, and is not
    worth a warning at every start, whereas a directory one chose that cannot be
    written is (the catalog says so when it fails to write there).

    Read here, not in the pricing core, which reads no environment and writes
    nowhere it is not told to (``Catalog.load(paths)`` alone caches nothing)."""
    env = os.environ if environ is None else environ
    configured = env.get("GENAI_COST_CACHE_DIR", "").strip()
    if configured:
        return None if configured.lower() in _CACHE_OFF else Path(configured)
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    default = Path(base) / "genai-cost"
    return default if _could_create(default) else None


def _could_create(directory: Path) -> bool:
    """Whether ``directory`` is, or could be made, a directory this process writes
    in: its nearest existing ancestor is a writable directory. Asked without creating
    anything (nothing is written unless a user file is compiled)."""
    for candidate in (directory, *directory.parents):
        if candidate.exists():
            return candidate.is_dir() and os.access(candidate, os.W_OK | os.X_OK)
    return False


#: (name, value) of the process environment's unknown variables already logged: every
#: reader of the variables checks them (the configurator, the processor set up in code,
#: ``BudgetLimits.from_env``), and one mistake is said once.
_reported: set[tuple[str, str]] = set()


def report_unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """Log every ``GENAI_COST_*`` variable genai-cost does not read, with the closest
    one it does: a misspelt budget limit is otherwise no limit at all, silently. A name
    in lower case (``genai_cost_budget_max_llm_calls``, from a lower-case compose file)
    is one too: variables are matched as written. Each is logged once per process for
    the process environment, every time for an ``environ`` given."""
    env = os.environ if environ is None else environ
    prefix = len("GENAI_COST_")
    unknown: list[str] = []
    for name in sorted(env):
        if not name.upper().startswith("GENAI_COST_") or name in KNOWN_VARIABLES:
            continue
        if name.startswith(_TEST_SUITE_PREFIX):
            continue
        unknown.append(name)
        if environ is None:
            key = (name, env[name])
            if key in _reported:
                continue
            _reported.add(key)
        if name.upper() in KNOWN_VARIABLES:
            hint = f" (genai-cost's variables are upper case: {name.upper()})"
        else:
            # Compared without the prefix they all share, which would make anything look close.
            known = sorted(k[prefix:] for k in KNOWN_VARIABLES)
            close = difflib.get_close_matches(name[prefix:].upper(), known, n=1, cutoff=0.75)
            hint = f" (did you mean GENAI_COST_{close[0]}?)" if close else ""
        _log.error("genai-cost configuration: %s is not a genai-cost variable, and is ignored%s", name, hint)
    return unknown


def checked_bands(bands: Iterable[float]) -> tuple[float, ...]:
    """``bands`` as a tuple, or ValueError unless they are increasing positive USD amounts."""
    if isinstance(bands, str | bytes):  # (iterated, "0.1,1" would be read a character at a time)
        raise TypeError(f"bands must be a sequence of USD amounts, e.g. (0.01, 0.1, 1), not the string {bands!r}")
    parsed: list[float] = []
    for band in bands:
        if isinstance(band, bool) or not isinstance(band, int | float):
            raise TypeError(f"bands must be USD amounts (numbers), not {band!r}")
        parsed.append(float(band))
    if not parsed or not all(0 < b < math.inf for b in parsed) or parsed != sorted(set(parsed)):
        shown = ", ".join(f"{b:g}" for b in parsed) or "none"
        raise ValueError(f"cost bands must be increasing positive USD amounts, e.g. 0.01, 0.1, 1; got {shown}")
    return tuple(parsed)


def env_number(
    env: Mapping[str, str],
    name: str,
    problems: list[str],
    *,
    minimum: float = 0.0,
    strict: bool = False,
    integer: bool = False,
    otherwise: str = "ignored",
) -> float | None:
    """A finite number from ``env[name]``; ``None`` when unset. A bad value is
    described in ``problems`` (naming the variable and what happens instead)
    and gives ``None``: configuration never stops the application."""
    raw = env.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    in_range = value > minimum if strict else value >= minimum
    if not (in_range and math.isfinite(value)) or (integer and value != int(value)):
        kind = "a whole number" if integer else "a number"
        problems.append(f"{name}={raw!r}: expected {kind} {'>' if strict else '>='} {minimum:g}; {otherwise}")
        return None
    return value


def env_flag(name: str, default: bool) -> bool:
    """A true / false switch from the environment; a value that is neither is
    logged with the variable named, and the default is used."""
    given = os.environ.get(name, "")
    raw = given.strip().lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    if raw:  # as CostSettings.from_env says it of every other variable
        using = str(default).lower()
        _log.error("genai-cost configuration: %s=%r: expected true or false; using %s", name, given, using)
    return default


def band_of(total_usd: float, bands: tuple[float, ...]) -> str:
    """The band a trace total falls in: ``lt_0.01``, ``0.01_0.05``, ..., ``gt_5.00``.

    Jaeger's tag search is exact-match only; a categorical band is how users
    find expensive traces there (``gen_ai.trace.cost.band=gt_5.00``).
    """
    lower: str | None = None
    for upper in bands:
        if total_usd < upper:
            return f"lt_{_usd_label(upper)}" if lower is None else f"{lower}_{_usd_label(upper)}"
        lower = _usd_label(upper)
    return f"gt_{_usd_label(bands[-1])}" if bands else "all"


def _usd_label(usd: float) -> str:
    """A threshold as a band label: cents (``0.05``, ``5.00``) unless that would merge
    finer thresholds (``0.001`` stays ``0.001``, not ``0.00``)."""
    text = f"{usd:.2f}"
    if float(text) != usd:
        text = format(Decimal(repr(usd)), "f")  # the shortest exact digits, never an exponent
    return text
