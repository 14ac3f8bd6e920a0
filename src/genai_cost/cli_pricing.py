"""``genai-cost pricing ...``: maintain the catalog.

* ``import --from genai-prices|litellm PATH``: regenerate ``pricing/imported/<dataset>.yaml``
  from an upstream dataset (and the compiled snapshot);
* ``compile``: rewrite the compiled snapshot after editing a catalog file;
* ``validate FILE...``: check pricing files, naming file, line and field of every error (exit 2);
* ``list``: the catalog's entries (filter by provider / model substring / origin);
* ``tools``: the catalog's tools, with their per-call and per-unit fees;
* ``diff``: where the imported datasets and the curated catalog disagree, and what the catalog chose.

Exit codes as for the rest of the CLI: 0 success, 2 a problem the user can fix.
"""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import json
import math
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .pricing import Catalog, ToolPricing

EXIT_USAGE = 2


def register(commands: Any) -> None:
    """Add the ``pricing`` command group to the ``genai-cost`` sub-parsers."""
    pricing = commands.add_parser(
        "pricing", help="import, compile, validate and list (models, tools) catalog prices; diff the sources"
    )
    sub = pricing.add_subparsers(title="pricing commands")

    def _pricing_help(args: argparse.Namespace) -> int:
        pricing.print_help()
        return EXIT_USAGE

    pricing.set_defaults(handler=_pricing_help)

    imp = sub.add_parser("import", help="import an upstream price dataset into pricing/imported/")
    imp.add_argument("--from", dest="dataset", required=True, choices=["genai-prices", "litellm"])
    imp.add_argument(
        "path",
        nargs="?",
        help="genai-prices: the installed genai_prices package directory (default: the importable one); "
        "litellm: model_prices_and_context_window_backup.json, or a litellm wheel",
    )
    imp.add_argument("--checked", type=dt.date.fromisoformat, default=None, help="date the prices were checked")
    imp.add_argument("--out", type=Path, default=None, help="catalog directory (default: the shipped pricing/)")
    imp.set_defaults(handler=_import)

    comp = sub.add_parser("compile", help="rewrite the compiled snapshot of the catalog (fast start-up)")
    comp.add_argument("--dir", type=Path, default=None, help="catalog directory (default: the shipped pricing/)")
    comp.add_argument("--check", action="store_true", help="only report whether it is up to date (exit 2 if not)")
    comp.set_defaults(handler=_compile)

    val = sub.add_parser("validate", help="check pricing files; names file, line and field of each error")
    val.add_argument("files", nargs="+", type=Path, help="pricing files, or directories of them (their *.yaml / *.yml)")
    val.add_argument("--with-catalog", action="store_true", help="also check them together with the shipped catalog")
    val.set_defaults(handler=_validate)

    lst = sub.add_parser("list", help="list catalog entries")
    lst.add_argument("--provider", help="a provider id or alias (exit 2 if the catalog has no such provider)")
    lst.add_argument("--model", help="substring of the model id")
    lst.add_argument("--origin", help="curated, genai-prices, litellm, user, ... (exit 2 if no entry has that origin)")
    lst.add_argument("--pricing-file", action="append", default=[], help=_PRICING_FILE_HELP)
    lst.add_argument("--json", action="store_true", help="print JSON")
    lst.set_defaults(handler=_quiet_pipe(_list))

    tools = sub.add_parser("tools", help="list the catalog's tools: per-call and per-unit fees, unit attribute")
    tools.add_argument("--pricing-file", action="append", default=[], help=_PRICING_FILE_HELP)
    tools.add_argument("--json", action="store_true", help="print JSON")
    tools.set_defaults(handler=_quiet_pipe(_tools))

    diff = sub.add_parser("diff", help="list price disagreements between sources and the catalog's choice")
    diff.add_argument("--provider", help="a provider id or alias: its entries only")
    diff.add_argument("--tolerance", type=_tolerance, default=0.005, help="relative difference ignored (0.005)")
    diff_format = diff.add_mutually_exclusive_group()
    diff_format.add_argument("--json", action="store_true", help="print JSON")
    diff_format.add_argument("--markdown", action="store_true", help="a table for docs/pricing-disagreements.md")
    diff.set_defaults(handler=_quiet_pipe(_diff))


_PRICING_FILE_HELP = "a pricing file or directory, loaded after GENAI_COST_PRICING_FILE's (repeatable)"


def _quiet_pipe(handler: Any) -> Any:
    """``genai-cost pricing list | head`` ends quietly when the reader goes away."""

    def run(args: argparse.Namespace) -> int:
        try:
            code: int = handler(args)
            sys.stdout.flush()
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        return code

    return run


