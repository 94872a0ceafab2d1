"""Property tests of ``python -m llm_calc memory``: every flag across its range and in combination.

Whatever the arguments — each catalog model, custom sizes in and out of range, every GPU count of
the ladder and invalid ones, every precision, boundary and random contexts and batches, GPU
filters, uploaded configs real and hostile — a run ends in exit 0 with output, or in exit 2 with
exactly one line on stderr. A traceback (any other exception) fails the test.

``main`` is called in-process (as ``tests/test_cli.py`` does) so hundreds of runs take seconds.
"""

import io
import json
import random
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from llm_calc.catalog import GPU_CLASSES, default_models
from llm_calc.cli import main
from llm_calc.hardware import CARD_LADDER
from llm_calc.hf_config import ConfigError, parse_config_text
from llm_calc.precision import KV_ALIASES, KV_FORMATS, WEIGHT_FORMATS

CONFIGS = sorted((Path(__file__).parent / "configs").glob("*.json"))
MODEL_IDS = [m.hf_id for m in default_models()]
RUNS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run_memory(argv: list[str]) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``python -m llm_calc memory ARGV``; exceptions propagate."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["memory", *argv])
    return code, out.getvalue(), err.getvalue()


def _no_constant(name: str) -> float:
    raise AssertionError(f"JSON output holds {name}")


def assert_answered(argv: list[str]) -> int:
    """Exit 0 with output (valid JSON without NaN/Infinity under --json), or 2 with one line."""
    code, out, err = run_memory(argv)
    if code == 0:
        assert out.strip(), argv
        assert err == "", argv
        if "--json" in argv:
            report = json.loads(out, parse_constant=_no_constant)
            assert report["total_bytes"] > 0
            for gpu in report["gpus"]:
                assert gpu["per_card_bytes"] > 0
                assert gpu["cards_used"] in (None, report["gpu_count"], gpu["count_needed"])
    else:
        assert code == 2, (argv, code)
        assert out == "", argv
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and err.endswith("\n"), (argv, err)
    return code


# --- deterministic sweeps: every ladder count, every model and precision -------------------------


@pytest.mark.parametrize(
    "hf_id", ["meta-llama/Llama-3.1-8B", "Qwen/Qwen2.5-0.5B", "tiiuae/falcon-7b", "deepseek-ai/DeepSeek-V3"]
)
def test_every_gpu_count_of_the_ladder(hf_id):
    """`--gpus 4` ended in KeyError: 4 on main; every count from 1 to 1024 must answer."""
    for count in CARD_LADDER:
        assert assert_answered(["--model", hf_id, "--gpus", str(count), "--json"]) == 0, count


def test_params_at_every_gpu_count_of_the_ladder():
    """`--params 3 --gpus 8` crashed on main."""
    for count in (*CARD_LADDER[::4], 8, CARD_LADDER[-1]):
        assert assert_answered(["--params", "3", "--gpus", str(count), "--json"]) == 0, count


@pytest.mark.parametrize("hf_id", MODEL_IDS)
def test_every_model_at_every_weight_precision(hf_id):
    for precision in WEIGHT_FORMATS:
        gpus = random.Random(f"{hf_id}{precision}").choice(CARD_LADDER)
        assert assert_answered(["--model", hf_id, "--precision", precision, "--gpus", str(gpus), "--json"]) == 0


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_at_several_gpu_counts(path):
    """A config the parser accepts is sized at every count; one it refuses is refused in one line."""
    try:
        parse_config_text(path.read_bytes())
        expected = 0
    except ConfigError:
        expected = 2
    for count in (1, 2, 4, 8, 16, 64, 1024):
        assert assert_answered(["--config", str(path), "--gpus", str(count)]) == expected


@pytest.mark.parametrize("gpus", ["3", "0", "-1", "2048", "1025", "12", "1.5", "eight", ""])
def test_gpu_counts_off_the_ladder_are_refused_in_one_line(gpus):
    assert assert_answered(["--model", "meta-llama/Llama-3.1-8B", "--gpus", gpus]) == 2


# --- random combinations of every flag -----------------------------------------------------------

junk_text = st.text(max_size=12)
finite_or_not = st.floats(allow_nan=True, allow_infinity=True)


