"""The shipped catalogs are complete and sourced; broken copies fail with file, row and column."""

import csv
import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from llm_calc.architecture import HYBRID_SPEC_FIELDS, ModelSpec, count_parameters
from llm_calc.catalog import (
    CHECKPOINT_FORMATS,
    DATA_DIR,
    CatalogError,
    default_gpus,
    default_models,
    find_model,
    load_gpus,
    load_models,
)
from llm_calc.hf_config import ConfigError, checkpoint_from_config, parse_config_text
from llm_calc.quantization import Checkpoint, storage_plan

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = DATA_DIR / "hf_configs"


def test_model_catalog_has_the_families_the_issue_names():
    models = default_models()
    assert len(models) >= 25
    ids = {m.hf_id for m in models}
    for needed in (
        "meta-llama/Llama-2-7b-hf",
        "meta-llama/Llama-2-13b-hf",
        "meta-llama/Llama-2-70b-hf",
        "meta-llama/Meta-Llama-3-8B",
        "meta-llama/Meta-Llama-3-70B",
        "meta-llama/Llama-3.1-405B",
        "mistralai/Mistral-7B-v0.1",
        "mistralai/Mixtral-8x7B-v0.1",
        "tiiuae/falcon-7b",
        "tiiuae/falcon-40b",
        "tiiuae/falcon-180B",
        "mosaicml/mpt-7b",
        "mosaicml/mpt-30b",
        "openai/gpt-3-175b",
        "deepseek-ai/DeepSeek-V3",
    ):
        assert needed in ids
    assert all(m.source and m.params_source for m in models)


def test_gpu_catalog_spans_vendors_and_classes():
    gpus = default_gpus()
    assert len(gpus) >= 30
    names = {g.name for g in gpus}
    for needed in (
        "NVIDIA T4",
        "NVIDIA B200",
        "AMD Instinct MI250X",
        "AMD Instinct MI300X",
        "AMD Instinct MI325X",
        "NVIDIA RTX 3090",
        "NVIDIA RTX 4090",
        "NVIDIA RTX 5090",
    ):
        assert needed in names
    assert {g.gpu_class for g in gpus} == {"datacenter", "workstation", "consumer", "apple", "cpu"}
    assert all(g.source for g in gpus)
    assert all(g.price_source for g in gpus if g.price_per_hour_usd)


def test_h100_row_matches_its_datasheet():
    h100 = next(g for g in default_gpus() if g.name == "NVIDIA H100 SXM")
    assert (h100.memory_bytes, h100.bandwidth_gbs, h100.tflops_16bit) == (80 * 2**30, 3350, 989)


def _broken_copy(tmp_path, name, old, new):
    path = tmp_path / name
    shutil.copy(DATA_DIR / name, path)
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return path


def test_bad_number_names_file_row_and_column(tmp_path):
    path = _broken_copy(
        tmp_path,
        "gpus.csv",
        "NVIDIA V100 SXM2 32GB,NVIDIA,datacenter,32,900",
        "NVIDIA V100 SXM2 32GB,NVIDIA,datacenter,32,fast",
    )
    with pytest.raises(CatalogError, match=r"gpus\.csv row 3, column bandwidth_gbs: expected a number, got 'fast'"):
        load_gpus(path)


def test_negative_memory_is_rejected(tmp_path):
    path = _broken_copy(tmp_path, "gpus.csv", "NVIDIA T4,NVIDIA,datacenter,16", "NVIDIA T4,NVIDIA,datacenter,-16")
    with pytest.raises(CatalogError, match=r"row 2, column memory_gib: expected a positive"):
        load_gpus(path)


def test_unknown_class_is_rejected(tmp_path):
    path = _broken_copy(tmp_path, "gpus.csv", "NVIDIA T4,NVIDIA,datacenter", "NVIDIA T4,NVIDIA,gaming")
    with pytest.raises(CatalogError, match=r"row 2, column class: expected one of"):
        load_gpus(path)


