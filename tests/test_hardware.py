"""GPU fit, card counts, Apple's unified-memory share and roofline speed."""

import dataclasses

import pytest

from llm_calc.catalog import Gpu, default_gpus, find_gpu, find_model
from llm_calc.engines import EngineProfile
from llm_calc.hardware import (
    CARD_LADDER,
    MAX_CARDS,
    card_read_bytes,
    cards_needed,
    decode_read_bytes,
    expected_experts_touched,
    kv_bytes_per_card,
    per_card_bytes,
    size_on_gpus,
    speed,
    usable_memory_bytes,
)
from llm_calc.memory import InferenceSettings, inference_memory

GIB = 2**30
LLAMA3_70B = find_model("meta-llama/Meta-Llama-3-70B").spec
LLAMA2_7B = find_model("meta-llama/Llama-2-7b-hf").spec
MIXTRAL = find_model("mistralai/Mixtral-8x7B-v0.1").spec
H100 = find_gpu("NVIDIA H100 SXM")


def _profile(efficiency: float, mfu: float, overhead_seconds: float) -> EngineProfile:
    """A vLLM profile with chosen constants, so that expected values do not hang on the fit."""
    return EngineProfile("vllm", efficiency, overhead_seconds, 0.0, mfu, "not fitted", 0, 0, None, "test")


ROOFLINE = _profile(1.0, 1.0, 0.0)
"""The bare roofline: full bandwidth, full peak, no per-step overhead."""


def test_apple_gpu_gets_three_quarters_of_large_unified_memory():
    assert usable_memory_bytes(find_gpu("Apple M2 Ultra (192 GB)")) == 144 * GIB
    assert usable_memory_bytes(find_gpu("Apple M4 Pro (64 GB)")) == 48 * GIB


def test_apple_gpu_gets_two_thirds_of_small_unified_memory():
    small = dataclasses.replace(find_gpu("Apple M4 Pro (64 GB)"), memory_bytes=24 * GIB)
    assert usable_memory_bytes(small) == 16 * GIB


def test_discrete_card_keeps_all_its_memory():
    assert usable_memory_bytes(H100) == 80 * GIB


def test_the_done_when_scenario_llama3_70b_q4_k_m_32k_batch4():
    settings = InferenceSettings(weight_format="q4_k_m", context_tokens=32_768, batch=4)
    memory = inference_memory(LLAMA3_70B, settings)
    # ceil(70,553,706,496 x 0.6118) bytes of weights; 40 GiB of KV cache (327,680 B x 32,768 x 4)
    assert memory.weights_bytes == 43_164_757_635
    assert memory.kv_cache_bytes == 40 * GIB
    assert cards_needed(LLAMA3_70B, memory, H100) == 2
    assert cards_needed(LLAMA3_70B, memory, find_gpu("NVIDIA RTX 4090")) == 4
    assert cards_needed(LLAMA3_70B, memory, find_gpu("NVIDIA H200 SXM")) == 1
    # on two H100s: half the weights, half the KV heads, half the buffers, a whole overhead each
    two = per_card_bytes(LLAMA3_70B, memory, 2)
    assert two == pytest.approx(
        memory.weights_bytes / 2 + memory.kv_cache_bytes / 2 + memory.activations_bytes / 2 + GIB, abs=3
    )


def test_kv_heads_are_replicated_when_cards_outnumber_them():
    falcon = find_model("tiiuae/falcon-7b").spec  # one KV head (multi-query)
    memory = inference_memory(falcon, InferenceSettings(context_tokens=2048, batch=64))
    two = per_card_bytes(falcon, memory, 2)
    assert two - (memory.weights_bytes / 2 + memory.activations_bytes / 2 + GIB) == pytest.approx(
        memory.kv_cache_bytes, abs=3
    )


def test_latent_attention_cache_is_replicated_across_tensor_ranks():
    deepseek = find_model("deepseek-ai/DeepSeek-V3").spec
    memory = inference_memory(deepseek, InferenceSettings(weight_format="fp8", context_tokens=8192))
    eight = per_card_bytes(deepseek, memory, 8)
    assert eight - memory.weights_bytes / 8 - memory.activations_bytes / 8 - GIB == pytest.approx(
        memory.kv_cache_bytes, abs=3
    )


