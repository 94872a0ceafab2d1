"""Reading Hugging Face config.json files, real and hostile."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_calc.architecture import count_parameters, kv_cache_bytes
from llm_calc.catalog import find_model
from llm_calc.hf_config import SUPPORTED_MODEL_TYPES, ConfigError, parse_config_text

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = Path(__file__).parent / "configs"


def _llama(**changes):
    config = json.loads((CONFIGS / "Llama-2-7b-hf.json").read_text())
    config.update(changes)
    return json.dumps(config)


# Real config.json files as published on the Hub, and the catalog row each must reproduce.
REAL = {
    "Llama-2-7b-hf.json": "meta-llama/Llama-2-7b-hf",
    "Meta-Llama-3-8B.json": "meta-llama/Meta-Llama-3-8B",
    "Mistral-7B-v0.1.json": "mistralai/Mistral-7B-v0.1",
    "Mixtral-8x7B-v0.1.json": "mistralai/Mixtral-8x7B-v0.1",
    "DeepSeek-V3.json": "deepseek-ai/DeepSeek-V3",
    "falcon-7b.json": "tiiuae/falcon-7b",
    "gemma-2-9b.json": "google/gemma-2-9b",
    "gpt2.json": "openai-community/gpt2",
    "mpt-7b.json": "mosaicml/mpt-7b",
    "Qwen2.5-7B.json": "Qwen/Qwen2.5-7B",
    "falcon-40b.json": "tiiuae/falcon-40b",
    "Phi-3-mini-4k-instruct.json": "microsoft/Phi-3-mini-4k-instruct",
    "starcoder.json": "bigcode/octocoder",  # OctoCoder is StarCoder fine-tuned, with its shape
}


@pytest.mark.parametrize(("filename", "hf_id"), REAL.items())
def test_real_configs_give_the_catalog_architecture(filename, hf_id):
    spec = parse_config_text((CONFIGS / filename).read_bytes(), name=filename)
    expected = find_model(hf_id).spec
    assert spec.with_changes(name=expected.name) == expected
    assert count_parameters(spec).total == count_parameters(expected).total


def test_llama2_config_gives_the_published_count():
    spec = parse_config_text((CONFIGS / "Llama-2-7b-hf.json").read_text())
    assert count_parameters(spec).total == 6_738_415_616


def test_multimodal_wrapper_reads_its_text_config():
    inner = json.loads((CONFIGS / "Meta-Llama-3-8B.json").read_text())
    wrapped = {"model_type": "llava", "text_config": inner, "vision_config": {"hidden_size": 1024}}
    assert count_parameters(parse_config_text(json.dumps(wrapped))).total == 8_030_261_248


def test_gemma3_wrapper_sizes_its_language_model_with_gemma3_text_defaults():
    # gemma-3-4b-it's text_config gives only widths, depth and window; heads, head_dim and vocab
    # are Gemma3TextConfig defaults. 3,880,263,168: Gemma3ForCausalLM of that text_config built
    # on the meta device (tests/test_param_oracle.py); the vision tower is not counted.
    spec = parse_config_text((CONFIGS / "gemma-3-4b-it.json").read_text())
    assert (spec.num_attention_heads, spec.num_kv_heads, spec.head_dim, spec.vocab_size) == (8, 4, 256, 262_208)
    assert count_parameters(spec).total == 3_880_263_168
    # 34 layers, every sixth global: 5 global, 29 sliding over 1,024 tokens
    assert (spec.sliding_window, spec.sliding_window_layers) == (1024, 29)


def test_wrapper_whose_text_config_has_no_model_type_is_refused():
    inner = json.loads((CONFIGS / "Meta-Llama-3-8B.json").read_text())
    del inner["model_type"]
    wrapped = {"model_type": "llava", "text_config": inner}
    with pytest.raises(ConfigError, match="text_config with no model_type"):
        parse_config_text(json.dumps(wrapped))


def _phi_like_unknown() -> str:
    config = json.loads((CONFIGS / "phi-2.json").read_text())
    config["model_type"] = "phi-like-unknown"
    return json.dumps(config)


@pytest.mark.parametrize(
    ("text", "model_type"),
    [
        (_phi_like_unknown(), "phi-like-unknown"),
        (_llama(model_type="olmo2"), "olmo2"),  # a Llama-like family with its own norms: not modelled
        (json.dumps({"model_type": "gemma3", "text_config": {"model_type": "siglip", "hidden_size": 8}}), "siglip"),
    ],
)
def test_unknown_architecture_is_refused_naming_it_and_the_supported_families(text, model_type):
    """Before issue 10 an unknown model_type was sized as a gated Llama (phi-2: 3.62 B instead of 2.78 B)."""
    with pytest.raises(ConfigError) as raised:
        parse_config_text(text)
    message = str(raised.value)
    assert f"model_type {model_type!r}" in message
    assert all(family in message for family in SUPPORTED_MODEL_TYPES)
    assert len(message.splitlines()) == 1


def test_config_without_model_type_is_refused():
    config = json.loads((CONFIGS / "Llama-2-7b-hf.json").read_text())
    del config["model_type"]
    with pytest.raises(ConfigError, match="no model_type"):
        parse_config_text(json.dumps(config))


# Published or meta-device counts (tests/test_param_oracle.py builds the same files in transformers).
@pytest.mark.parametrize(
    ("filename", "total"),
    [
        ("phi-2.json", 2_779_683_840),  # microsoft/phi-2 model page; meta-device count
        ("phi-1_5.json", 1_418_270_720),  # meta-device count (model page: 1.42 B)
        ("gpt-oss-120b.json", 116_829_156_672),  # meta-device count with 36 x 64 attention sinks
        ("gpt-oss-20b.json", 20_914_757_184),  # meta-device count (model card: 21 B)
        ("Qwen1.5-MoE-A2.7B.json", 14_315_784_192),  # meta-device count; Qwen blog: 14.3 B
        ("Qwen3-0.6B.json", 596_049_920),  # meta-device count; model card: 0.6 B
        ("gemma-3-1b-it.json", 999_885_952),  # meta-device count; model card: 1 B
    ],
)
def test_families_added_or_fixed_in_issue_10_count_exactly(filename, total):
    assert count_parameters(parse_config_text((CONFIGS / filename).read_text(), filename)).total == total


def test_phi2_layer_by_layer():
    """phi-2: 32 layers of hidden 2560, MLP 10240, vocabulary 51200.

    Per layer: q, k, v, dense 4 x (2560^2 + 2560) = 26,224,640; fc1 2560 x 10240 + 10240 and fc2
    10240 x 2560 + 2560 = 52,441,600; one LayerNorm 2 x 2560. Embedding 51200 x 2560, lm_head the
    same plus a 51200 bias, final LayerNorm 5120:
    32 x 78,671,360 + 2 x 131,072,000 + 51,200 + 5,120 = 2,779,683,840.
    """
    spec = parse_config_text((CONFIGS / "phi-2.json").read_text())
    assert (spec.gated_mlp, spec.norms_per_layer, spec.lm_head_bias, spec.tie_embeddings) == (False, 1, True, False)
    assert 32 * (
        4 * (2560**2 + 2560) + 2 * 2560 * 10240 + 10240 + 2560 + 2 * 2560
    ) + 2 * 51200 * 2560 + 51200 + 5120 == (2_779_683_840)
    assert count_parameters(spec).total == 2_779_683_840


def test_qwen2_moe_counts_its_gated_shared_expert():
    """Qwen1.5-MoE-A2.7B: per layer 60 experts of 3 x 2048 x 1408, one shared expert of
    3 x 2048 x 5632 = 34,603,008 and its 2048 -> 1 gate; before issue 10 both were missing
    (13.49 B total instead of 14.32 B)."""
    counts = count_parameters(parse_config_text((CONFIGS / "Qwen1.5-MoE-A2.7B.json").read_text()))
    assert counts.total == 14_315_784_192
    # a token skips 56 of 60 experts in each of 24 layers: 24 x 56 x 8,650,752 = 11,626,610,688
    assert counts.active == 14_315_784_192 - 11_626_610_688 == 2_689_173_504


@pytest.mark.parametrize(
    ("changes", "dense_layers"),
    [
        ({"decoder_sparse_step": 2}, 12),  # layers 1, 3, ..., 23 are MoE: 12 dense
        ({"mlp_only_layers": [0, 5, 23]}, 3),
        ({"decoder_sparse_step": 3, "mlp_only_layers": [2, 3]}, 17),  # MoE: 2,5,...,23 less 2 -> 7
    ],
)
def test_qwen_moe_layers_follow_decoder_sparse_step_and_mlp_only_layers(changes, dense_layers):
    config = json.loads((CONFIGS / "Qwen1.5-MoE-A2.7B.json").read_text())
    config.update(changes)
    assert parse_config_text(json.dumps(config)).dense_layers == dense_layers


def test_llama4_scout_sizes_its_language_model_with_experts_and_a_shared_expert():
    """Llama-4-Scout-17B-16E, text model: 48 layers, each 16 experts and one shared expert of
    3 x 5120 x 8192 = 125,829,120, a 5120 -> 16 router; attention 2 x 5120^2 + 2 x 5120 x 1024
    = 62,914,560; two norms; vocabulary 202,048 in and out.
    Total: 48 x (17 x 125,829,120 + 81,920 + 62,914,560 + 10,240) + 2 x 202,048 x 5120 + 5120
    = 107,769,861,120 (meta-device count; Meta: "109B total" with the vision encoder).
    Active: 2 of the 17 MLPs per layer: 17,172,894,720 (Meta: "17B active")."""
    spec = parse_config_text((CONFIGS / "Llama-4-Scout-17B-16E.json").read_text())
    per_layer = 17 * 125_829_120 + 81_920 + 62_914_560 + 10_240
    assert 48 * per_layer + 2 * 202_048 * 5120 + 5120 == 107_769_861_120
    counts = count_parameters(spec)
    assert counts.total == 107_769_861_120
    assert counts.active == 107_769_861_120 - 48 * 15 * 125_829_120 == 17_172_894_720


def test_llama4_chunked_layers_cache_one_chunk():
    # 36 RoPE layers attend within 8,192-token chunks, 12 NoPE layers see everything; each token
    # and layer caches 2 x 8 KV heads x 128 values x 2 bytes = 4,096 bytes.
    spec = parse_config_text((CONFIGS / "Llama-4-Scout-17B-16E.json").read_text())
    assert kv_cache_bytes(spec, 32_768, 1, 16) == (12 * 32_768 + 36 * 8192) * 4096 == 2_818_572_288


def test_llama4_interleaved_moe_layers_keep_a_wider_dense_mlp():
    # Maverick's layout: every second layer MoE, the others a dense MLP of intermediate_size_mlp
    config = json.loads((CONFIGS / "Llama-4-Scout-17B-16E.json").read_text())["text_config"]
    config.update(interleave_moe_layer_step=2, moe_layers=None)
    spec = parse_config_text(json.dumps(config))
    assert (spec.dense_layers, spec.intermediate_size, spec.expert_intermediate_size) == (24, 16_384, 8192)


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"no_rope_layers": [1, 0]}, "no_rope_layers has 2 entries"), ({"moe_layers": [0, 48]}, "moe_layers")],
)
def test_llama4_malformed_layer_lists_are_refused(changes, message):
    config = json.loads((CONFIGS / "Llama-4-Scout-17B-16E.json").read_text())["text_config"]
    config.update(changes)
    with pytest.raises(ConfigError, match=message):
        parse_config_text(json.dumps(config))


@pytest.mark.parametrize(
    "changes",
    [{"no_bias": False}, {"expansion_ratio": 8}, {"attn_config": {"attn_type": "grouped_query_attention"}}],
)
def test_mpt_options_transformers_does_not_build_are_refused(changes):
    config = json.loads((CONFIGS / "mpt-7b.json").read_text())
    config.update(changes)
    with pytest.raises(ConfigError, match="MPT"):
        parse_config_text(json.dumps(config))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not valid JSON"),
        ("{not json", "not valid JSON"),
        ("[1, 2, 3]", "must be a JSON object"),
        ('"hello"', "must be a JSON object"),
        ("{}", "no model_type"),
        ('{"model_type": "llama"}', "no hidden_size"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply|not valid JSON|larger|bytes"),
        (_llama(hidden_size=-4096), "hidden_size must not be negative"),
        (_llama(hidden_size="4096"), "hidden_size must be a whole number"),
        # a 401-digit number has no float to format it with: on main this raised OverflowError, not ConfigError
        (_llama(hidden_size=10**400), "hidden_size must be at most 10,000,000, got ~1e400"),
        (_llama(num_hidden_layers=-(10**400)), "num_hidden_layers must not be negative, got -~1e400"),
        (_llama(num_hidden_layers=1e300), "num_hidden_layers"),
        (_llama(vocab_size=10**30), "vocab_size"),
        (_llama(num_attention_heads=0), "num_attention_heads"),
        (_llama(num_key_value_heads=64), "num_kv_heads"),
        (_llama(tie_word_embeddings="yes"), "tie_word_embeddings must be true or false"),
        (_llama(hidden_size=True), "whole number"),
        ("{" + '"a": 1,' * 200_000 + '"b": 2}', "bytes"),
    ],
)
def test_hostile_or_broken_configs_raise_a_clear_config_error(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_config_text(text)


def test_binary_upload_is_reported_not_crashed():
    with pytest.raises(ConfigError, match="UTF-8|JSON"):
        parse_config_text(b"\xff\xfe\x00\x81garbage")


def test_model_name_from_a_config_keeps_only_hub_id_characters():
    spec = parse_config_text(_llama(_name_or_path="[x](javascript:alert(1)) <script>$y$"))
    assert spec.name == "xjavascriptalert1 scripty"


def test_cli_refuses_an_unknown_architecture_with_exit_2_and_one_line(tmp_path):
    config = tmp_path / "phi-like-unknown.json"
    config.write_text(_phi_like_unknown())
    done = subprocess.run(
        [sys.executable, "-m", "llm_calc", "memory", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    assert "model_type 'phi-like-unknown'" in line and "phi" in line


# Real configs of every supported family, each with some keys replaced by arbitrary JSON values.
_REAL_CONFIGS = {path.name: json.loads(path.read_text()) for path in sorted(CONFIGS.glob("*.json"))}
_RARE_KEYS = {"text_config", "mlp_only_layers", "num_ln_in_parallel_attn", "no_bias", "expansion_ratio"}
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(_REAL_CONFIGS)),
    st.dictionaries(
        st.sampled_from(sorted({key for config in _REAL_CONFIGS.values() for key in config} | _RARE_KEYS)),
        _json_values,
        max_size=4,
    ),
)
def test_a_supported_config_with_any_keys_changed_is_sized_or_refused(filename, changes):
    """Every family's reading path, not only the refusal of unknown types, ends in a spec or a ConfigError."""
    try:
        spec = parse_config_text(json.dumps({**_REAL_CONFIGS[filename], **changes}), filename)
    except ConfigError as error:
        assert str(error) and len(str(error).splitlines()) == 1
        return
    counts = count_parameters(spec)
    assert 0 < counts.active <= counts.total


