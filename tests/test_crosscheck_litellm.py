"""Cross-check: genai-cost against LiteLLM's ``cost_per_token`` on sampled calls.

LiteLLM is heavy (openai, tiktoken, tokenizers, boto3, aiohttp...) and its
1.109.1 metadata pins a ``certifi`` newer than the index here has, so it is not
installed into the test environment. It lives in a cached venv,
``.test-tools/litellm-1.109.1/`` (git-ignored), built on first use: litellm
itself with ``--no-deps``, then its requirements with certifi unpinned. One
subprocess prices every sampled case (about 5 s, mostly LiteLLM's import).

Two checks:
* every imported LiteLLM entry, alone (with the curated providers' aliases),
  reproduces ``cost_per_token`` except documented classes;
* the full catalog (curated > genai-prices > LiteLLM) against LiteLLM: every
  difference falls in a class documented in docs/pricing.md.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from genai_cost.catalog_import import LITELLM_PROVIDERS, _canonical, _ll_marked_free, _ll_model_id
from genai_cost.pricing import Catalog, PricingError, TokenUsage
from support.venvs import _locked

#: Checks the catalog's data and import tooling, which do not vary with the Python or the
#: dependency versions: left out of the supported-versions runs (tests/integration).
pytestmark = pytest.mark.catalog_data

ROOT = Path(__file__).resolve().parents[1]
VERSION = "1.109.1"
VENV = ROOT / ".test-tools" / f"litellm-{VERSION}"
SEED = 20261122
REQUIREMENTS = [
    "fastuuid>=0.14.0,<1.0",
    "filelock>=3.16.1,<5",
    "httpx[http2]>=0.28.0,<1.0",
    "openai>=2.20.0,<4.0.0",
    "python-dotenv>=1.0.0,<2.0",
    "pyyaml>=6.0.3,<7.0",
    "packaging>=24.0",
    "importlib-metadata>=8.0.0,<9.0",
    "tiktoken>=0.8.0,<1.0",
    "tokenizers>=0.21.0,<1.0",
    "huggingface-hub>=0.34.0,<2.0",
    "click>=8.0.0,<9.0",
    "jinja2>=3.1.6,<4.0",
    "aiohttp>=3.14.2,<4.0",
    "anyio>=4.14.0,<5.0",
    "pydantic>=2.11.0,<3.0.0",
    "pydantic-settings>=2.14.1,<3.0",
    "jsonschema>=4.0.0,<5.0",
    "boto3>=1.43.117,<2.0",
    "certifi",
    "typing-extensions>=4.13.0,<5.0",
]

RUNNER = r"""
import json, os, sys, warnings
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
warnings.filterwarnings("ignore")
import logging
logging.disable(logging.CRITICAL)
import datetime
import litellm
from litellm.litellm_core_utils.llm_cost_calc import utils as cost_utils
out = []
cases = json.load(open(sys.argv[1]))
for case in cases:
    # LiteLLM bills off-peak windows at "now": pin now to the case's time.
    at = datetime.datetime.fromtimestamp(case["at"], datetime.timezone.utc)
    cost_utils.current_billing_time = lambda at=at: at
    try:
        kwargs = dict(
            model=case["key"],
            prompt_tokens=case["input"],
            completion_tokens=case["output"],
            cache_read_input_tokens=case["cache_read"],
            cache_creation_input_tokens=case["cache_write"],
        )
        if case["tier"]:
            kwargs["service_tier"] = case["tier"]
        prompt, completion = litellm.cost_per_token(**kwargs)
        out.append(prompt + completion)
    except Exception as exc:  # an entry LiteLLM itself cannot price
        out.append(repr(exc)[:200])
