"""Set-up mistakes a user makes in code, in the environment and at the maintainers' command line:
each is refused or said where it is made, naming what is wrong, and none passes for a setting that
applies (found by an audit of the public API as a demanding user would use it)."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genai_cost import Catalog, CostSettings, CostSpanProcessor, TokenUsage, TraceCostExporter
from genai_cost.cli import main
from genai_cost.config import KNOWN_VARIABLES, band_of, report_unknown_variables, user_cache_dir
from genai_cost.layers import LayerSettings
from test_cli import BIN

ROOT = Path(__file__).resolve().parents[1]
#: A GPT-4o call: $0.0035 (1,000 tokens in at $2.50/M, 100 out at $10/M).
_CHAT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.usage.input_tokens": 1000,
    "gen_ai.usage.output_tokens": 100,
}


# ------------------------------------------------------------ the chain, in code


def test_an_exporter_given_where_a_processor_goes_is_refused_at_set_up_not_at_the_first_span():
    with pytest.raises(TypeError, match=r"TraceCostExporter is an exporter: wrap it.*BatchSpanProcessor"):
        CostSpanProcessor(TraceCostExporter(InMemorySpanExporter()))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="got NoneType"):
        CostSpanProcessor(None)  # type: ignore[arg-type]


def test_a_processor_that_is_not_an_sdk_subclass_but_has_the_methods_is_taken():
    memory = InMemorySpanExporter()

    class Forwarding:  # duck-typed, as some frameworks' processors are
        def __init__(self) -> None:
            self.inner = SimpleSpanProcessor(memory)

        def on_start(self, span, parent_context=None):  # type: ignore[no-untyped-def]
            self.inner.on_start(span, parent_context)

        def on_end(self, span):  # type: ignore[no-untyped-def]
            self.inner.on_end(span)

        def shutdown(self) -> None:
            self.inner.shutdown()

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return self.inner.force_flush(timeout_millis)

    provider = TracerProvider()
    provider.add_span_processor(CostSpanProcessor(Forwarding(), deferred=False))  # type: ignore[arg-type]
    with provider.get_tracer("t").start_as_current_span("chat", attributes=_CHAT):
        pass
    provider.shutdown()
    (span,) = memory.get_finished_spans()
    assert span.attributes["gen_ai.cost.total_usd"] == pytest.approx(1000 * 2.5e-6 + 100 * 10e-6)


# ------------------------------------------------------------ settings made in code


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reported_cost": "bogus"}, "reported_cost must be"),
        ({"bands": (1.0, 0.1)}, "increasing positive"),
        ({"bands": ()}, "increasing positive"),
        ({"bands": (0.1, 0.1)}, "increasing positive"),
        ({"bands": (-1.0, 1.0)}, "increasing positive"),
        ({"bands": (float("nan"),)}, "increasing positive"),
        ({"trace_idle_timeout_s": -1.0}, "trace_idle_timeout_s"),
        ({"trace_idle_timeout_s": float("inf")}, "trace_idle_timeout_s"),
        ({"max_traces": 0}, "max_traces"),
    ],
)
def test_settings_that_cannot_work_are_refused_when_made(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CostSettings(**kwargs)


def test_one_pricing_file_given_as_a_string_is_one_path_not_its_characters():
    assert CostSettings(pricing_files="my-prices.yaml").pricing_files == ("my-prices.yaml",)  # type: ignore[arg-type]
    assert CostSettings(pricing_files=[Path("a.yaml"), "b.yaml"]).pricing_files == ("a.yaml", "b.yaml")  # type: ignore[arg-type]


@pytest.mark.parametrize("bands", [(1.0, 0.1), (), (0.0, 1.0)])
def test_the_roll_up_refuses_bands_that_would_label_traces_wrongly(bands):
    with pytest.raises(ValueError, match="increasing positive"):
        TraceCostExporter(InMemorySpanExporter(), bands=bands)


@given(st.lists(st.floats(min_value=1e-12, max_value=1e6), min_size=1, max_size=6, unique=True))
def test_every_threshold_of_increasing_bands_has_its_own_label(thresholds):
    bands = CostSettings(bands=tuple(sorted(thresholds))).bands
    labels = {band_of(total, bands) for total in (bands[0] / 2, *bands)}
    assert len(labels) == len(bands) + 1  # never two thresholds shown as one ("0.")


# ------------------------------------------------------------ the environment, in code


def _root_band(exporter_kwargs: dict[str, object]) -> str:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(
        CostSpanProcessor(SimpleSpanProcessor(TraceCostExporter(memory, **exporter_kwargs)), deferred=False)  # type: ignore[arg-type]
    )
    with provider.get_tracer("t").start_as_current_span("invoke_agent", attributes={"gen_ai.operation.name": "invoke_agent"}):
        with provider.get_tracer("t").start_as_current_span("chat", attributes=_CHAT):
            pass
    provider.shutdown()
    (root,) = [s for s in memory.get_finished_spans() if s.parent is None]
    return str(root.attributes["gen_ai.trace.cost.band"])


def test_the_roll_up_in_code_reads_its_variables_for_what_it_is_not_given(monkeypatch):
    # $0.0035 for the trace: under the default bands lt_0.01; with these, 0.002_0.005.
    assert _root_band({}) == "lt_0.01"
    monkeypatch.setenv("GENAI_COST_BANDS", "0.001,0.002,0.005")
    assert _root_band({}) == "0.002_0.005"
    assert _root_band({"bands": (0.01, 0.05)}) == "lt_0.01"  # what is given wins


def test_each_component_speaks_up_only_about_the_variables_it_reads(monkeypatch, caplog):
    monkeypatch.setenv("GENAI_COST_BANDS", "abc")
    monkeypatch.setenv("GENAI_COST_REPORTED_COST", "sometimes")
    with caplog.at_level(logging.ERROR, logger="genai_cost"):
        CostSpanProcessor(SimpleSpanProcessor(InMemorySpanExporter()))
    said = caplog.text
    assert "GENAI_COST_REPORTED_COST='sometimes'" in said
    assert "GENAI_COST_BANDS" not in said  # the processor does not use it
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="genai_cost"):
        exporter = TraceCostExporter(InMemorySpanExporter())
    assert "GENAI_COST_BANDS='abc'" in caplog.text
    assert "GENAI_COST_REPORTED_COST" not in caplog.text
    assert exporter._bands == CostSettings().bands


def test_a_blank_between_bands_is_reported_not_dropped():
    settings = CostSettings.from_env({"GENAI_COST_BANDS": "0.1,,1"})
    assert settings.bands == CostSettings().bands
    assert any("GENAI_COST_BANDS='0.1,,1'" in problem for problem in settings.problems)


def test_a_misspelt_variable_is_named_with_the_one_it_was_probably_meant_to_be(caplog):
    environ = {
        "GENAI_COST_BUDGET_MAX_COST": "0.001",  # the _USD left off: no budget at all, silently
        "GENAI_COST_PRICING_FILES": "prices.yaml",
        "GENAI_COST_SOMETHING_ELSE": "1",
        "GENAI_COST_ENABLED": "true",
        "GENAI_COST_TEST_TOOLS": "/tmp/x",  # the test suite's own
        "OTHER": "1",
    }
    with caplog.at_level(logging.ERROR, logger="genai_cost"):
        unknown = report_unknown_variables(environ)
    assert unknown == ["GENAI_COST_BUDGET_MAX_COST", "GENAI_COST_PRICING_FILES", "GENAI_COST_SOMETHING_ELSE"]
    assert "GENAI_COST_BUDGET_MAX_COST is not a genai-cost variable" in caplog.text
    assert "(did you mean GENAI_COST_BUDGET_MAX_COST_USD?)" in caplog.text
    assert "(did you mean GENAI_COST_PRICING_FILE?)" in caplog.text
    assert "GENAI_COST_SOMETHING_ELSE is not a genai-cost variable, and is ignored\n" in caplog.text + "\n"


def test_every_documented_variable_is_known():
    text = (ROOT / "docs/configuration.md").read_text()
    documented = {name.strip("`") for name in re.findall(r"`GENAI_COST_[A-Z0-9_]*[A-Z0-9]`", text)}
    assert documented <= KNOWN_VARIABLES, documented - KNOWN_VARIABLES


def test_the_processor_in_code_reports_a_misspelt_variable(monkeypatch, caplog):
    monkeypatch.setenv("GENAI_COST_ENABLE", "false")
    with caplog.at_level(logging.ERROR, logger="genai_cost"):
        CostSpanProcessor(SimpleSpanProcessor(InMemorySpanExporter()))
    assert "GENAI_COST_ENABLE is not a genai-cost variable, and is ignored (did you mean GENAI_COST_ENABLED?)" in caplog.text


def test_the_zero_code_configurator_reports_a_misspelt_budget(tmp_path):
    app = tmp_path / "app.py"
    app.write_text("print('app ran')\n")
    env = {
        **os.environ,
        "OTEL_PYTHON_CONFIGURATOR": "genai_cost",
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "GENAI_COST_BUDGET_MAX_COST": "0.001",
    }
    instrument = Path(sys.executable).with_name("opentelemetry-instrument")
    result = subprocess.run(
        [str(instrument), sys.executable, str(app)], capture_output=True, text=True, timeout=120, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "app ran" in result.stdout
    assert "GENAI_COST_BUDGET_MAX_COST is not a genai-cost variable" in result.stderr
    assert "did you mean GENAI_COST_BUDGET_MAX_COST_USD?" in result.stderr


def test_infrastructure_messages_say_what_is_used_and_do_not_repeat_themselves():
    settings = LayerSettings.from_env(
        {"GENAI_COST_INFRA_MONTHLY_USD": "-5", "GENAI_COST_INFRA_MONTHLY_TRACES": "100"}
    )
    assert settings.problems == ("GENAI_COST_INFRA_MONTHLY_USD='-5': expected a number >= 0; ignored",)
    settings = LayerSettings.from_env({"GENAI_COST_INFRA_MONTHLY_USD": "5"})
    assert settings.problems == (
        "infrastructure cost needs both GENAI_COST_INFRA_MONTHLY_USD and GENAI_COST_INFRA_MONTHLY_TRACES",
    )
    settings = LayerSettings.from_env(
        {"GENAI_COST_INFRA_MONTHLY_USD": "10", "GENAI_COST_INFRA_MONTHLY_TRACES": "10",
         "GENAI_COST_INFRA_ALLOCATION": "Per-Second"}
    )
    assert settings.infra is not None and settings.infra.allocation == "per_trace"
    assert settings.problems == (
        "GENAI_COST_INFRA_ALLOCATION='Per-Second': expected per_trace or per_second; using per_trace",
    )


# ------------------------------------------------------------ pricing files


_ONE_MODEL = textwrap.dedent(
    """\
    providers:
      - id: acme
        name: Acme
        models:
          - id: acme-large
            prices:
              - {input: 1.0, output: 2.0, source: "https://acme.example/pricing", checked: 2026-11-01}
    """
)


def test_catalog_load_takes_one_path_as_one_path(tmp_path, monkeypatch):
    (tmp_path / "acme.yaml").write_text(_ONE_MODEL)
    (tmp_path / "broken.yaml").write_text("providers: [\n")  # would be read if "." were taken as a path
    monkeypatch.chdir(tmp_path)
    for one in ("acme.yaml", Path("acme.yaml")):
        catalog = Catalog.load(one)
        cost = catalog.price(TokenUsage(input_tokens=1_000_000, output_tokens=1_000_000), "acme-large", "acme")
        assert cost.total_usd == pytest.approx(3.0)


def test_a_pricing_directory_is_its_yaml_files_only(tmp_path, capsys):
    (tmp_path / "prices.yaml").write_text(_ONE_MODEL)
    (tmp_path / "report.yearly.html").write_text("<html/>")
    (tmp_path / "config.y.xml").write_text("<x/>")
    assert main(["pricing", "validate", str(tmp_path)]) == 0, capsys.readouterr().err
    assert "valid: 1 file(s), 1 model(s)" in capsys.readouterr().out
    assert Catalog.load([tmp_path]).price(TokenUsage(input_tokens=10**6), "acme-large", "acme").total_usd == 1.0


def test_an_empty_cache_dir_variable_is_unset_and_an_unwritable_chosen_one_is_said_once(tmp_path, caplog):
    xdg = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    assert user_cache_dir({**xdg, "GENAI_COST_CACHE_DIR": "  "}) == tmp_path / "xdg" / "genai-cost"
    assert user_cache_dir({**xdg, "GENAI_COST_CACHE_DIR": "OFF"}) is None
    a_file = tmp_path / "afile"
    a_file.write_text("")
    chosen = user_cache_dir({"GENAI_COST_CACHE_DIR": str(a_file / "cache")})  # under a file: never writable
    assert chosen == a_file / "cache"
    files = []
    for name in ("one", "two"):
        path = tmp_path / f"{name}.yaml"
        path.write_text(_ONE_MODEL.replace("acme-large", f"acme-{name}"))
        files.append(path)
    with caplog.at_level(logging.WARNING, logger="genai_cost"):
        Catalog.load(files, cache_dir=chosen)
    said = [r.getMessage() for r in caplog.records if "cannot cache parsed pricing files" in r.getMessage()]
    assert len(said) == 1, said  # once for the load, not at every file
    assert str(a_file / "cache") in said[0]


def test_a_default_cache_dir_that_cannot_be_made_is_no_cache_and_no_warning(tmp_path):
    """A read-only home in a container only costs speed: not a warning at every start."""
    a_file = tmp_path / "afile"
    a_file.write_text("")
    assert user_cache_dir({"XDG_CACHE_HOME": str(a_file / "xdg")}) is None


# ------------------------------------------------------------ the command line


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BIN, *args], capture_output=True, text=True, timeout=120, check=False, env={**os.environ, **(env or {})}
    )


def test_importing_litellm_from_a_json_list_or_a_broken_wheel_is_an_error_naming_the_file(tmp_path):
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    wheel = tmp_path / "litellm-1.0-py3-none-any.whl"
    wheel.write_text("not a zip")
    for path, said in ((listed, "expected LiteLLM's JSON object of models by name, found a list"),
                       (wheel, "is not a wheel (zip) file")):
        result = _cli("pricing", "import", "--from", "litellm", str(path), "--out", str(tmp_path / "out"))
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert str(path) in result.stderr and said in result.stderr
    assert not (tmp_path / "out").exists()


def test_an_import_that_does_not_validate_leaves_the_catalog_as_it_was(tmp_path):
    out = tmp_path / "pricing"
    (out / "imported").mkdir(parents=True)
    before = "# the import that was there\nproviders: []\n"
    (out / "imported" / "litellm.yaml").write_text(before)
    weird = tmp_path / "weird.json"
    weird.write_text(json.dumps({"gpt-x": "notadict", "sample_spec": 3}))
    result = _cli("pricing", "import", "--from", "litellm", str(weird), "--out", str(out))
    assert result.returncode == 2, result.stdout
    assert "the import does not validate" in result.stderr and "unchanged" in result.stderr
    assert (out / "imported" / "litellm.yaml").read_text() == before


def test_a_wheel_that_is_a_zip_still_imports(tmp_path):
    wheel = tmp_path / "litellm-9.9.9-py3-none-any.whl"
    data = {"gpt-4o": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 2.5e-6,
                       "output_cost_per_token": 1e-5}}
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("litellm/model_prices_and_context_window_backup.json", json.dumps(data))
    out = tmp_path / "pricing"
    result = _cli("pricing", "import", "--from", "litellm", str(wheel), "--out", str(out), "--checked", "2026-11-01")
    assert result.returncode == 0, result.stderr
    assert "litellm 9.9.9" in result.stdout
    assert "gpt-4o" in (out / "imported" / "litellm.yaml").read_text()


def test_compiling_a_directory_with_no_pricing_files_is_not_up_to_date(tmp_path):
    for args in (("--check",), ()):
        result = _cli("pricing", "compile", *args, "--dir", str(tmp_path))
        assert result.returncode == 2
        assert f"{tmp_path} has no pricing files" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--json", "--markdown"), "not allowed with argument"),
        (("--tolerance", "nan"), "expected a relative difference from 0 to 1"),
        (("--tolerance", "-1"), "expected a relative difference from 0 to 1"),
    ],
)
def test_pricing_diff_refuses_contradictory_or_meaningless_options(args, said):
    result = _cli("pricing", "diff", *args)
    assert result.returncode == 2
    assert said in result.stderr


@pytest.mark.parametrize("protocol", ["http/json", "GRPC", "bogus"])
def test_the_demo_refuses_a_protocol_it_would_not_send_by(protocol):
    result = _cli(
        "demo", env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "OTEL_EXPORTER_OTLP_PROTOCOL": protocol}
    )
    assert result.returncode == 2
    assert f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: expected grpc or http/protobuf" in result.stderr
    assert result.stdout == ""