def test_model_too_big_for_any_count_returns_none_on_apple():
    deepseek = find_model("deepseek-ai/DeepSeek-V3").spec
    memory = inference_memory(deepseek, InferenceSettings())
    assert cards_needed(deepseek, memory, find_gpu("Apple M4 Pro (64 GB)")) is None


def test_card_ladder_is_powers_of_two_then_whole_nodes():
    assert CARD_LADDER[:6] == (1, 2, 4, 8, 16, 24)
    assert all(n % 8 == 0 for n in CARD_LADDER[4:])


def test_decode_speed_of_llama2_7b_bf16_is_bandwidth_over_bytes_read():
    settings = InferenceSettings(context_tokens=1)
    memory = inference_memory(LLAMA2_7B, settings)
    # weights minus the input embedding (a lookup): (6,738,415,616 - 131,072,000) x 2 bytes,
    # plus one token of KV cache (524,288 bytes)
    assert decode_read_bytes(LLAMA2_7B, settings, memory) == 13_215_211_520
    result = speed(LLAMA2_7B, settings, memory, H100, 1, profile=ROOFLINE)
    assert result.decode_tokens_per_s == pytest.approx(3350e9 / 13_215_211_520)
    assert result.bandwidth_bound


def test_moe_decode_reads_only_routed_experts():
    assert expected_experts_touched(MIXTRAL, 1) == pytest.approx(2)
    assert expected_experts_touched(MIXTRAL, 64) == pytest.approx(8, rel=1e-6)
    settings = InferenceSettings(weight_format="bf16", context_tokens=1)
    memory = inference_memory(MIXTRAL, settings)
    one = decode_read_bytes(MIXTRAL, settings, memory)
    # about 12.9 B active minus 0.13 B input embedding, at 2 bytes
    assert one == pytest.approx((12_879_925_248 - 131_072_000) * 2, rel=1e-4)
    assert one < memory.weights_bytes / 3


def test_large_batches_become_compute_bound():
    # 512 sequences of one token: 13.5 GB read per step takes 8 ms at 48 % of 3.35 TB/s, while
    # 512 x 2 x 6.74e9 FLOPs take 14 ms at 50 % of 989 TFLOPS
    settings = InferenceSettings(context_tokens=1, batch=512)
    memory = inference_memory(LLAMA2_7B, settings)
    result = speed(LLAMA2_7B, settings, memory, H100, 1, profile=_profile(0.48, 0.5, 0.0))
    assert not result.bandwidth_bound
    assert result.aggregate_tokens_per_s == pytest.approx(989e12 * 0.5 / (2 * 6_738_415_616))


def test_prefill_flops_include_attention():
    settings = InferenceSettings(context_tokens=1000)
    memory = inference_memory(LLAMA2_7B, settings)
    result = speed(LLAMA2_7B, settings, memory, H100, 1, profile=ROOFLINE)
    flops = 2 * 6_738_415_616 * 1000 + 2 * 32 * 4096 * 1000**2
    assert result.prefill_seconds == pytest.approx(flops / 989e12)


def test_size_on_gpus_covers_every_card_and_prices_the_cards_used():
    settings = InferenceSettings(weight_format="q4_k_m", context_tokens=32_768, batch=4)
    _, results = size_on_gpus(LLAMA3_70B, settings, default_gpus(), gpu_count=1)
    assert len(results) == len(default_gpus())
    h100 = next(r for r in results if r.gpu.name == "NVIDIA H100 SXM")
    assert (h100.fits, h100.count_needed, h100.cards_used) == (False, 2, 2)
    assert h100.price_per_hour_usd == pytest.approx(2 * 2.99)
    assert h100.cost_per_day_usd == pytest.approx(48 * 2.99)
    b200 = next(r for r in results if r.gpu.name == "NVIDIA B200")
    assert b200.fits and b200.cards_used == 1