json.dump(out, open(sys.argv[2], "w"))
"""


def _venv_python() -> Path:
    """The LiteLLM venv, built once under a lock: the supported-version runs run this file in
    other processes at the same time, and one of them found a venv still being built."""
    python = VENV / "bin" / "python"
    complete = VENV / ".complete"
    if complete.exists():
        return python
    with _locked(VENV.name):
        if complete.exists():
            return python
        shutil.rmtree(VENV, ignore_errors=True)  # a build that did not finish
        VENV.parent.mkdir(parents=True, exist_ok=True)
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        try:
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=120)
            subprocess.run([*pip, "--no-deps", f"litellm=={VERSION}"], check=True, timeout=600)
            subprocess.run([*pip, *REQUIREMENTS], check=True, timeout=900)
        except (subprocess.SubprocessError, OSError) as exc:
            pytest.skip(f"cannot build the LiteLLM venv in {VENV}: {exc}")
        complete.touch()
    return python


@pytest.fixture(scope="module")
def litellm_python() -> Path:
    return _venv_python()


@pytest.fixture(scope="module")
def litellm_data(litellm_python: Path) -> dict[str, Any]:
    found = list(VENV.glob("lib/python*/site-packages/litellm/model_prices_and_context_window_backup.json"))
    assert found, "litellm's JSON is missing from the venv"
    data: dict[str, Any] = json.loads(found[0].read_text(encoding="utf-8"))
    return data


def _provider(entry: dict[str, Any]) -> str:
    raw = str(entry.get("litellm_provider") or "")
    if raw.startswith("vertex_ai"):
        return "google-vertex"
    return LITELLM_PROVIDERS.get(raw, _canonical(raw or "unknown"))


def sample_cases(data: dict[str, Any], rng: random.Random) -> list[dict[str, Any]]:
    cases = []
    for key in sorted(data):
        entry = data[key]
        if not isinstance(entry, dict) or entry.get("mode") not in ("chat", "responses", "completion", "embedding"):
            continue
        if entry.get("input_cost_per_token") is None:
            continue  # not imported: no token price, or input priced per second / image (see the file header)
        if entry.get("litellm_provider") == "github_copilot":
            continue  # LiteLLM's Copilot path tries to log in (5 s network timeout per call)
        thresholds = sorted({int(m.group(1)) * 1000 for k in entry if (m := re.search(r"_above_(\d+)k_tokens", k))})
        tiers = sorted({t for t in ("priority", "flex") if f"input_cost_per_token_{t}" in entry})
        for _ in range(1 + (1 if thresholds else 0) + (1 if tiers else 0)):
            if thresholds and rng.random() < 0.5:
                input_tokens = rng.choice(thresholds) + rng.choice([-1, 0, 1, rng.randint(2, 100_000)])
            else:
                input_tokens = rng.choice(
                    [rng.randint(1, 2_000), rng.randint(2_000, 60_000), rng.randint(60_000, 120_000)]
                )
            cache_read = (
                rng.randint(0, input_tokens // 2)
                if entry.get("cache_read_input_token_cost") is not None and rng.random() < 0.6
                else 0
            )
            cache_write = (
                rng.randint(0, (input_tokens - cache_read) // 2)
                if entry.get("cache_creation_input_token_cost") is not None and rng.random() < 0.5
                else 0
            )
            output = (
                0
                if entry.get("mode") == "embedding" or entry.get("output_cost_per_token") is None
                else rng.randint(0, 20_000)
            )
            cases.append(
                {
                    "key": key,
                    "provider": _provider(entry),
                    "model_id": _ll_model_id(key, str(entry.get("litellm_provider") or "")),
                    "input": input_tokens,
                    "output": output,
                    "cache_read": cache_read,
                    "cache_write": cache_write,
                    "tier": rng.choice(tiers) if tiers and rng.random() < 0.5 else None,
                    "at": 1767225600 + rng.randint(0, 320 * 86400),  # during 2026
                }
            )
    return cases


def litellm_costs(python: Path, cases: list[dict[str, Any]], workdir: Path) -> list[Any]:
    """LiteLLM's cost of every case, from one subprocess (offline: its bundled JSON)."""
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "HF_HUB_OFFLINE": "1", "AWS_REGION_NAME": "us-east-1"}
    (workdir / "cases.json").write_text(json.dumps(cases), encoding="utf-8")
    subprocess.run(
        [str(python), "-c", RUNNER, str(workdir / "cases.json"), str(workdir / "costs.json")],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=True,
    )
    costs: list[Any] = json.loads((workdir / "costs.json").read_text(encoding="utf-8"))
    return costs


def our_cost(catalog: Catalog, case: dict[str, Any]) -> tuple[float | None, str, str]:
    usage = TokenUsage(
        input_tokens=case["input"],
        output_tokens=case["output"],
        cache_read_tokens=case["cache_read"],
        cache_write_tokens=case["cache_write"],
    )
    try:
        resolution = catalog.resolve(case["key"], case["provider"])
        at = None if case["at"] is None else float(case["at"])
        cost = catalog.price_resolved(resolution, usage, service_tier=case["tier"], at=at)
    except PricingError as exc:
        return None, "", exc.reason
    return cost.total_usd, cost.pricing_id, catalog.layer_of(cost.pricing_id)


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 + 1e-7 * abs(b)