def _tolerance(text: str) -> float:
    """A relative difference: a number from 0 (inclusive) to 1."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a relative difference from 0 to 1, e.g. 0.005; got {text!r}")
    return value


# ---------------------------------------------------------------------- import


def _import(args: argparse.Namespace) -> int:
    from . import catalog_import
    from .pricing.catalog import default_pricing_dir

    checked = args.checked or dt.datetime.now(dt.timezone.utc).date()
    directory = args.out or default_pricing_dir()
    try:
        if args.dataset == "genai-prices":
            try:
                result = catalog_import.import_genai_prices(args.path, checked)
            except ModuleNotFoundError as exc:
                if exc.name != "genai_prices":
                    raise
                print(
                    "genai-cost: --from genai-prices reads the installed genai-prices package, which is not"
                    " installed here: pip install genai-prices (or give its directory as PATH)",
                    file=sys.stderr,
                )
                return EXIT_USAGE
        else:
            if not args.path:
                print("genai-cost: --from litellm needs PATH (the JSON file or a litellm wheel)", file=sys.stderr)
                return EXIT_USAGE
            result = catalog_import.import_litellm(args.path, checked)
    except (OSError, ValueError, KeyError) as exc:
        print(f"genai-cost: cannot import {args.dataset} from {args.path}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    # Validated before it replaces anything: a dataset that does not fit the schema must
    # not leave the catalog unloadable.
    with tempfile.TemporaryDirectory() as staging:
        code = _validate_paths([catalog_import.write_import(result, Path(staging))])
    if code:
        print(f"genai-cost: the import does not validate, so {directory / 'imported'} is unchanged", file=sys.stderr)
        return code
    try:
        path = catalog_import.write_import(result, directory / "imported")
    except ValueError as exc:  # the other dataset's file, edited by hand: read before either is written
        print(f"genai-cost: {exc}; {directory / 'imported'} is unchanged", file=sys.stderr)
        return 1
    counts = catalog_import.count_by_provider(result.models)
    print(f"wrote {path}: {len(result.models)} models of {len(counts)} providers ({result.dataset} {result.version})")
    for reason, count in sorted(result.skipped.items()):
        print(f"  skipped {count}: {reason}")
    written = _write_snapshot(directory)
    print(f"wrote {written}")
    return 0


def _write_snapshot(directory: Path) -> Path:
    """Rewrite both compiled files: each source's IR, then the whole indexed catalog."""
    from .pricing import Catalog, compiled
    from .pricing.catalog import catalog_files
    from .pricing.files import read_pricing_file

    sources = catalog_files(directory)
    files = {}
    irs = []
    for path in sources:
        name = path.relative_to(directory).as_posix()
        ir = compiled.file_ir(read_pricing_file(path))
        files[name] = (compiled.digest(path.read_bytes()), ir)
        irs.append((ir, f"catalog:{name}", False))
    compiled.write_snapshot(directory, files)
    catalog = Catalog(irs)
    written = compiled.write_state(directory, sources, catalog.compiled_state())
    _say_version_problem(directory, sources)
    return written


def _say_version_problem(directory: Path, sources: list[Path]) -> bool:
    """Say (on stderr) when the ``VERSION`` file does not name this content of the catalog."""
    from .pricing import compiled
    from .pricing.catalog import catalog_version

    problem = compiled.version_problem(directory, sources, catalog_version(directory))
    if problem:
        print(f"genai-cost: {problem}", file=sys.stderr)
    return problem is not None


def _compile(args: argparse.Namespace) -> int:
    from .pricing import CatalogError, compiled
    from .pricing.catalog import catalog_files, default_pricing_dir

    directory = args.dir or default_pricing_dir()
    try:
        files = catalog_files(directory)
    except CatalogError as exc:
        return _report(exc.problems)
    if not files:
        print(f"genai-cost: {directory} has no pricing files (*.yaml, *.yml) to compile", file=sys.stderr)
        return EXIT_USAGE
    if args.check:
        stale = compiled.snapshot_is_current(directory, files)
        if stale:
            print(f"compiled snapshot is stale for: {', '.join(stale)}; run `genai-cost pricing compile`")
        else:
            print("compiled snapshot is up to date")
        unversioned = _say_version_problem(directory, files)
        return EXIT_USAGE if stale or unversioned else 0
    print(f"wrote {_write_snapshot(directory)}")
    return 0


# -------------------------------------------------------------------- validate