@pytest.mark.parametrize("precision", ["bf16", "q4_k_m", "fp8", "mlx-4bit"])
@pytest.mark.parametrize(
    ("gpu_count", "engine", "parallel"), [(1, None, None), (8, None, None), (8, "llama.cpp", "tp"), (2, "vllm", "pp")]
)
def test_a_card_gets_the_same_result_beside_others_as_alone(precision, gpu_count, engine, parallel):
    """size_on_gpus works out the engine, profile and card count once per vendor or memory size
    and shares them between cards: a card listed with every other card must get exactly what it
    gets alone, in either order (else a card would inherit another card's engine or fit)."""
    settings = InferenceSettings(weight_format=precision, context_tokens=8192, batch=2)
    own = (
        Gpu.custom("Own card", 48, 900, 150, gpu_class="workstation"),
        Gpu.custom("Own Mac", 64, 400, 30, None, "apple"),
    )
    gpus = (*default_gpus(), *own)
    for spec in (LLAMA3_70B, MIXTRAL):
        _, together = size_on_gpus(spec, settings, gpus, gpu_count, engine=engine, parallel=parallel)
        _, reversed_ = size_on_gpus(spec, settings, gpus[::-1], gpu_count, engine=engine, parallel=parallel)
        for gpu, beside, backwards in zip(gpus, together, reversed_[::-1], strict=True):
            _, (alone,) = size_on_gpus(spec, settings, (gpu,), gpu_count, engine=engine, parallel=parallel)
            assert beside == alone == backwards, gpu.name


def test_gpu_count_outside_the_ladder_is_refused():
    with pytest.raises(ValueError, match="gpu_count"):
        size_on_gpus(LLAMA2_7B, InferenceSettings(), default_gpus(), gpu_count=3)


# --- every GPU count of the ladder (issue 10: `--gpus 4` ended in KeyError: 4) -------------------

LADDER_MODELS = [
    "meta-llama/Llama-3.1-8B",
    "meta-llama/Llama-3.1-70B",
    "Qwen/Qwen2.5-0.5B",
    "mistralai/Mixtral-8x7B-v0.1",
    "tiiuae/falcon-7b",
    "deepseek-ai/DeepSeek-V3",
]


@pytest.mark.parametrize("hf_id", LADDER_MODELS)
def test_every_gpu_count_of_the_ladder_is_sized(hf_id):
    """A user picking any deployment size gets a row for every card, never a crash."""
    spec = find_model(hf_id).spec
    settings = InferenceSettings()
    gpus = default_gpus()
    for count in CARD_LADDER:
        _, results = size_on_gpus(spec, settings, gpus, gpu_count=count)
        assert len(results) == len(gpus)
        for result in results:
            assert result.gpu_count == count
            assert result.per_card_bytes > 0
            if result.fits:
                assert result.cards_used == count
                assert result.per_card_bytes <= result.usable_memory_bytes
            else:
                assert result.cards_used == result.count_needed
            if result.cards_used:
                assert result.speed is not None and result.speed.decode_tokens_per_s > 0


def test_llama31_8b_on_four_cards_holds_a_quarter_of_each_part():
    # failed on main with KeyError: 4. bf16, 4,096 tokens, batch 1, on 4 H100 (tensor parallel 4):
    #   weights      8,030,261,248 x 2 bytes = 16,060,522,496 / 4 = 4,015,130,624
    #   KV cache     131,072 B/token x 4,096 = 536,870,912 / 4 (8 KV heads on 4 ranks) = 134,217,728
    #   activations  (2 x 4,096 + 3 x 14,336) x 2 bytes x 2,048 chunk tokens + 128,256 x 4 bytes
    #                = 210,228,224 / 4 = 52,557,056
    #   overhead     1 GiB = 1,073,741,824 on every card
    _, results = size_on_gpus(find_model("meta-llama/Llama-3.1-8B").spec, InferenceSettings(), (H100,), 4)
    [h100] = results
    assert (h100.fits, h100.cards_used, h100.count_needed) == (True, 4, 1)
    assert h100.per_card_bytes == 4_015_130_624 + 134_217_728 + 52_557_056 + 1_073_741_824


def test_ladder_ends_at_the_largest_deployment():
    assert CARD_LADDER[-1] == MAX_CARDS == 1024
    assert len(CARD_LADDER) == 4 + 1024 // 8 - 1  # 1, 2, 4, 8, then 16 .. 1024 in steps of 8


# --- decode bytes, part by part at each part's storage --------------------------------------------

LLAMA3_8B = find_model("meta-llama/Meta-Llama-3-8B").spec
LLAMA32_1B = find_model("meta-llama/Llama-3.2-1B").spec
ONE_TOKEN_KV_LLAMA3 = 131_072  # 2 (K, V) x 32 layers x 8 KV heads x 128 dims x 2 bytes