# --- vision towers of multimodal wrappers (issue 11) -----------------------------------------

from llm_calc.hf_config import parse_vision_parameters_text  # noqa: E402

HF_CONFIGS = Path(__file__).parent.parent / "data" / "hf_configs"


@pytest.mark.parametrize(
    ("path", "whole_model"),
    [
        # data/hf_configs/manifest.csv, meta_params_with_vision: transformers' meta-device build of
        # the whole wrapper, recorded when that data set was made
        (HF_CONFIGS / "Qwen__Qwen3.5-27B.json", 27_356_728_560),
        (HF_CONFIGS / "mistralai__Devstral-Small-2-24B-Instruct-2512.json", 24_011_361_280),
        (HF_CONFIGS / "google__gemma-3-27b-it.json", 27_432_406_640),
    ],
    ids=lambda value: value.name if isinstance(value, Path) else str(value),
)
def test_language_model_plus_vision_tower_is_the_whole_checkpoint(path, whole_model):
    text = count_parameters(parse_config_text(path.read_bytes(), name=path.name)).total
    assert text + parse_vision_parameters_text(path.read_bytes(), name=path.name) == whole_model


def test_gemma3_vision_encoder_is_the_reports_417m():
    """Gemma 3 report (arXiv:2503.19786) Table 1: vision encoder 417M. Our count adds the projector:
    an RMSNorm of 1,152 and a 1,152 x 5,376 matrix (27B's text width) = 6,194,304."""
    vision = parse_vision_parameters_text((HF_CONFIGS / "google__gemma-3-27b-it.json").read_bytes())
    assert round((vision - 6_194_304) / 1e6) == 417