def mostly(valid: st.SearchStrategy[str], invalid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Valid values about seven times in eight, so combinations of many flags still succeed often."""
    return st.sampled_from([True] * 7 + [False]).flatmap(lambda ok: valid if ok else invalid)


def whole_numbers(low: int, high: int, boundaries: list[int]) -> st.SearchStrategy[str]:
    """In range (its ends and random values) mostly; else the boundaries just outside, random
    integers and things that are not integers."""
    return mostly(
        st.one_of(st.sampled_from([low, high]), st.integers(min_value=low, max_value=high)).map(str),
        st.one_of(
            st.sampled_from(boundaries).map(str),
            st.integers(min_value=-(10**6), max_value=10**12).map(str),
            st.sampled_from(["1e3", "4k", "nan", "", " 7", "0x10", "9" * 30]),
            junk_text,
        ),
    )


def fractions(default: str) -> st.SearchStrategy[str]:
    return mostly(
        st.one_of(st.just(default), st.sampled_from(["1", "1.0"]), st.floats(min_value=0.01, max_value=1).map(repr)),
        st.one_of(finite_or_not.map(repr), st.sampled_from(["0", "-0.5", "1.01", "x", ""])),
    )


params_text = mostly(
    st.one_of(st.sampled_from(["0.01", "10000", "7", "70"]), st.floats(min_value=0.01, max_value=10_000).map(repr)),
    st.one_of(
        finite_or_not.map(repr),
        st.sampled_from(["0", "-1", "0.009", "10000.5", "1e400", "nan", "inf", "-inf", "7B", "abc"]),
        junk_text,
    ),
)
model_id = mostly(st.sampled_from(MODEL_IDS), st.one_of(st.sampled_from(MODEL_IDS).map(str.upper), junk_text))
config_path = mostly(st.sampled_from([str(p) for p in CONFIGS]), st.sampled_from(["/no/such.json", "/", ".", ""]))
source = st.one_of(
    st.tuples(st.just("--model"), model_id),
    st.tuples(st.just("--params"), params_text),
    st.tuples(st.just("--config"), config_path),
)
options = st.fixed_dictionaries(
    {},
    optional={
        "--precision": mostly(
            st.sampled_from(list(WEIGHT_FORMATS)),
            st.one_of(st.sampled_from(list(WEIGHT_FORMATS)).map(str.upper), st.sampled_from(["fp12", "int3", ""])),
        ),
        "--kv-precision": mostly(st.sampled_from([*KV_FORMATS, *KV_ALIASES, "BF16"]), st.sampled_from(["int4", ""])),
        "--context": whole_numbers(1, 100_000_000, [-1, 0, 100_000_001]),
        "--batch": whole_numbers(1, 1_000_000, [-1, 0, 1_000_001]),
        "--gpus": mostly(st.sampled_from(CARD_LADDER).map(str), whole_numbers(-1, 2048, [3, 12, 1025, 2048])),
        "--gpu-class": st.lists(
            mostly(st.sampled_from(GPU_CLASSES), st.sampled_from(["quantum", "", "Apple"])), min_size=1, max_size=3
        ),
        "--vendor": st.lists(st.sampled_from(["NVIDIA", "amd", "Apple", "Intel", "", "ñ"]), min_size=1, max_size=3),
        "--efficiency": fractions("0.48"),
        "--mfu": fractions("0.5"),
        "--prefill-chunk": whole_numbers(1, 10**8, [-1, 0]),
        "--no-flash-attention": st.just(None),
        "--json": st.just(None),
    },
)


def flag_groups(chosen: dict) -> list[list[str]]:
    """``--flag value`` groups (a switch alone; a repeatable flag once per value)."""
    groups: list[list[str]] = []
    for flag, value in chosen.items():
        if value is None:
            groups.append([flag])
        elif isinstance(value, list):
            groups += [[flag, item] for item in value]
        else:
            groups.append([flag, value])
    return groups


@RUNS
@given(
    mostly(st.lists(source, min_size=1, max_size=1), st.lists(source, max_size=2)),
    options,
    st.randoms(use_true_random=False),
)
def test_any_combination_of_flags_is_answered_or_refused_in_one_line(sources, chosen, rnd):
    """No source, two sources, or one, with any subset of the other flags in any order."""
    groups = [list(pair) for pair in sources] + flag_groups(chosen)
    rnd.shuffle(groups)
    event(f"exit {assert_answered([part for group in groups for part in group])}")


@settings(max_examples=250, deadline=None)
@given(st.sampled_from(MODEL_IDS), st.sampled_from(CARD_LADDER), st.sampled_from([*KV_FORMATS, *KV_ALIASES]))
def test_valid_flags_always_answer(hf_id, gpus, kv):
    """Inside every flag's range the answer is a report, never a refusal."""
    argv = ["--model", hf_id, "--gpus", str(gpus), "--kv-precision", kv, "--json"]
    assert assert_answered(argv) == 0


@settings(max_examples=120, deadline=None)
@given(
    st.integers(min_value=1, max_value=100_000_000),
    st.integers(min_value=1, max_value=1_000_000),
    st.sampled_from(MODEL_IDS),
)
def test_contexts_and_batches_across_their_range_answer(context, batch, hf_id):
    argv = ["--model", hf_id, "--context", str(context), "--batch", str(batch), "--json"]
    assert assert_answered(argv) == 0


# --- uploaded configs: real ones, mutated and hostile --------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([0, 1, -1, 10_000_000, 10_000_001, 2**63, 0.5, 4096.0, "4096", "", "llama"])
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)