def _one_token_read(spec, fmt):
    settings = InferenceSettings(weight_format=fmt, context_tokens=1)
    return decode_read_bytes(spec, settings, inference_memory(spec, settings))


def test_int4_decode_reads_a_4_bit_body_and_a_16_bit_lm_head():
    # Llama-3-8B, 8,030,261,248 parameters; untied 128,256 x 4,096 = 525,336,576 each for
    # embed_tokens and lm_head, so the body is 8,030,261,248 - 2 x 525,336,576 = 6,979,588,096.
    # GPTQ/AWQ int4 (4 + 20/128 bits) body: 6,979,588,096 x 4.15625 / 8 = 3,626,114,128 bytes;
    # lm_head stays bf16: 525,336,576 x 2 = 1,050,673,152; embed_tokens is a lookup, not read;
    # plus one token of KV cache. 4.68 GB in all (main read 5.35 GB, averaging by parameter count).
    assert _one_token_read(LLAMA3_8B, "int4") == 3_626_114_128 + 1_050_673_152 + ONE_TOKEN_KV_LLAMA3


def test_int4_decode_reads_a_tied_embedding_once_at_16_bit():
    # Llama-3.2-1B, 1,235,814,400 parameters, tied 128,256 x 2,048 = 262,668,288 embedding;
    # body 973,146,112 x 4.15625 / 8 = 505,579,816 bytes; the tied matrix read once as the output
    # layer at 2 bytes: 525,336,576; KV per token 2 x 16 layers x 8 heads x 64 dims x 2 = 32,768.
    assert _one_token_read(LLAMA32_1B, "int4") == 505_579_816 + 525_336_576 + 32_768


def test_gguf_decode_reads_the_whole_model_but_the_input_embedding_at_average_bits():
    # Q4_K_M's 4.8944 bits/weight is the file's average, vocabulary matrices included:
    # (8,030,261,248 - 525,336,576) x 4.8944 / 8 = 4,591,512,914.33 bytes, plus one token of KV
    assert _one_token_read(LLAMA3_8B, "q4_k_m") == pytest.approx(4_591_512_914.33 + ONE_TOKEN_KV_LLAMA3, abs=2)


def test_bf16_decode_reads_everything_but_the_input_embedding_at_two_bytes():
    # (8,030,261,248 - 525,336,576) x 2 = 15,009,849,344 bytes, plus one token of KV
    assert _one_token_read(LLAMA3_8B, "bf16") == 15_009_849_344 + ONE_TOKEN_KV_LLAMA3


# --- tensor parallelism: each card reads its shard and its copy of the KV cache -------------------


def test_latent_cache_is_read_in_full_by_every_tensor_rank():
    # DeepSeek-V3 caches 512 + 64 values per token and layer (MLA), 61 layers, 2 bytes:
    # 70,272 bytes per token x 8,192 tokens = 575,668,224 bytes, whole on each of 8 ranks.
    deepseek = find_model("deepseek-ai/DeepSeek-V3").spec
    settings = InferenceSettings(weight_format="fp8", context_tokens=8192)
    memory = inference_memory(deepseek, settings)
    kv = 575_668_224
    assert memory.kv_cache_bytes == kv
    assert kv_bytes_per_card(deepseek, memory.kv_cache_bytes, 8) == kv
    one_card = decode_read_bytes(deepseek, settings, memory)
    eight = card_read_bytes(deepseek, settings, memory, 8)
    assert eight == pytest.approx((one_card - kv) / 8 + kv, abs=1)
    # one card's bandwidth reads one card's bytes; main read (weights + one cache) at 8 x bandwidth
    result = speed(deepseek, settings, memory, H100, 8, profile=ROOFLINE)
    assert result.bandwidth_bound
    assert result.card_read_bytes == eight
    # plus two all-reduces per layer (61): 6 us + 2 x 7/8 x 7,168 x 2 bytes over 450 GB/s NVLink
    all_reduces = 2 * 61 * (6e-6 + 2 * 7 / 8 * 7168 * 2 / 450e9)
    assert result.decode_tokens_per_s == pytest.approx(1 / (eight / 3350e9 + all_reduces))
    assert result.decode_tokens_per_s < 8 * 3350e9 / one_card