def test_a_text_only_config_has_no_vision_parameters():
    assert parse_vision_parameters_text((HF_CONFIGS / "Qwen__Qwen3-8B.json").read_bytes()) == 0


def test_llama4_scout_with_its_vision_tower_is_the_published_109b():
    """Llama 4 model card: "Llama 4 Scout: 17B active, 109B total parameters" (text and vision)."""
    scout = (Path(__file__).parent / "configs" / "Llama-4-Scout-17B-16E.json").read_bytes()
    total = count_parameters(parse_config_text(scout)).total + parse_vision_parameters_text(scout)
    assert round(total / 1e9) == 109


def test_a_siglip_pooling_head_is_refused():
    config = json.loads((HF_CONFIGS / "google__gemma-3-27b-it.json").read_text())
    config["vision_config"]["vision_use_head"] = True
    with pytest.raises(ConfigError, match="pooling head"):
        parse_vision_parameters_text(json.dumps(config))


def test_every_other_real_config_of_2025_26_is_read_or_refused_by_its_model_type():
    """A supported family is read; a family not modelled yet is refused naming its model_type."""
    refused: set[str] = set()
    for path in sorted(HF_CONFIGS.glob("*.json")):
        config = json.loads(path.read_text())
        model_type = (config.get("text_config") or {}).get("model_type") or config.get("model_type")
        if path.name in refused:
            continue
        if model_type in SUPPORTED_MODEL_TYPES or config.get("model_type") in SUPPORTED_MODEL_TYPES:
            assert count_parameters(parse_config_text(path.read_bytes(), name=path.name)).total > 0, path.name
        else:
            with pytest.raises(ConfigError, match="does not model"):
                parse_config_text(path.read_bytes(), name=path.name)


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("mamba", "layer type mamba is not modelled"),
        ("linear_attention", "linear_attention layers are modelled for qwen3_next and qwen3_5 only"),
    ],
)
def test_layer_types_a_family_does_not_build_are_refused(kind, message):
    """OLMo 3's layer_types with one layer of another kind: transformers' Olmo3 would not build it."""
    config = json.loads((HF_CONFIGS / "allenai__Olmo-3.1-32B-Instruct.json").read_text())
    config["layer_types"][0] = kind
    with pytest.raises(ConfigError, match=message):
        parse_config_text(json.dumps(config))