@st.composite
def mutated_configs(draw) -> str:
    """The text of a shipped config with keys dropped, values replaced, junk added or nested."""
    config = json.loads(draw(st.sampled_from(CONFIGS)).read_text())
    keys = sorted(config)
    for key in draw(st.lists(st.sampled_from(keys), max_size=4)):
        config.pop(key, None)
    for key in draw(st.lists(st.sampled_from(keys), max_size=4)):
        config[key] = draw(json_values)
    config.update(draw(st.dictionaries(st.text(max_size=12), json_values, max_size=3)))
    if draw(st.booleans()):
        config["text_config"] = draw(st.one_of(json_values, st.just(dict(config))))
    wrapped = draw(st.sampled_from(["as is", "as is", "list", "string"]))
    return json.dumps({"as is": config, "list": [config], "string": json.dumps(config)}[wrapped])


hostile_texts = st.one_of(
    json_values.map(json.dumps),
    st.sampled_from(["", "{", "[" * 5000 + "]" * 5000, '{"hidden_size": NaN}', '{"a": Infinity}', "\ufeff{}"]),
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
)


@pytest.fixture(scope="module")
def upload_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("uploads")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(mutated_configs(), hostile_texts), st.sampled_from(CARD_LADDER[:6]), st.sampled_from(list(WEIGHT_FORMATS))
)
def test_any_uploaded_config_is_sized_or_refused_in_one_line(upload_dir, text, gpus, precision):
    path = upload_dir / "config.json"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    event(f"exit {assert_answered(['--config', str(path), '--gpus', str(gpus), '--precision', precision, '--json'])}")


def test_a_config_too_large_to_be_one_is_refused(upload_dir):
    path = upload_dir / "huge.json"
    path.write_text(json.dumps({"hidden_size": 4096, "pad": "x" * 1_100_000}))
    assert assert_answered(["--config", str(path)]) == 2


def test_nan_and_infinite_params_are_refused():
    for text in ("nan", "inf", "-inf", "1e400"):
        assert assert_answered(["--params", text]) == 2, text


def test_an_empty_model_id_is_an_unknown_model():
    """`--model ""` fell through to --params and ended in a TypeError traceback on main."""
    code, _, err = run_memory(["--model", ""])
    assert code == 2 and "unknown model ''" in err


def test_json_reports_the_bytes_each_card_reads_per_decode_step():
    # Llama-3-8B int4, one token of context, one H100: a 4-bit body of 6,979,588,096 weights
    # (x 4.15625 / 8 = 3,626,114,128 bytes), the bf16 lm_head (128,256 x 4,096 x 2 = 1,050,673,152)
    # and 131,072 bytes of KV cache; on 2 cards each reads half the weights and 4 of the 8 KV heads.
    argv = ["--model", "meta-llama/Meta-Llama-3-8B", "--precision", "int4", "--context", "1", "--json"]
    code, out, _ = run_memory(argv)
    h100 = next(g for g in json.loads(out)["gpus"] if g["name"] == "NVIDIA H100 SXM")
    assert code == 0 and h100["card_read_bytes"] == 3_626_114_128 + 1_050_673_152 + 131_072
    code, out, _ = run_memory([*argv, "--gpus", "2"])
    h100 = next(g for g in json.loads(out)["gpus"] if g["name"] == "NVIDIA H100 SXM")
    assert code == 0 and h100["card_read_bytes"] == (3_626_114_128 + 1_050_673_152) // 2 + 131_072 // 2


@pytest.mark.parametrize("flag", ["--efficiency", "--mfu"])
@pytest.mark.parametrize("value", ["5e-324", "0.001", "0"])
def test_a_vanishing_efficiency_is_refused_in_one_line(flag, value):
    """`--efficiency 5e-324` ended in ZeroDivisionError (speed 0, cost per token undefined)."""
    assert assert_answered(["--model", "openai-community/gpt2", flag, value, "--json"]) == 2