def test_kv_heads_fewer_than_tensor_ranks_are_read_by_every_rank_holding_them():
    # Qwen2.5-7B has 4 KV heads: on 8 ranks each head sits on 2 cards, so a card holds and reads
    # a quarter of the cache: 2 x 4 x 128 x 28 layers x 2 bytes = 57,344 B/token x 32,768 tokens
    # = 1,879,048,192 / 4 = 469,762,048. Weights read: (7,615,616,512 - 152,064 x 3,584 input
    # embedding) x 2 bytes = 14,141,238,272, an eighth on each card: 1,767,654,784.
    qwen = find_model("Qwen/Qwen2.5-7B").spec
    settings = InferenceSettings(context_tokens=32_768)
    memory = inference_memory(qwen, settings)
    assert memory.kv_cache_bytes == 1_879_048_192
    assert card_read_bytes(qwen, settings, memory, 8) == 1_767_654_784 + 469_762_048
    result = speed(qwen, settings, memory, H100, 8, profile=ROOFLINE)
    all_reduces = 2 * 28 * (6e-6 + 2 * 7 / 8 * 3584 * 2 / 450e9)  # 28 layers, hidden 3,584, NVLink 450 GB/s
    assert result.decode_tokens_per_s == pytest.approx(1 / ((1_767_654_784 + 469_762_048) / 3350e9 + all_reduces))


def test_sixteen_cards_split_8_kv_heads_by_rank_and_layers_by_stage():
    # Llama-3.1-70B (8 KV heads) on 16 cards: tensor 8 x pipeline 2, nothing replicated.
    # KV: 327,680 B/token (2 x 8 x 128 x 80 x 2) x 8,192 = 2,684,354,560 / 16 = 167,772,160.
    # Weights read: (70,553,706,496 - 128,256 x 8,192) x 2 = 139,006,066,688 / 16 = 8,687,879,168.
    # The two stages run one after another: a step takes 2 x card bytes / card bandwidth.
    llama = find_model("meta-llama/Llama-3.1-70B").spec
    settings = InferenceSettings(context_tokens=8192)
    memory = inference_memory(llama, settings)
    card = 8_687_879_168 + 167_772_160
    assert card_read_bytes(llama, settings, memory, 16) == card
    result = speed(llama, settings, memory, H100, 16, profile=ROOFLINE)
    assert result.memory_seconds == pytest.approx(2 * card / 3350e9)
    assert result.card_bandwidth_gbs == 3350.0


def test_multi_query_cache_is_read_whole_on_each_of_two_cards():
    # falcon-7b has one KV head: 2 x 1 x 64 x 32 layers x 2 bytes = 8,192 B/token, x 2,048 x 64
    # sequences = 1,073,741,824 bytes, a full copy on each of 2 tensor ranks.
    falcon = find_model("tiiuae/falcon-7b").spec
    memory = inference_memory(falcon, InferenceSettings(context_tokens=2048, batch=64))
    assert kv_bytes_per_card(falcon, memory.kv_cache_bytes, 2) == memory.kv_cache_bytes == 1_073_741_824


def _qwen3_next():
    from pathlib import Path

    from llm_calc.hf_config import parse_config_text

    path = Path(__file__).parent / "configs" / "Qwen3-Next-80B-A3B-Thinking.json"
    return parse_config_text(path.read_bytes(), name=path.name)


QWEN3_NEXT_STATE_BYTES = 39_518_208  # by hand: tests/test_architecture.py::test_qwen3_next_state_per_sequence_by_hand


def test_a_decode_step_reads_the_linear_attention_state():
    spec = _qwen3_next()
    settings = InferenceSettings(batch=8, context_tokens=4096)
    memory = inference_memory(spec, settings)
    without_state = dataclasses.replace(memory, state_bytes=0)
    assert decode_read_bytes(spec, settings, memory) - decode_read_bytes(spec, settings, without_state) == (
        8 * QWEN3_NEXT_STATE_BYTES
    )


def test_each_card_holds_its_share_of_the_state():
    spec = _qwen3_next()
    memory = inference_memory(spec, InferenceSettings(batch=8))
    without_state = dataclasses.replace(memory, state_bytes=0)
    # 8 sequences x 39,518,208 bytes over 4 cards (tensor ranks split the DeltaNet heads)
    assert per_card_bytes(spec, memory, 4) - per_card_bytes(spec, without_state, 4) == 8 * QWEN3_NEXT_STATE_BYTES // 4