def test_layer_types_must_name_every_layer():
    config = json.loads((HF_CONFIGS / "allenai__Olmo-3.1-32B-Instruct.json").read_text())
    config["layer_types"] = config["layer_types"][:10]
    with pytest.raises(ConfigError, match="one type for each of the 64 layers"):
        parse_config_text(json.dumps(config))


def test_a_vision_tower_of_another_kind_is_refused_by_name():
    """Every stored wrapper's tower is modelled (Gemma 4 and LFM2.5-VL since issue 11), so a wrapper
    we do not model is made by renaming one: PaliGemma's would be a different projector."""
    config = json.loads((HF_CONFIGS / "google__gemma-3-27b-it.json").read_text())
    config["model_type"] = "paligemma"
    with pytest.raises(ConfigError, match="vision tower of model_type 'paligemma' is not modelled"):
        parse_vision_parameters_text(json.dumps(config))


def test_conv_layers_outside_lfm2_are_refused():
    config = json.loads((HF_CONFIGS / "allenai__Olmo-3.1-32B-Instruct.json").read_text())
    config["layer_types"][0] = "conv"
    with pytest.raises(ConfigError, match="conv layers are modelled for lfm2 only"):
        parse_config_text(json.dumps(config))


def test_deepseek_v3_moe_layer_freq_other_than_one_is_refused():
    """The real DeepSeek-V3 config states moe_layer_freq 1 (read, every layer past the first 3 is
    MoE); transformers' DeepseekV3 ignores the key, so another value describes a model we cannot check."""
    config = json.loads((HF_CONFIGS / "deepseek-ai__DeepSeek-V3.json").read_text())
    assert config["moe_layer_freq"] == 1
    config["moe_layer_freq"] = 2
    with pytest.raises(ConfigError, match="moe_layer_freq other than 1 is not modelled"):
        parse_config_text(json.dumps(config))


