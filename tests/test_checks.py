"""The range check shared by ModelSpec and TrainingSetup: one message naming the field, its bounds and
the value, for every way a size can be wrong. The expected messages are written out by hand."""

import pytest

from llm_calc.catalog import find_model
from llm_calc.checks import check_whole_number, shown_value
from llm_calc.training import TrainingSetup

LLAMA_2_7B = find_model("meta-llama/Llama-2-7b-hf").spec


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "seq_len must be a whole number from 1 to 10,000,000, got 0"),
        (10_000_001, "seq_len must be a whole number from 1 to 10,000,000, got 10000001"),
        (True, "seq_len must be a whole number from 1 to 10,000,000, got True"),
        (2048.0, "seq_len must be a whole number from 1 to 10,000,000, got 2048.0"),
        ("2048", "seq_len must be a whole number from 1 to 10,000,000, got '2048'"),
    ],
)
def test_a_training_setup_names_the_field_its_bounds_and_the_value(value, message):
    """A bool is not a whole number here, nor is a float or a string that looks like one."""
    with pytest.raises(ValueError) as refused:
        TrainingSetup(seq_len=value)
    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hidden_size": 0}, "hidden_size must be a whole number from 1 to 10,000,000, got 0"),
        ({"num_experts": -1}, "num_experts must be a whole number from 0 to 10,000,000, got -1"),
        ({"max_context": 100_000_001}, "max_context must be a whole number from 1 to 100,000,000, got 100000001"),
        ({"vocab_size": "32000"}, "vocab_size must be a whole number from 1 to 10,000,000, got '32000'"),
    ],
)
def test_a_model_spec_names_the_field_its_bounds_and_the_value(change, message):
    """Every model has a hidden size (at least 1); experts are optional (0 for a dense model); the
    context has its own, larger bound (Llama 4 Scout's 10,485,760 tokens is above the size bound)."""
    with pytest.raises(ValueError) as refused:
        LLAMA_2_7B.with_changes(**change)
    assert str(refused.value) == message


def test_a_number_too_wide_to_print_is_refused_by_its_magnitude():
    """A 401-digit size (a JSON file may hold one) has no float to format it with: on main ModelSpec
    raised OverflowError, which the pages do not catch, instead of a ValueError naming the field."""
    with pytest.raises(ValueError, match=r"^hidden_size must be a whole number from 1 to 10,000,000, got ~1e400$"):
        LLAMA_2_7B.with_changes(hidden_size=10**400)
    assert shown_value(-(10**5000)) == "-~1e5000"  # beyond Python's 4,300-digit limit on printing an int


def test_a_long_value_is_cut_in_the_message():
    """A hostile megabyte-long string must not be echoed whole into the page."""
    with pytest.raises(ValueError) as refused:
        check_whole_number("batch", "x" * 1_000_000, 1, 10)
    # the repr's opening quote and 39 of the x's: 40 characters
    assert str(refused.value) == "batch must be a whole number from 1 to 10, got '" + "x" * 39


def test_the_bounds_are_included():
    """Both ends are valid values: 1 and 10 pass, nothing is raised."""
    check_whole_number("batch", 1, 1, 10)
    check_whole_number("batch", 10, 1, 10)