def _validate(args: argparse.Namespace) -> int:
    from .config import user_cache_dir
    from .pricing import Catalog
    from .pricing.catalog import pricing_file_paths

    paths = pricing_file_paths(args.files)
    found = _file_problems(paths)
    problems = list(found.problems)
    note = checked = ""
    if found.readable and (args.with_catalog or found.fallbacks or found.discounts):
        # Laid over the shipped catalog: a fallback and a discount must name a provider of it
        # or of these files (a provider that exists nowhere is a typo, and the discount would
        # never apply); with --with-catalog, a discount's model must match an entry too. The
        # files that read well are checked even when others did not: every problem is said
        # in one run, not one stage of them per run. Each file that stops the catalog from
        # loading is left out, with its problems, and the rest checked on.
        catalog, skipped = Catalog.load_lenient(found.readable, cache_dir=user_cache_dir())
        for left_out in skipped:
            problems.extend(left_out.error.problems)
        named = ", ".join(map(str, paths)) if len(paths) <= 3 else f"the {len(paths)} files validated"
        checked = f"{named} and the shipped catalog (catalog {catalog.version})"
        problems.extend(catalog.problems if args.with_catalog else catalog.unknown_discount_providers)
        if set(problems) & set(catalog.unknown_discount_providers):
            note = (
                f"genai-cost: discount providers were looked up in {checked}; a provider defined in"
                " another pricing file of yours counts only when that file is validated with this one"
            )
        if found.readable != paths:
            note = "\n".join(filter(None, (note, _PARTLY_CHECKED)))
        problems = list(dict.fromkeys(problems))
    if problems:
        return _report(problems, note)
    print(found.summary(len(paths)))
    _warn(found.doubts)
    if found.discounts:
        if args.with_catalog:
            print(f"discount providers and models checked against {checked}")
        else:
            print(f"discount providers checked against {checked}; their models are checked with --with-catalog")
    if args.with_catalog:
        print("valid together with the shipped catalog")
    return 0


@dataclass
class _Checked:
    """What ``pricing validate`` found in the files, each on its own: their problems, and
    what they hold, counted so that the summary shows what was checked (a file whose
    tools or discounts were not read as such would otherwise pass for valid unseen)."""

    problems: list[str] = field(default_factory=list)
    providers: int = 0
    models: int = 0
    tools: int = 0
    discounts: int = 0
    #: Whether a file names fallbacks, which only the catalog can check.
    fallbacks: bool = False
    #: The files that read without a problem of their own: checked with the catalog.
    readable: list[Path] = field(default_factory=list)
    #: Valid values that are almost surely a unit mistake (:mod:`.pricing.doubts`): said,
    #: not refused.
    doubts: list[str] = field(default_factory=list)
    #: How many values are doubtful (of a file with many, ``doubts`` says the first few).
    doubtful: int = 0

    def summary(self, files: int) -> str:
        warned = f"; {self.doubtful} warning(s), below" if self.doubtful else ""
        return (
            f"valid: {files} file(s), {self.models} model(s) of {self.providers} provider(s),"
            f" {self.tools} tool(s), {self.discounts} discount(s){warned}"
        )


def _file_problems(paths: list[Path]) -> _Checked:
    """Every problem of each file on its own (one that holds nothing included: almost
    certainly the wrong file), and what they hold."""
    from .pricing import CatalogError, compiled
    from .pricing.catalog import empty_file_problem
    from .pricing.doubts import doubt_messages, doubtful_values
    from .pricing.files import read_pricing_file

    found = _Checked()
    for path in paths:
        try:
            parsed = read_pricing_file(path)
        except CatalogError as exc:
            found.problems.extend(exc.problems)
            continue
        empty = empty_file_problem(compiled.file_ir(parsed), str(path))
        if empty is not None:
            found.problems.append(empty)
        else:
            found.readable.append(path)
        found.providers += len(parsed.providers)
        found.models += sum(len(p.models) for p in parsed.providers)
        found.tools += len(parsed.tools)
        found.discounts += len(parsed.discounts)
        found.fallbacks = found.fallbacks or any(p.fallbacks for p in parsed.providers)
        doubtful = doubtful_values(parsed)
        found.doubtful += len(doubtful)
        found.doubts.extend(doubt_messages(str(path), doubtful))
    return found


#: Said when files with problems of their own were left out of the check with the catalog.
_PARTLY_CHECKED = (
    "genai-cost: the files with problems of their own were left out of the check with the shipped catalog;"
    " validate again once they are mended"
)