def compare(catalog: Catalog, cases: list[dict[str, Any]], costs: list[Any]) -> tuple[int, list[dict[str, Any]]]:
    compared = 0
    differences = []
    for case, theirs in zip(cases, costs, strict=True):
        if not isinstance(theirs, float | int):
            continue  # LiteLLM raised for its own entry
        compared += 1
        ours, pricing_id, layer = our_cost(catalog, case)
        if ours is not None and _close(ours, float(theirs)):
            continue
        differences.append({**case, "ours": ours, "theirs": float(theirs), "pricing_id": pricing_id, "layer": layer})
    return compared, differences


def _format(diffs: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{d['key']} [{d['provider']}] tier={d['tier']} in={d['input']} cr={d['cache_read']} cw={d['cache_write']} "
        f"out={d['output']}: ours {d['ours']} ({d['pricing_id']}, {d['layer']}) vs litellm {d['theirs']}"
        for d in diffs[:300]
    )


#: Bedrock models AWS also sells through a cheaper ``global.`` profile (docs/pricing.md, the
#: ``regional_exempt`` rule of pricing/aws-bedrock.yaml): in-region ids cost 1.1x.
# (LiteLLM also has vendorless `claude-sonnet-4-5-...-v1:0`: read with its vendor, implied_vendors)
_GLOBAL_PROFILE_MODELS = re.compile(
    r"(?:anthropic\.)?claude-[a-z]+-(?:4-[5-9]|[5-9])(?:-|$)|amazon\.nova-2-lite|moonshotai\.kimi-k3"
    r"|openai\.gpt-(?:5\.[4-6]|6)|xai\.grok-4\.[67]|zai\.glm-5\.3"
)


def explain(
    diff: dict[str, Any], catalog: Catalog, data: dict[str, Any], *, imported_only: bool = False
) -> str | None:
    """The documented class (docs/pricing.md, "Disagreements") of a difference
    where LiteLLM's calculator departs from LiteLLM's own data; None if unexplained.
    Each class is checked by recomputing LiteLLM's figure under its rule."""
    entry = data[diff["key"]]
    provider = str(entry.get("litellm_provider"))
    theirs = diff["theirs"]
    if theirs == 0 and _every_cost_zero(entry) and _ll_marked_free(diff["key"], provider) is None:
        # docs/pricing.md: an entry whose every rate is 0 and that nothing marks free is not
        # imported (Cohere command-a-plus-05-2026, the codestral/ beta endpoint): the name is
        # unknown, or priced by another entry, never a silent $0.
        return "LiteLLM's all-zero entry not imported (unknown beats a wrong $0)"
    if diff["ours"] is None:
        if diff["layer"] == "missing_rate":
            return "missing rate: LiteLLM bills a class without a rate at $0, genai-cost reports missing_rate"
        return None
    tier = diff["tier"]
    if tier is not None:
        untiered, _, _ = our_cost(catalog, {**diff, "tier": None})
        if untiered is not None and _close(untiered, theirs) and provider.startswith("fireworks_ai"):
            return "LiteLLM's Fireworks calculator ignores service_tier"
        if _close(_tier_fallback_cost(entry, diff), theirs):
            return "service tier past the long-context threshold: LiteLLM falls back per class to the standard long-context rate"
    if (
        diff["provider"] == "aws-bedrock"
        and _GLOBAL_PROFILE_MODELS.match(diff["model_id"])
        and _close(diff["ours"], 1.1 * theirs)
    ):
        # docs/pricing.md: Bedrock in-region ids (no profile prefix) of models that also have a
        # cheaper global profile cost 1.1x the global price, as genai-prices has them.
        twin = data.get(f"global.{diff['model_id']}")
        if twin is None or twin.get("input_cost_per_token") == entry.get("input_cost_per_token"):
            return "LiteLLM prices in-region Bedrock ids of models with a global profile at the global rate (AWS: 1.1x)"
        if imported_only:
            # LiteLLM's own in-region entry already carries the 1.1x (Kimi K3: $3.30). Only the
            # imported file priced alone reaches it: the shipped catalog has the id from genai-prices.
            return "imported alone: LiteLLM's in-region entry carries the 1.1x the curated rule adds again"
    if provider == "perplexity":
        flat = diff["input"] * float(entry.get("input_cost_per_token") or 0) + diff["output"] * float(
            entry.get("output_cost_per_token") or 0
        )
        if _close(flat, theirs):
            return "LiteLLM's Perplexity calculator ignores cache reads, long-context tiers and request fees"
    return None


