"""The README stays true to the code: assumptions, commands and catalog sizes."""

import importlib.util
import re
from pathlib import Path

import pytest

from llm_calc.assumptions import inference_assumptions, training_assumptions
from llm_calc.catalog import default_gpus, default_models
from llm_calc.tokenizers import REGISTRY
from llm_calc.tokens import api_models

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_readme_lists_every_assumption_with_its_current_value():
    for assumption in [*inference_assumptions(), *training_assumptions()]:
        assert f"| {assumption.name} | {assumption.value} |" in README, assumption.name


def test_readme_catalog_sizes_match_the_data():
    assert f"{len(default_models())} models" in README
    cpus = sum(1 for gpu in default_gpus() if gpu.is_cpu)
    assert f"{len(default_gpus()) - cpus} cards and {cpus} CPUs" in README
    assert f"{len(api_models())} models' context windows" in README
    assert len(REGISTRY) == 7 and "seven real tokenizers" in README


def test_ci_runs_the_readme_test_command():
    assert "bash scripts/test.sh" in README
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


def test_readme_screenshots_exist():
    for name in (
        "overview.png",
        "hardware_calculator.png",
        "hardware_calculator_phone.png",
        "token_estimator.png",
        "token_estimator_phone.png",
        *[f"first_{tool}_{size}.png" for tool in ("token_estimator", "hardware_calculator", "training")
          for size in ("laptop", "phone")],
    ):  # fmt: skip
        assert f"docs/screenshots/{name}" in README
        assert (ROOT / "docs" / "screenshots" / name).exists()


def _readme_figures():
    """scripts/readme_figures.py, imported from this checkout."""
    spec = importlib.util.spec_from_file_location("readme_figures", ROOT / "scripts" / "readme_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _accuracy_section() -> str:
    start = README.index("## How accurate is it?")
    return README[start : README.index("\n## ", start + 1)]


def test_readme_accuracy_figures_are_in_step_with_the_code():
    """Fails when a change moves an error, a row count or a goal and README.md was not regenerated
    (python scripts/readme_figures.py)."""
    figures = _readme_figures()
    block = figures.accuracy_block()
    assert block in README, "README accuracy figures are stale: run python scripts/readme_figures.py"
    assert figures.with_block(README, block) == README


def test_readme_assumption_tables_are_generated_from_the_code():
    """Fails when a constant, its meaning or its source changes and README.md was not regenerated."""
    figures = _readme_figures()
    for name in ("inference-assumptions", "training-assumptions"):
        assert figures.blocks()[name] in README, f"README {name} table is stale: run python scripts/readme_figures.py"
    assert figures.with_all_blocks(README) == README


def test_readme_accuracy_section_has_no_number_typed_outside_the_generated_block():
    figures = _readme_figures()
    section = _accuracy_section()
    outside = section[: section.index(figures.BEGIN)] + section[section.index(figures.END) + len(figures.END) :]
    assert not re.search(r"\d", outside.replace("## How accurate is it?", "")), outside


def test_readme_figures_refuse_a_readme_without_markers():
    figures = _readme_figures()
    with pytest.raises(ValueError, match="lacks the markers"):
        figures.with_block("## How accurate is it?\n\nno markers\n", "block")