def _report(problems: list[str], note: str = "") -> int:
    for problem in problems:
        print(problem, file=sys.stderr)
    if note:
        print(note, file=sys.stderr)
    print(f"{len(problems)} error(s)", file=sys.stderr)
    return EXIT_USAGE


def _warn(doubts: list[str]) -> None:
    for doubt in doubts:
        print(f"warning: {doubt}", file=sys.stderr)


def _validate_paths(paths: list[Path]) -> int:
    found = _file_problems(paths)
    if found.problems:
        return _report(found.problems)
    print(found.summary(len(paths)))
    _warn(found.doubts)
    return 0


# ------------------------------------------------------------------------ list


def _loaded(pricing_files: list[str]) -> Catalog:
    """The catalog as the runtime prices with it, and what it left out of the user's files
    said on stderr as ``genai-cost price`` says it (a listing that quietly omits a discount,
    or a file that holds nothing, would pass for the user's prices)."""
    from .config import user_cache_dir
    from .pricing import Catalog

    catalog = Catalog.load(_user_files(pricing_files), cache_dir=user_cache_dir())
    say_file_issues(catalog.problems, catalog.doubts)
    return catalog


def say_file_issues(problems: Sequence[str], doubts: Sequence[str]) -> None:
    """What a loaded catalog left out of the user's files, and the values of theirs it
    prices as written though they are almost surely a unit mistake, said on stderr as the
    runtime logs them."""
    for problem in problems:
        print(f"genai-cost: pricing file problem (left out; the rest still prices): {problem}", file=sys.stderr)
    for doubt in doubts:
        print(f"genai-cost: pricing file warning (priced as written): {doubt}", file=sys.stderr)


def _list(args: argparse.Namespace) -> int:
    catalog = _loaded(args.pricing_file)
    provider_id = None
    if args.provider:
        provider_id = catalog.provider_id(args.provider)
        if provider_id is None:
            # A misspelt provider listed nothing and exited 0, as if it had no entries.
            near = catalog.near_misses("", args.provider)
            return _unknown("provider", args.provider, near, catalog.provider_ids(), catalog.version)
    models = catalog.models
    if args.origin:
        origins = sorted({entry.origin for entry in models.values()})
        if args.origin == "user" and args.origin not in origins and _user_files(args.pricing_file):
            # Loaded, but they price tools or give discounts only: an answer, and an empty one.
            print(
                "genai-cost: your pricing files hold no model entries (their tools: `genai-cost pricing"
                " tools`; their discounts apply to the catalog's entries, shown by `genai-cost price --explain`)",
                file=sys.stderr,
            )
            if args.json:
                print("[]")
            return 0
        if args.origin not in origins:
            near = difflib.get_close_matches(args.origin.lower(), origins, n=3)
            code = _unknown("origin", args.origin, near, origins, catalog.version)
            if args.origin == "user":
                print(
                    "genai-cost: 'user' is the origin of the entries of your own pricing files, and none is"
                    " loaded (GENAI_COST_PRICING_FILE, --pricing-file)",
                    file=sys.stderr,
                )
            return code
    rows: list[dict[str, Any]] = []
    for pricing_id, entry in sorted(models.items()):
        if provider_id is not None and entry.provider_id != provider_id:
            continue
        if args.model and args.model.lower() not in entry.model_id.lower():
            continue
        if args.origin and entry.origin != args.origin:
            continue
        period = entry.periods[-1]
        rates = period.rates
        rows.append(
            {
                "pricing_id": pricing_id,
                "kind": entry.kind,
                "origin": entry.origin,
                "layer": catalog.layer_of(pricing_id),
                "input": _per_m(rates.input),
                "output": _per_m(rates.output),
                "cache_read": _per_m(rates.cache_read),
                "periods": len(entry.periods),
                "source": period.source,
                "checked": period.checked,
            }
        )
    if not rows:
        # Each value is known (else exit 2 above), but together they select nothing: said, so
        # that an empty list is not read as the catalog's answer to a narrower question.
        asked = ", ".join(f"--{name} {value}" for name, value in _filters(args))
        near = catalog.near_misses(args.model, provider_id) if args.model else []
        hint = f"; did you mean {' or '.join(near)}?" if near else ""
        print(f"genai-cost: no entry matches {asked or 'the catalog'}{hint}", file=sys.stderr)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for row in rows:
        print(
            f"{row['pricing_id']:<60} {row['kind']:<10} {row['origin']:<13} "
            f"in {_fmt(row['input'])} out {_fmt(row['output'])} cached {_fmt(row['cache_read'])}"
        )
    providers = len({row["pricing_id"].split("/", 1)[0] for row in rows})
    print(f"{len(rows)} entries of {providers} provider(s) (catalog {catalog.version}, {catalog.model_count} in all)")
    return 0