# --- state-space hybrids (issue 11) ----------------------------------------------------------------

NEMOTRON = "nvidia__NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.json"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hybrid_override_pattern": "MEX*"}, "hybrid_override_pattern must name each layer"),
        ({"layers_block_type": [["mamba"]]}, "layers_block_type"),  # a list in the list: TypeError once
        ({"moe_latent_size": 1024}, "mlp_bias or moe_latent_size is not modelled"),
        ({"mamba_ssm_cache_dtype": "float8"}, "mamba_ssm_cache_dtype 'float8' is not modelled"),
        # found by the property test under stress: a list raised TypeError (unhashable), a traceback
        ({"mamba_ssm_cache_dtype": []}, r"mamba_ssm_cache_dtype '\[\]' is not modelled"),
        ({"mamba_ssm_cache_dtype": {"a": 1}}, "mamba_ssm_cache_dtype .* is not modelled"),
        ({"sliding_window": 4096}, "sliding window in a nemotron_h model is not modelled"),
        ({"num_hidden_layers": 40}, "num_hidden_layers differs"),
    ],
)
def test_nemotron_h_configs_we_cannot_size_are_refused(change, message):
    config = {**json.loads((HF_CONFIGS / NEMOTRON).read_text()), **change}
    with pytest.raises(ConfigError, match=message):
        parse_config_text(json.dumps(config))


