"""Property tests of ``python -m llm_calc train``: every flag across its range and in combination.

Whatever the arguments — each catalog model, custom sizes, uploaded configs, every method, optimizer,
precision and optimizer kernel, GPU counts, ZeRO stages and tensor-parallel degrees that do and do
not divide each other, LoRA ranks and targets, token amounts, MFUs and prices in and out of range —
a run ends in exit 0 with a report, or in exit 2 with exactly one line on stderr. Never a traceback.
"""

import io
import json
import math
from contextlib import redirect_stderr, redirect_stdout

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_cli_properties import flag_groups, fractions, mostly, source, whole_numbers

from llm_calc.catalog import default_gpus
from llm_calc.cli import main
from llm_calc.training import LORA_TARGETS, METHODS, OPTIMIZER_IMPLS, OPTIMIZERS, WEIGHTS_PRECISIONS

CARDS = [g.name for g in default_gpus()]
RUNS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _no_constant(name: str) -> float:
    raise AssertionError(f"JSON output holds {name}")


def assert_train_answered(argv: list[str]) -> int:
    """Exit 0 with a report (JSON without NaN, no time or cost when it does not fit), or 2 with one line."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["train", *argv])
    if code == 0:
        assert out.getvalue().strip() and err.getvalue() == "", argv
        if "--json" in argv:
            report = json.loads(out.getvalue(), parse_constant=_no_constant)
            assert report["memory_per_gpu_bytes"] > 0
            if not report["fits"]:
                assert report["days"] is None and report["cost_usd"] is None, argv
            else:
                assert math.isfinite(report["days"]) and report["days"] >= 0, argv
    else:
        assert code == 2, (argv, code)
        lines = err.getvalue().splitlines()
        assert out.getvalue() == "" and len(lines) == 1 and lines[0].startswith("error: "), (argv, err.getvalue())
    return code


def choice(values: tuple[str, ...] | list[str], junk: list[str]) -> st.SearchStrategy[str]:
    return mostly(st.sampled_from(list(values)), st.sampled_from(junk))


targets = mostly(
    st.lists(st.sampled_from(LORA_TARGETS), min_size=1, max_size=7, unique=True).map(",".join),
    st.sampled_from(["", ",", "q_proj,,", "attn", "Q_PROJ", "q_proj v_proj"]),
)
token_amounts = mostly(
    st.one_of(st.sampled_from(["1", "1.4T", "100M", "2e9", "300B"]), st.integers(1, 10**15).map(str)),
    st.sampled_from(["0", "-1", "nan", "inf", "1.4Q", "T", "", "1e400", "abc"]),
)
options = st.fixed_dictionaries(
    {},
    optional={
        "--method": choice(METHODS, ["LoRA", "dora", ""]),
        "--optimizer": choice(OPTIMIZERS, ["adam", "lion", ""]),
        "--weights-precision": choice(WEIGHTS_PRECISIONS, ["fp32", "fp8", ""]),
        "--optimizer-impl": choice(OPTIMIZER_IMPLS, ["apex", ""]),
        "--seq-len": whole_numbers(1, 10_000_000, [-1, 0, 10_000_001]),
        "--micro-batch": whole_numbers(1, 100_000, [-1, 0, 100_001]),
        "--checkpointing": st.just(None),
        "--no-flash-attention": st.just(None),
        "--gpus": whole_numbers(1, 4096, [-1, 0, 3, 12, 1_000_001]),
        "--gpu": choice(CARDS, ["NVIDIA A100", "", "H100"]),
        "--zero": choice(["0", "1", "2", "3"], ["4", "-1", "x"]),
        "--tp": choice(["1", "2", "4", "8"], ["3", "16", "0"]),
        "--lora-rank": whole_numbers(1, 65_536, [-1, 0, 65_537]),
        "--lora-alpha": whole_numbers(1, 1_000_000, [-1, 0]),
        "--lora-targets": targets,
        "--tokens": token_amounts,
        "--mfu": fractions("0.4"),
        "--price": mostly(
            st.one_of(st.just("1.79"), st.floats(min_value=0, max_value=1000).map(repr)),
            st.sampled_from(["-1", "nan", "inf", "x"]),
        ),
        "--attention-flops": st.just(None),
        "--json": st.just(None),
    },
)


@RUNS
@given(mostly(st.lists(source, min_size=1, max_size=1), st.lists(source, max_size=2)), options, st.randoms())
def test_any_combination_of_train_flags_is_answered_or_refused_in_one_line(sources, chosen, rnd):
    groups = [list(pair) for pair in sources] + flag_groups(chosen)
    rnd.shuffle(groups)
    event(f"exit {assert_train_answered([part for group in groups for part in group])}")


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(METHODS),
    st.sampled_from(OPTIMIZERS),
    st.sampled_from(WEIGHTS_PRECISIONS),
    st.sampled_from(OPTIMIZER_IMPLS),
    st.sampled_from(["1", "2", "4", "8", "16", "64", "1024"]),
    st.sampled_from(["0", "1", "2", "3"]),
    st.sampled_from(["1", "2", "4", "8"]),
)
def test_every_setup_in_range_answers(method, optimizer, precision, impl, gpus, zero, tp):
    """In range, a setup is a report (fits or not) unless tensor parallelism does not divide the GPUs."""
    argv = ["--model", "meta-llama/Llama-3.1-8B", "--method", method, "--optimizer", optimizer]
    argv += ["--weights-precision", precision, "--optimizer-impl", impl, "--gpus", gpus, "--zero", zero]
    argv += ["--tp", tp, "--lora-targets", ",".join(LORA_TARGETS), "--json"]
    expected = 0 if int(gpus) % int(tp) == 0 else 2
    assert assert_train_answered(argv) == expected


def test_a_vanishing_mfu_is_refused_in_one_line():
    """`train --mfu 5e-324` printed Infinity days into its JSON before the property test found it."""
    assert (
        assert_train_answered(["--model", "openai-community/gpt2", "--seq-len", "1", "--mfu", "5e-324", "--json"]) == 2
    )