def _user_files(pricing_files: list[str]) -> list[str]:
    from .config import env_pricing_files

    return [*env_pricing_files(), *pricing_files]


def _filters(args: argparse.Namespace) -> list[tuple[str, str]]:
    return [(name, getattr(args, name)) for name in ("provider", "model", "origin") if getattr(args, name)]


def _unknown(what: str, value: str, near: list[str], known: list[str], version: str) -> int:
    """Exit 2 for a filter value the catalog has none of, as ``genai-cost price`` does for an
    unknown model: the closest values, or else every one there is."""
    print(f"genai-cost: no {what} {value!r} in the catalog (catalog {version})", file=sys.stderr)
    if near:
        print(f"genai-cost: did you mean {' or '.join(near)}?", file=sys.stderr)
    else:
        print(f"genai-cost: the {what}s are: {', '.join(known)}", file=sys.stderr)
    return EXIT_USAGE


# ----------------------------------------------------------------------- tools


def _tools(args: argparse.Namespace) -> int:
    catalog = _loaded(args.pricing_file)
    # The catalog maps every name and alias to its tool: one row per tool, with the names
    # that reach it (a later file's tool of the same name takes the name, not the aliases).
    names: dict[int, list[str]] = {}
    by_key: dict[int, ToolPricing] = {}
    for name, tool in catalog.tools.items():
        names.setdefault(id(tool), []).append(name)
        by_key[id(tool)] = tool
    rows: list[dict[str, Any]] = []
    for key, tool in sorted(by_key.items(), key=lambda item: (item[1].name.lower(), item[1].is_override)):
        rows.append(
            {
                "name": tool.name,
                "names": sorted(names[key]),
                "category": tool.category,
                "per_call": tool.per_call,
                "per_unit": tool.per_unit,
                "unit_attribute": tool.unit_attribute,
                "unit_name": tool.unit_name,
                "layer": "override" if tool.is_override else "curated",
                "defined_in": tool.defined_in,
                "source": tool.source,
                "checked": tool.checked,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for row in rows:
        unit = "-"
        if row["unit_attribute"]:
            unit = f"{_usd(row['per_unit'])} x {row['unit_attribute']}"
            unit += f" ({row['unit_name']})" if row["unit_name"] else ""
        print(
            f"{row['name']:<40} {row['category']:<10} {_layer_word(row['layer']):<9} "
            f"per call {_usd(row['per_call'])} per unit {unit} checked {row['checked']} {row['source']}"
        )
    print(f"{len(rows)} tool(s) (catalog {catalog.version})")
    return 0


def _per_m(value: float | None) -> float | None:
    return None if value is None else round(value * 1e6, 6)


def _fmt(value: float | None) -> str:
    return "-" if value is None else _usd(value)


def _usd(value: float) -> str:
    """A USD amount as plain decimal: ``0.00001``, not ``1e-05`` (``:g``) nor float noise
    (``0.30000000000000004``): 15 significant digits (as many as a float keeps of a decimal
    price), written out without an exponent or trailing zeros."""
    if value == 0:
        return "0"
    return format(Decimal(f"{value:.15g}"), "f")


def _layer_word(layer: str) -> str:
    """The word the text of ``pricing tools`` shows for a tool's layer: ``user`` for one of
    the user's own files, as ``pricing list`` shows (and ``--origin user`` selects) an entry
    of them, and as the docs name that layer ("user files"). The ``--json`` ``layer`` keeps
    ``override``, as ``pricing list --json`` has it."""
    return "user" if layer == "override" else layer


# ------------------------------------------------------------------------ diff


def _diff(args: argparse.Namespace) -> int:
    from .pricing.diff import disagreements

    rows = disagreements(provider=args.provider, tolerance=args.tolerance)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    if args.markdown:
        print("| name | what | values | catalog uses |")
        print("|---|---|---|---|")
        for row in rows:
            values = ", ".join(f"{source} {value:g}" for source, value in row["values"].items())
            name = f"{row['provider']}/{row['model']}"
            print(f"| {name} | {row['rate']} | {values} | `{row['chosen_id']}` ({row['chosen']}) |")
        print(f"\n{len(rows)} disagreement(s).")
        return 0
    for row in rows:
        values = ", ".join(f"{source} {value:g}" for source, value in row["values"].items())
        print(f"{row['provider']}/{row['model']} {row['rate']}: {values} -> {row['chosen']} ({row['why']})")
    print(f"{len(rows)} disagreement(s)")
    return 0