def _every_cost_zero(entry: dict[str, Any]) -> bool:
    """Every rate the importer reads is 0 (Lyria's per-clip fees are not token rates)."""
    import datetime as dt

    from genai_cost.catalog_import import ImportResult, _all_zero, _ll_period

    return _all_zero(_ll_period(entry, ImportResult("litellm", VERSION, dt.date(2026, 11, 22), [])))


def _tier_fallback_cost(entry: dict[str, Any], diff: dict[str, Any]) -> float:
    """LiteLLM's rule past a threshold with a service tier, class by class: the
    tier's long-context key, else the STANDARD long-context key, else the tier's
    flat key, else the standard key."""
    tier = diff["tier"]
    above = [int(m.group(1)) * 1000 for k in entry if (m := re.match(r"input_cost_per_token_above_(\d+)k_tokens$", k))]
    passed = max((t for t in above if diff["input"] > t), default=None)

    def rate(base: str) -> float:
        keys = (
            [f"{base}_above_{passed // 1000}k_tokens_{tier}", f"{base}_above_{passed // 1000}k_tokens"]
            if passed
            else []
        )
        keys += [f"{base}_{tier}", base]
        for key in keys:
            if entry.get(key) is not None:
                return float(entry[key])
        return 0.0

    uncached = diff["input"] - diff["cache_read"] - diff["cache_write"]
    return (
        uncached * rate("input_cost_per_token")
        + diff["cache_read"] * (rate("cache_read_input_token_cost") or rate("input_cost_per_token"))
        + diff["cache_write"] * (rate("cache_creation_input_token_cost") or rate("input_cost_per_token"))
        + diff["output"] * rate("output_cost_per_token")
    )


@pytest.fixture(scope="module")
def sampled(
    litellm_python: Path, litellm_data: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[dict[str, Any]], list[Any]]:
    cases = sample_cases(litellm_data, random.Random(SEED))
    return cases, litellm_costs(litellm_python, cases, tmp_path_factory.mktemp("litellm"))


def test_imported_litellm_entries_reproduce_cost_per_token(
    sampled: tuple[list[dict[str, Any]], list[Any]], litellm_data: dict[str, Any]
) -> None:
    from genai_cost.pricing.diff import source_catalogs

    catalog = source_catalogs()[1]["litellm"]
    cases, costs = sampled
    compared, differences = compare(catalog, cases, costs)
    assert compared >= 1000, f"only {compared} cases compared"
    reasons = Counter(explain(d, catalog, litellm_data, imported_only=True) for d in differences)
    unexplained = [d for d in differences if explain(d, catalog, litellm_data, imported_only=True) is None]
    assert not unexplained, f"{len(unexplained)} of {compared} differ ({dict(reasons)}):\n" + _format(unexplained)


def test_catalog_against_litellm(sampled: tuple[list[dict[str, Any]], list[Any]], litellm_data: dict[str, Any]) -> None:
    """The shipped catalog (curated > genai-prices > LiteLLM) against LiteLLM:
    each difference is either one of LiteLLM's calculator classes above, or the
    catalog deliberately chose another source for that entry (listed, with the
    reason, in docs/pricing.md)."""
    from test_crosscheck_genai_prices import documented_ids

    catalog = Catalog.load()
    cases, costs = sampled
    compared, differences = compare(catalog, cases, costs)
    assert compared >= 1000
    documented = documented_ids()
    unexplained = []
    reasons: Counter[str] = Counter()
    for diff in differences:
        reason = explain(diff, catalog, litellm_data)
        if reason is None and diff["ours"] is not None and abs(diff["ours"] - diff["theirs"]) <= 0.005 * diff["theirs"]:
            reason = "rounding between datasets (< 0.5%)"
        if reason is None and diff["ours"] is not None:
            newest, _, _ = our_cost(catalog, {**diff, "at": None})
            if diff["tier"] is not None and diff["key"].startswith("fireworks_ai"):
                # both classes at once: LiteLLM's Fireworks calculator also ignores service_tier
                # (a genai-prices entry with a dated history takes LiteLLM's priority tier, pricing.md)
                newest, _, _ = our_cost(catalog, {**diff, "at": None, "tier": None})
            if newest is not None and abs(newest - diff["theirs"]) <= 0.005 * diff["theirs"] + 1e-9:
                reason = "dated price: the call falls in an earlier price period; LiteLLM only has today's"
        if reason is None and diff["pricing_id"] in documented:
            reason = f"catalog chose {diff['layer']} {diff['pricing_id']}"
        reasons[reason or "unexplained"] += 1
        if reason is None:
            unexplained.append(diff)
    assert not unexplained, f"{len(unexplained)} of {compared} unexplained:\n" + _format(unexplained)
