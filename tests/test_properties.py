"""Property-based tests of the public llm_calc functions: any input gives a finite, non-negative
result or a ValueError with a message — never NaN, infinity or another exception."""

import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_calc.architecture import ModelSpec, count_parameters, kv_cache_bytes
from llm_calc.catalog import default_gpus, default_models
from llm_calc.hardware import CARD_LADDER, size_on_gpus
from llm_calc.hf_config import SUPPORTED_MODEL_TYPES, ConfigError, parse_config_text
from llm_calc.memory import InferenceSettings, inference_memory
from llm_calc.precision import KV_FORMATS, WEIGHT_FORMATS
from llm_calc.tokens import count_tokens, decode_upload
from llm_calc.training import TrainingSetup, training_flops, training_memory

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
sizes = st.one_of(st.integers(min_value=-5, max_value=200_000), st.sampled_from([0, 1, 10**7, 10**9]))
GPUS = default_gpus()[:12]
gpu_counts = st.one_of(st.sampled_from(CARD_LADDER), st.sampled_from([1, 2, 4, 8, 16, CARD_LADDER[-1]]))


def finite_and_non_negative(*values: float) -> bool:
    return all(v is not None and math.isfinite(v) and v >= 0 for v in values)


@st.composite
def specs(draw):
    heads = draw(st.integers(min_value=-1, max_value=256))
    return dict(
        name="fuzz",
        vocab_size=draw(sizes),
        hidden_size=draw(sizes),
        num_layers=draw(st.integers(min_value=-1, max_value=300)),
        num_attention_heads=heads,
        num_kv_heads=draw(st.integers(min_value=-1, max_value=256)),
        head_dim=draw(st.integers(min_value=-1, max_value=512)),
        intermediate_size=draw(sizes),
        max_context=draw(st.integers(min_value=0, max_value=2_000_000)),
        gated_mlp=draw(st.booleans()),
        tie_embeddings=draw(st.booleans()),
        num_experts=draw(st.sampled_from([0, 0, 8, 64])),
        experts_per_token=draw(st.integers(min_value=0, max_value=9)),
        sliding_window=draw(st.sampled_from([0, 0, 4096])),
        sliding_window_layers=draw(st.integers(min_value=0, max_value=300)),
    )


@SETTINGS
@given(
    specs(),
    st.sampled_from(list(WEIGHT_FORMATS)),
    st.sampled_from(list(KV_FORMATS)),
    st.integers(min_value=-10, max_value=2_000_000),
    st.integers(min_value=-3, max_value=4096),
    gpu_counts,
)
def test_inference_estimates_are_finite_or_refused(fields, weight_format, kv_format, context, batch, gpu_count):
    try:
        spec = ModelSpec(**fields)
        settings_ = InferenceSettings(
            weight_format=weight_format, kv_format=kv_format, context_tokens=context, batch=batch
        )
    except ValueError as error:
        assert str(error)
        return
    counts = count_parameters(spec)
    memory = inference_memory(spec, settings_)
    assert finite_and_non_negative(
        counts.total, counts.active, memory.total_bytes, kv_cache_bytes(spec, context, batch, 16)
    )
    _, results = size_on_gpus(spec, settings_, GPUS, gpu_count)
    for result in results:
        assert_consistent(result)


def assert_consistent(result) -> None:
    """Finite figures; a deployment that fits holds its cards' memory; a card reads no more than it holds."""
    assert finite_and_non_negative(result.per_card_bytes)
    if result.fits:
        assert result.cards_used == result.gpu_count
        assert result.per_card_bytes <= result.usable_memory_bytes
    if result.speed:
        speed = result.speed
        assert finite_and_non_negative(speed.decode_tokens_per_s, speed.prefill_seconds, speed.card_read_bytes)
        assert 0 < speed.card_read_bytes <= result.per_card_bytes


@SETTINGS
@given(
    st.sampled_from(default_models()),
    st.sampled_from(list(WEIGHT_FORMATS)),
    st.sampled_from(list(KV_FORMATS)),
    st.sampled_from([1, 4096, 131_072, 1_000_000]),
    st.sampled_from([1, 7, 64, 4096]),
    gpu_counts,
)
def test_catalog_models_on_any_gpu_count_are_consistent(model, weight_format, kv_format, context, batch, gpu_count):
    settings_ = InferenceSettings(weight_format=weight_format, kv_format=kv_format, context_tokens=context, batch=batch)
    _, results = size_on_gpus(model.spec, settings_, default_gpus(), gpu_count)
    for result in results:
        assert_consistent(result)


@SETTINGS
@given(
    st.sampled_from(["full", "lora", "qlora", "dpo"]),
    st.integers(min_value=-1, max_value=40_000),
    st.integers(min_value=-1, max_value=64),
    st.sampled_from([1, 2, 8, 24, 64]),
    st.integers(0, 4),
    st.sampled_from([1, 2, 4, 8, 3]),
    st.floats(allow_nan=True, allow_infinity=True),
)
def test_training_estimates_are_finite_or_refused(method, seq_len, micro_batch, gpus, zero, tp, tokens):
    from llm_calc.catalog import find_model

    spec = find_model("meta-llama/Llama-2-7b-hf").spec
    try:
        setup = TrainingSetup(
            method=method,
            seq_len=seq_len,
            micro_batch=micro_batch,
            gpus=gpus,
            zero_stage=zero,
            tensor_parallel=tp,
            lora_targets=("q_proj", "v_proj"),
        )
        flops = training_flops(spec, tokens, method, 4_194_304)
    except ValueError as error:
        assert str(error)
        return
    assert finite_and_non_negative(training_memory(spec, setup).total_bytes, flops)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=30,
)
config_keys = st.sampled_from(
    [
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "num_key_value_heads",
        "intermediate_size",
        "vocab_size",
        "model_type",
        "head_dim",
        "num_local_experts",
        "num_experts_per_tok",
        "sliding_window",
        "kv_lora_rank",
        "tie_word_embeddings",
    ]
)


@SETTINGS
@given(
    st.dictionaries(config_keys, json_values, max_size=13) | json_values,
    st.sampled_from(SUPPORTED_MODEL_TYPES) | st.none(),
)
def test_any_json_config_is_parsed_or_refused_with_config_error(config, model_type):
    """A random model_type is refused at once, so most examples name a supported family to reach
    the family's own parsing paths."""
    if model_type is not None and isinstance(config, dict):
        config = {**config, "model_type": model_type}
    try:
        spec = parse_config_text(json.dumps(config))
    except ConfigError as error:
        assert str(error)
        return
    assert finite_and_non_negative(count_parameters(spec).total)


@SETTINGS
@given(st.binary(max_size=400))
def test_any_bytes_upload_decodes_and_counts(data):
    upload = decode_upload(data)
    [count] = count_tokens(upload.text, ["cl100k_base"])
    assert count.tokens >= 0 and upload.replaced_bytes >= 0
