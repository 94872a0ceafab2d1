"""The README stays true to the code: assumptions, commands and catalog sizes."""

from pathlib import Path

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
    assert f"{len(default_gpus())} cards" in README
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
    ):
        assert f"docs/screenshots/{name}" in README
        assert (ROOT / "docs" / "screenshots" / name).exists()
