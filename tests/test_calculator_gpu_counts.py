"""AppTest: the hardware calculator answers at every "GPUs per deployment" option.

On main the page ended in ``KeyError: 4`` for 4, 8, 16, 32 and 64 GPUs with the default model
(Llama 3.1 8B), because the per-card memory was looked up at a count the search never reached.
"""

import pytest
from apptest_pages import open_app_page

CALCULATOR = "app_pages/hardware_calculator.py"


@pytest.fixture(scope="module")
def calculator():
    return open_app_page(CALCULATOR)


def test_every_gpu_count_option_shows_the_table(calculator):
    """A user sliding "GPUs per deployment" to any stop sees the card table, not a traceback."""
    at = calculator
    options = at.select_slider(key="gpus").options
    assert options == ["1", "2", "4", "8", "16", "32", "64"]
    for option in options:
        at.select_slider(key="gpus").set_value(int(option)).run()
        assert not at.exception, option
        assert not at.error, option
        table = at.dataframe[0].value
        h100 = table[table["card"] == "NVIDIA H100 SXM"].iloc[0]
        # Llama 3.1 8B at bf16 fits one H100, so every count asked for fits and is the one used
        assert h100["cards needed"] == 1, option
        assert any(f"Fits on {option} card" in s.value for s in at.success), option