def test_nemotron_h_layers_block_type_spelling_is_read_like_the_pattern():
    """transformers 5 saves the layout as layers_block_type; the same model must come out."""
    config = json.loads((HF_CONFIGS / NEMOTRON).read_text())
    names = {"M": "linear_attention", "E": "moe", "*": "full_attention", "-": "mlp"}
    listed = {**config, "layers_block_type": [names[c] for c in config.pop("hybrid_override_pattern")]}
    assert parse_config_text(json.dumps(listed)) == parse_config_text((HF_CONFIGS / NEMOTRON).read_bytes())


def test_granite_4_without_layer_types_is_all_mamba_as_its_config_class_says():
    config = json.loads((HF_CONFIGS / "ibm-granite__granite-4.0-h-tiny.json").read_text())
    del config["layer_types"]
    spec = parse_config_text(json.dumps(config))
    assert (spec.mamba_layers, spec.attention_layers) == (40, 0)


def test_granite_4_unknown_layer_type_is_refused():
    config = json.loads((HF_CONFIGS / "ibm-granite__granite-4.0-h-tiny.json").read_text())
    config["layer_types"][0] = "conv"
    with pytest.raises(ConfigError, match="layer_types must name each of the 40 layers"):
        parse_config_text(json.dumps(config))


def test_jamba_offset_past_its_period_is_refused():
    config = json.loads((HF_CONFIGS / "ai21labs__AI21-Jamba-1.5-Mini.json").read_text())
    config["attn_layer_offset"] = 8
    with pytest.raises(ConfigError, match="attn_layer_offset must be smaller than attn_layer_period"):
        parse_config_text(json.dumps(config))