def _first_gpu_row_with(tmp_path, **cells) -> Path:
    """data/gpus.csv cut to its first row, with ``cells`` replaced."""
    path = tmp_path / "gpus.csv"
    with (DATA_DIR / "gpus.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        first = {**next(reader), **cells}
        with path.open("w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=reader.fieldnames)
            writer.writeheader()
            writer.writerow(first)
    return path


def test_missing_source_is_rejected(tmp_path):
    with pytest.raises(CatalogError, match=r"row 2, column source: expected text"):
        load_gpus(_first_gpu_row_with(tmp_path, source=""))


def test_an_interconnect_needs_its_bandwidth_and_source(tmp_path):
    with pytest.raises(CatalogError, match=r"row 2, column interconnect: a link needs its bandwidth and a source"):
        load_gpus(_first_gpu_row_with(tmp_path, interconnect_gbs=""))
    with pytest.raises(CatalogError, match=r"row 2, column interconnect: expected one of"):
        load_gpus(_first_gpu_row_with(tmp_path, interconnect="pcie9"))


def test_a_weight_streaming_ceiling_needs_its_source_and_stays_under_the_datasheet(tmp_path):
    with pytest.raises(
        CatalogError, match=r"row 2, column weight_stream_gbs: a weight-streaming figure needs its source"
    ):
        load_gpus(_first_gpu_row_with(tmp_path, weight_stream_gbs="100"))
    with pytest.raises(
        CatalogError, match=r"row 2, column weight_stream_gbs: a weight-streaming figure needs its source"
    ):
        load_gpus(_first_gpu_row_with(tmp_path, weight_stream_source="a benchmark"))
    with pytest.raises(
        CatalogError, match=r"row 2, column weight_stream_gbs: 999,999 GB/s is above the card's datasheet"
    ):
        load_gpus(_first_gpu_row_with(tmp_path, weight_stream_gbs="999999", weight_stream_source="a benchmark"))


def test_every_card_but_apple_has_its_link():
    # one Mac or one CPU socket per deployment: their rows have no link; every card says how it joins others
    for gpu in load_gpus():
        assert bool(gpu.interconnect) != gpu.stands_alone, gpu.name
        assert not gpu.interconnect or (gpu.interconnect_gbs and gpu.interconnect_source), gpu.name


def test_duplicate_model_id_is_rejected(tmp_path):
    path = tmp_path / "models.csv"
    lines = (DATA_DIR / "models.csv").read_text().splitlines()
    path.write_text("\n".join([lines[0], lines[1], lines[1]]) + "\n")
    with pytest.raises(CatalogError, match=r"models\.csv row 3, column hf_id: duplicate"):
        load_models(path)


def test_impossible_architecture_is_rejected_with_its_row(tmp_path):
    path = _broken_copy(tmp_path, "models.csv", "32000,4096,32,32,32,128,11008", "32000,4096,32,32,64,128,11008")
    with pytest.raises(CatalogError, match=r"models\.csv row 4: num_kv_heads \(64\) cannot exceed"):
        load_models(path)


def test_missing_column_is_named(tmp_path):
    path = tmp_path / "gpus.csv"
    text = (DATA_DIR / "gpus.csv").read_text().replace("bandwidth_gbs", "bandwidth", 1)
    path.write_text(text)
    with pytest.raises(CatalogError, match="missing column"):
        load_gpus(path)


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(CatalogError, match="cannot open"):
        load_gpus(tmp_path / "nope.csv")


# --- the catalog of current models (issue 11) ---------------------------------------------------

CURRENT_FAMILIES = {
    "gpt-oss": 2,
    "Qwen3": 10,
    "Qwen3-Coder": 1,
    "Llama 3.1": 6,
    "Llama 3.2": 4,
    "Llama 3.3": 1,
    "Gemma 3": 3,
    "DeepSeek": 4,
    "Qwen3.5": 5,
    "MiniMax-M2": 2,
    "GLM-5": 2,
    "Phi-4": 2,
    "Devstral 2": 2,
    "EXAONE 4.0": 1,
    "EXAONE 4.5": 1,
    "LFM2.5": 1,
    "Nemotron-H": 1,
}
"""Families of 2024-26 models and the rows each must have at least (grown as configs are added)."""


def test_every_row_names_its_config_params_source_convention_and_checkpoint():
    for model in default_models():
        assert model.config_source and model.params_source and model.params_convention
        assert model.checkpoint_kind in CHECKPOINT_FORMATS


def test_current_families_have_their_rows():
    families = Counter(m.family for m in default_models())
    for family, rows in CURRENT_FAMILIES.items():
        assert families[family] >= rows, family


MTP_INCLUDED = "includes the multi-token-prediction layer"
"""A ``params_convention`` whose published total is the Hub's safetensors total, which counts the
multi-token-prediction layer the checkpoint stores beside the main model (DeepSeek-V3's README: 'The
total size of DeepSeek-V3 models on Hugging Face is 685B, which includes 671B of the Main Model weights
and 14B of the Multi-Token Prediction (MTP) Module weights')."""

VISION_INCLUDED = "includes the vision tower"
"""A ``params_convention`` whose published total counts a multimodal wrapper's vision tower and
projector beside the language model the row sizes (LFM2.5-VL-1.6B's 1.6B)."""


def _stored(hf_id: str) -> tuple[ModelSpec, Checkpoint]:
    """The architecture and the checkpoint facts (MTP layers, vision tower) of the model's stored config."""
    manifest = csv.DictReader((CONFIG_DIR / "manifest.csv").open(newline="", encoding="utf-8"))
    entry = next(e for e in manifest if e["hf_id"] == hf_id)
    text = (CONFIG_DIR / entry["config_file"]).read_text(encoding="utf-8")
    spec = parse_config_text(text, name=entry["config_file"])
    return spec, checkpoint_from_config(json.loads(text), entry["config_file"])


def _mtp_params(hf_id: str) -> int:
    """Parameters of the MTP layers the model's stored config declares (``storage_plan``'s MTP rows)."""
    return storage_plan(*_stored(hf_id)).mtp_params


def _vision_params(hf_id: str) -> int:
    """Parameters of the vision tower and projector the model's stored config declares."""
    return _stored(hf_id)[1].vision_params


@pytest.mark.parametrize("model", default_models(), ids=[m.hf_id for m in default_models()])
def test_total_count_agrees_with_the_published_figure_to_its_stated_precision(model):
    """Vendors round or truncate to the precision the row's params_convention states: our count
    (from the architecture, never from the figure) must differ by less than one unit, or not at
    all where the figure is exact."""
    counted = count_parameters(model.spec).total
    if model.published_counts_tied_output:  # the source counts the tied output matrix twice
        counted += model.spec.vocab_size * model.spec.hidden_size
    if MTP_INCLUDED in model.params_convention:  # the Hub's safetensors total: the MTP layer too
        counted += _mtp_params(model.hf_id)
    if VISION_INCLUDED in model.params_convention:  # the name counts the whole multimodal model
        counted += _vision_params(model.hf_id)
    if model.params_precision == 0:
        assert counted == model.params_published
    else:
        assert abs(counted - model.params_published) < model.params_precision


@pytest.mark.parametrize("model", [m for m in default_models() if m.active_params_published], ids=lambda m: m.hf_id)
def test_active_count_agrees_with_the_published_figure_by_its_convention(model):
    """gpt-oss's 5.1B/3.6B and DeepSeek-V3's 37B leave the input embedding (a lookup, not a
    matrix product) out of "active"; Mixtral's 12.9B keeps it."""
    active = count_parameters(model.spec).active
    if model.active_excludes_input_embedding:
        active -= model.spec.vocab_size * model.spec.hidden_size
    assert model.active_precision is not None
    assert abs(active - model.active_params_published) <= max(model.active_precision - 1, 0)


def test_llama31_405b_instruct_has_the_architecture_meta_lists_for_it():
    """Meta's model registry (llama-models, models/llama3_1/api/sku_list.py, SKU
    llama3_1_405b_instruct_bf16_mp16 = meta-llama/Meta-Llama-3.1-405B-Instruct) gives the Instruct model
    dim 16384, 126 layers, 128 heads, 8 KV heads, vocabulary 128,256, ffn_dim_multiplier 1.2 and
    multiple_of 4096, context 131,072. Its feed-forward width by Meta's rule: int(2 x 4 x 16384 / 3) =
    43,690; x 1.2 = 52,428; rounded up to a multiple of 4,096 = 53,248. Its total by hand: embeddings
    2 x 128,256 x 16,384 = 4,202,692,608; a layer = attention 2 x 16,384^2 + 2 x 16,384 x 1,024 =
    570,425,344, MLP 3 x 16,384 x 53,248 = 2,617,245,696, two norms 32,768 = 3,187,703,808; x 126 + the
    final norm 16,384 = 405,853,388,800, what transformers builds on the meta device from the 405B
    config (tests/configs/Meta-Llama-3.1-405B.json), and within the card's "405B" to 1B."""
    spec = find_model("meta-llama/Llama-3.1-405B-Instruct").spec
    assert (spec.hidden_size, spec.num_layers, spec.num_attention_heads, spec.num_kv_heads) == (16384, 126, 128, 8)
    assert (spec.vocab_size, spec.intermediate_size, spec.max_context) == (128_256, 53_248, 131_072)
    assert not spec.tie_embeddings
    assert count_parameters(spec).total == 405_853_388_800


def test_deepseek_r1_0528_has_deepseek_r1s_architecture_and_fp8_checkpoint():
    """The shape keys of DeepSeek-R1-0528's config.json as gpustack's tests mirror them
    (tests/policies/candidate_selectors/ascend_mindie/test_ascend_mindie_resource_fit_selector.py,
    _MOCK_PRETRAINED_DEEPSEEK_R1_0528): 61 layers, hidden 7,168, vocabulary 129,280, 128 heads and KV
    heads, q_lora_rank 1,536, kv_lora_rank 512, rope 64 / nope 128 / v 128 head dims, 256 routed and 1
    shared experts of 2,048, context 163,840, fp8 e4m3 in 128 x 128 blocks. The main model is
    DeepSeek-V3's 671,026,404,352 parameters (the meta-device count of DeepSeek-V3's config, the
    oracle's published figure), 671B to 1B as NVIDIA's card for R1-0528 states; the MTP layer apart."""
    model = find_model("deepseek-ai/DeepSeek-R1-0528")
    spec = model.spec
    assert (spec.num_layers, spec.hidden_size, spec.vocab_size, spec.num_attention_heads) == (61, 7168, 129_280, 128)
    assert (spec.q_lora_rank, spec.kv_lora_rank, spec.qk_rope_head_dim, spec.qk_nope_head_dim) == (1536, 512, 64, 128)
    assert (spec.v_head_dim, spec.num_experts, spec.shared_experts, spec.moe_intermediate_size) == (128, 256, 1, 2048)
    assert spec.max_context == 163_840
    assert model.checkpoint_kind == "fp8 block-wise"
    assert count_parameters(spec).total == 671_026_404_352
    assert MTP_INCLUDED not in model.params_convention


def test_deepseek_v32_hub_total_holds_only_with_its_mtp_layer():
    """The Hub page's "685B params" for DeepSeek-V3.2 counts the stored safetensors: the main model
    (671.88B, the meta-device count in data/hf_configs/manifest.csv) is 13B short of it; with the MTP
    layer (one more MoE decoder layer, about 11.5B as for DeepSeek-V3, plus its own copies of the
    129,280 x 7,168 embedding and head, 2 x 0.93B) it agrees to the page's 1B."""
    model = find_model("deepseek-ai/DeepSeek-V3.2")
    assert MTP_INCLUDED in model.params_convention
    main = count_parameters(model.spec).total
    assert main == 671_877_929_216  # meta-device count of the config (scripts/meta_param_counts.py)
    assert 685_000_000_000 - main > 10_000_000_000
    assert abs(main + _mtp_params(model.hf_id) - 685_000_000_000) < 1_000_000_000


def test_qwen35_moe_active_counts_round_to_the_card_only_with_the_input_embedding():
    """Qwen's MoE cards count the input embedding in "activated": Qwen3.5-122B-A10B's "10B activated"
    is 9.77B with the 248,320 x 3,072 embedding (0.76B) and 9.01B, stated as 9B, without it."""
    model = find_model("Qwen/Qwen3.5-122B-A10B")
    assert not model.active_excludes_input_embedding
    active = count_parameters(model.spec).active
    assert round(active / 1e9) == 10
    assert round((active - 248_320 * 3_072) / 1e9) == 9


def test_lfm25_vl_name_holds_only_with_its_vision_tower():
    """LFM2.5-VL-1.6B's "1.6B" is the whole model: the LFM2.5 language model is 1.17B (the meta-device
    count, 1,170,340,608, and the LFM2.5-1.2B card's "1.17B"); the SigLIP2 tower and projector add
    0.43B (meta-device difference 426,285,296)."""
    model = find_model("LiquidAI/LFM2.5-VL-1.6B")
    assert VISION_INCLUDED in model.params_convention
    language_model = count_parameters(model.spec).total
    assert language_model == 1_170_340_608
    assert _vision_params(model.hf_id) == 426_285_296
    assert abs(language_model - 1_600_000_000) > 400_000_000
    assert abs(language_model + _vision_params(model.hf_id) - 1_600_000_000) < 100_000_000


def test_gpt_oss_active_counts_only_hold_without_the_input_embedding():
    """The convention matters: with the 201,088 x 2,880 input embedding (579M) gpt-oss-120b's
    active count is 5.7B, not the card's 5.1B."""
    model = find_model("openai/gpt-oss-120b")
    assert model.active_excludes_input_embedding
    assert count_parameters(model.spec).active - 5_100_000_000 > 500_000_000


def test_rows_from_configs_have_the_architecture_their_config_gives():
    """No architecture figure is typed by hand: each model with a config in data/hf_configs/ that
    llm_calc models has a row whose architecture is that config's (hand rows included)."""
    manifest = list(csv.DictReader((CONFIG_DIR / "manifest.csv").open(newline="", encoding="utf-8")))
    checked = 0
    for entry in manifest:
        text = (CONFIG_DIR / entry["config_file"]).read_text(encoding="utf-8")
        try:
            spec = parse_config_text(text, name=entry["config_file"])
            checkpoint_from_config(json.loads(text), entry["config_file"])
        except ConfigError:
            continue  # an architecture or a checkpoint format not modelled yet: no row
        config = json.loads(text)
        stored_as = [c.get(k) for c in (config, config.get("text_config") or {}) for k in ("torch_dtype", "dtype")]
        if "quantization_config" not in config and not any(stored_as):
            continue  # a partial copy that does not say how the weights are stored: no row
        if not (entry["total_params"] and entry["release_month"] and entry["params_source"]):
            continue  # no published count: no row
        row = find_model(entry["hf_id"])
        assert spec.with_changes(name=row.spec.name) == row.spec, entry["hf_id"]
        checked += 1
    assert checked >= 12


def test_catalog_is_what_the_script_writes_from_the_configs():
    done = subprocess.run(
        [sys.executable, "scripts/catalog_from_configs.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_checkpoint_format_as_shipped_is_read_from_the_config():
    # quantization_config of each: gpt-oss quant_method mxfp4; DeepSeek-V3 fp8 with weight_block_size [128, 128]
    assert find_model("openai/gpt-oss-20b").checkpoint_format == "MXFP4 experts"
    assert find_model("deepseek-ai/DeepSeek-V3").checkpoint_format == "fp8 block-wise"
    assert find_model("Qwen/Qwen3-8B").checkpoint_format == "bf16"


@pytest.mark.parametrize(
    ("column", "old", "new", "message"),
    [
        ("checkpoint_format", ",fp8 block-wise\n", ",int3\n", "expected one of fp32"),
        ("params_convention", ",total to 10M,", ",about 7B,", "expected 'total <precision>"),
        (
            "config_source",
            ",https://huggingface.co/mistralai/Mistral-7B-v0.1/blob/main/config.json,total",
            ",somewhere,total",
            "expected an https:// URL",
        ),
    ],
)
def test_bad_new_columns_name_file_row_and_column(tmp_path, column, old, new, message):
    path = _broken_copy(tmp_path, "models.csv", old, new)
    with pytest.raises(CatalogError, match=rf"models\.csv row \d+, column {column}: {message}"):
        load_models(path)


def test_active_count_without_its_convention_is_rejected(tmp_path):
    path = _broken_copy(tmp_path, "models.csv", "total exact; active to 0.1B with input embedding", "total exact")
    with pytest.raises(CatalogError, match=r"row \d+, column params_convention: a published active count needs"):
        load_models(path)


def test_duplicate_model_name_is_rejected(tmp_path):
    path = _broken_copy(tmp_path, "models.csv", ",Llama 3.1 8B,", ",Llama 3 8B,")
    with pytest.raises(CatalogError, match=r"column name: duplicate 'Llama 3 8B'"):
        load_models(path)


@pytest.mark.parametrize(
    ("hf_id", "linear_layers", "attention_layers"),
    [
        # Qwen3-Next blog: a 3:1 mix, 75 % of the layers Gated DeltaNet; 48 layers -> 36 + 12
        ("Qwen/Qwen3-Next-80B-A3B-Thinking", 36, 12),
        # Qwen3.5 keeps the 3:1 mix (one attention layer in every four); 64 layers -> 48 + 16
        ("Qwen/Qwen3.5-27B", 48, 16),
    ],
)
def test_hybrid_models_have_catalog_rows_with_their_linear_attention_layers(hf_id, linear_layers, attention_layers):
    """Hybrid models are in the picker, and their rows keep the Gated DeltaNet layers: a row without
    them would size every layer as attention, with a KV cache four times too large."""
    spec = find_model(hf_id).spec
    assert spec.linear_attention_layers == linear_layers
    assert spec.attention_layers == attention_layers
    assert spec.attention_output_gate  # the gated attention layers' doubled q_proj


def test_olmo3_row_keeps_its_query_key_norms_over_all_heads():
    # OLMo 3 normalises all 40 query heads at once: one 5,120-wide q_norm per layer, not a 128-wide one
    assert find_model("allenai/Olmo-3.1-32B-Instruct").spec.qk_norm_full


def test_a_catalog_without_hybrid_columns_loads_with_no_hybrid_layers(tmp_path):
    """An older models.csv (written before the hybrid columns) still loads: each row is a model
    without such layers, as it was when the file was written."""
    rows = list(csv.DictReader((DATA_DIR / "models.csv").open(newline="", encoding="utf-8")))
    kept = [c for c in rows[0] if c not in HYBRID_SPEC_FIELDS]
    path = tmp_path / "models.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=kept, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(r for r in rows if r["linear_attention_layers"] == "0" and r["qk_norm_full"] == "false")
    models = load_models(path)
    assert models and all(not m.spec.hybrid_fields_set for m in models)


def test_config_source_must_be_a_url_a_reader_can_open(tmp_path):
    """A code-index id cannot be opened by a reader: the catalog refuses it."""
    path = _broken_copy(
        tmp_path,
        "models.csv",
        ",https://huggingface.co/mistralai/Mistral-7B-v0.1/blob/main/config.json,total",
        ",github-code-index:id=37084402087,total",
    )
    with pytest.raises(CatalogError, match=r"column config_source: expected an https:// URL"):
        load_models(path)