def test_falcon_h1_mamba_heads_must_tile_its_width():
    config = json.loads((HF_CONFIGS / "tiiuae__Falcon-H1-7B-Instruct.json").read_text())
    del config["mamba_d_ssm"]  # FalconH1Config's default 1,024 is not 24 heads x 128
    with pytest.raises(ConfigError, match="mamba_n_heads x mamba_d_head must equal the Mamba width 1024"):
        parse_config_text(json.dumps(config))


def test_nemotron_h_ssm_state_is_float32_unless_its_config_says_otherwise():
    """NemotronHConfig and vLLM's NemotronHForCausalLMConfig both default mamba_ssm_cache_dtype to
    float32; the other Mamba families keep the model dtype (16 bits)."""
    config = json.loads((HF_CONFIGS / NEMOTRON).read_text())
    del config["mamba_ssm_cache_dtype"]
    assert parse_config_text(json.dumps(config)).mamba_state_bits == 32
    config["mamba_ssm_cache_dtype"] = "bfloat16"
    assert parse_config_text(json.dumps(config)).mamba_state_bits == 16
    granite = parse_config_text((HF_CONFIGS / "ibm-granite__granite-4.0-h-tiny.json").read_bytes())
    assert granite.mamba_state_bits == 16


@pytest.mark.parametrize(
    ("filename", "state_per_sequence"),
    [
        # by hand in tests/test_architecture.py (test_nemotron_3_nano_layout_and_state_by_hand and
        # test_mamba_state_and_kv_cache_by_hand)
        (NEMOTRON, 49_082_368),
        ("ai21labs__AI21-Jamba-1.5-Mini.json", 28 * 311_296),
        ("tiiuae__Falcon-H1-7B-Instruct.json", 44 * 1_594_368),
        ("ibm-granite__granite-4.0-h-tiny.json", 36 * 806_400),
    ],
)
def test_memory_cli_sizes_each_mamba_hybrid_with_its_state(capsys, filename, state_per_sequence):
    """`python -m llm_calc memory --config FILE` works for every state-space family and its JSON
    reports the state of every sequence as its own part of the total."""
    from llm_calc.cli import main

    assert main(["memory", "--config", str(HF_CONFIGS / filename), "--batch", "3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["state_bytes"] == 3 * state_per_sequence
    parts = ("weights_bytes", "kv_cache_bytes", "state_bytes", "activations_bytes", "overhead_bytes")
    assert report["total_bytes"] == sum(report[k] for k in parts)


def test_llama4_scout_instruct_10m_context_is_read():
    """Llama-4-Scout-17B-16E-Instruct states max_position_embeddings 10,485,760 (its 10M-token
    window); a bound of 10,000,000 on every size field refused the real config."""
    config = json.loads((Path(__file__).parent / "configs" / "Llama-4-Scout-17B-16E.json").read_text())
    config["text_config"]["max_position_embeddings"] = 10_485_760
    assert parse_config_text(json.dumps(config)).max_context == 10_485_760
