"""Training memory, FLOPs, time and cost against published runs and hand-derived values."""

import dataclasses
from pathlib import Path

import pytest

from llm_calc.catalog import find_gpu, find_model
from llm_calc.hf_config import parse_config_text
from llm_calc.training import (
    DEFAULT_MFU,
    LLAMA_65B_RUN,
    LORA_TARGETS,
    TrainingSetup,
    activation_bytes,
    activation_bytes_per_layer,
    activation_terms,
    cards_needed_for_training,
    chinchilla_tokens,
    lora_trainable_params,
    predict_run,
    step_seconds,
    training_fit,
    training_flops,
    training_memory,
    training_run,
)

LLAMA2_7B = find_model("meta-llama/Llama-2-7b-hf").spec
LLAMA_65B = find_model("huggyllama/llama-65b").spec
GPT3 = find_model("openai/gpt-3-175b").spec
A100 = find_gpu("NVIDIA A100 80GB SXM")
P7 = 6_738_415_616


def model_states(memory) -> int:
    return memory.weights_bytes + memory.gradients_bytes + memory.optimizer_bytes


@pytest.mark.parametrize(("optimizer", "bytes_per_param"), [("adamw", 16), ("adam8bit", 10), ("sgd", 12)])
def test_full_fine_tuning_bytes_per_parameter(optimizer, bytes_per_param):
    # mixed precision: 2 (bf16 weights) + 2 (grads) + 4 (fp32 master) + optimizer states
    memory = training_memory(LLAMA2_7B, TrainingSetup(optimizer=optimizer))
    assert model_states(memory) == bytes_per_param * P7


@pytest.mark.parametrize(("optimizer", "bytes_per_param"), [("adamw", 8), ("adam8bit", 6), ("sgd", 6)])
def test_pure_bf16_training_keeps_no_master_copy(optimizer, bytes_per_param):
    # pure bf16 (Lightning "bf16-true", torchtune dtype=bf16): 2 (bf16 weights) + 2 (bf16 grads), no fp32
    # master; torch.optim makes its states with zeros_like(param), so bf16 too: AdamW 2 x 2 = 4, SGD's
    # momentum 2; 8-bit Adam's two 8-bit moments stay 2 bytes whatever the weights
    setup = TrainingSetup(optimizer=optimizer, weights_precision="bf16")
    assert model_states(training_memory(LLAMA2_7B, setup)) == bytes_per_param * P7


LORA_Q_V = 4_194_304  # Llama-2-7B, rank 8 on q_proj and v_proj: 32 layers x 2 x 8 x (4096 + 4096)


@pytest.mark.parametrize(
    ("method", "precision", "optimizer", "bytes_per_adapter"),
    [
        # LoRA, mixed: PEFT upcasts adapters to fp32 (autocast_adapter_dtype=True), so 4 (weight) + 4 (grad),
        # the fp32 adapter being its own master copy; then AdamW's two fp32 moments 8 (Loshchilov & Hutter
        # 2019), 8-bit Adam's two 8-bit moments 2 (Dettmers et al. 2022), SGD's fp32 momentum 4
        ("lora", "mixed", "adamw", 4 + 4 + 8),
        ("lora", "mixed", "adam8bit", 4 + 4 + 2),
        ("lora", "mixed", "sgd", 4 + 4 + 4),
        # QLoRA (Dettmers et al. 2023): bf16 adapters 2 + 2, 32-bit (paged) optimizer states
        ("qlora", "mixed", "adamw", 2 + 2 + 8),
        ("qlora", "mixed", "adam8bit", 2 + 2 + 2),
        ("qlora", "mixed", "sgd", 2 + 2 + 4),
        # pure bf16: adapters, gradients and states all bf16: AdamW 2 x 2, SGD 2
        ("lora", "bf16", "adamw", 2 + 2 + 4),
        ("lora", "bf16", "sgd", 2 + 2 + 2),
    ],
)
def test_adapter_states_follow_the_optimizer(method, precision, optimizer, bytes_per_adapter):
    setup = TrainingSetup(method=method, optimizer=optimizer, weights_precision=precision)
    assert training_memory(LLAMA2_7B, setup).optimizer_bytes == LORA_Q_V * bytes_per_adapter


def test_foreach_adamw_temporaries_are_a_fifth_of_a_small_models_peak():
    # torch.optim.AdamW(foreach=True) computes sqrt(exp_avg_sq) for every parameter at once: one fp32
    # tensor per master parameter, 4 bytes, beside the 16 bytes of model states -> 4 / (16 + 4) = 1/5
    foreach = training_memory(LLAMA2_7B, TrainingSetup())
    assert foreach.step_temporaries_bytes == 4 * P7
    assert foreach.step_temporaries_bytes / (model_states(foreach) + foreach.step_temporaries_bytes) == 0.2
    fused = training_memory(LLAMA2_7B, TrainingSetup(optimizer_impl="fused"))
    assert fused.step_temporaries_bytes == 0
    # pure bf16: the states, and so the temporary, are bf16
    assert training_memory(LLAMA2_7B, TrainingSetup(weights_precision="bf16")).step_temporaries_bytes == 2 * P7
    # SGD with momentum (weight decay 0) and 8-bit Adam allocate none
    assert training_memory(LLAMA2_7B, TrainingSetup(optimizer="sgd")).step_temporaries_bytes == 0
    assert training_memory(LLAMA2_7B, TrainingSetup(optimizer="adam8bit")).step_temporaries_bytes == 0
    # LoRA: the temporaries are the size of the fp32 adapters
    lora = training_memory(LLAMA2_7B, TrainingSetup(method="lora"))
    assert lora.step_temporaries_bytes == 4 * LORA_Q_V


def test_peak_counts_the_larger_of_activations_and_step_temporaries():
    # the step runs after backward has freed the activations: peak = states + overhead + max(the two)
    short = TrainingSetup(seq_len=512)  # activations well under the 4 x P7 temporaries
    memory = training_memory(LLAMA2_7B, short)
    assert memory.activations_bytes < 4 * P7
    assert memory.total_bytes == 16 * P7 + memory.overhead_bytes + 4 * P7
    fused = training_memory(LLAMA2_7B, dataclasses.replace(short, optimizer_impl="fused"))
    assert fused.total_bytes == 16 * P7 + fused.overhead_bytes + fused.activations_bytes


def test_zero_1_shards_the_step_temporaries_with_the_optimizer():
    eight = training_memory(LLAMA2_7B, TrainingSetup(gpus=8, zero_stage=1))
    assert eight.step_temporaries_bytes == 4 * P7 // 8


def test_7b_adamw_is_112_gb_before_activations():
    assert 16 * 7e9 == 112e9  # the figure, for a round 7 B
    assert model_states(training_memory(LLAMA2_7B, TrainingSetup())) == pytest.approx(112e9, rel=0.04)


def test_lora_rank_8_on_q_and_v_of_llama2_7b():
    assert lora_trainable_params(LLAMA2_7B, 8, ("q_proj", "v_proj")) == 4_194_304


def test_lora_matches_the_peft_quick_tour_for_llama_32_1b():
    # PEFT quick tour: LoraConfig(r=8, target_modules=["q_proj"]) prints 524,288 trainable
    assert lora_trainable_params(find_model("meta-llama/Llama-3.2-1B").spec, 8, ("q_proj",)) == 524_288


def test_lora_on_grouped_query_projections_uses_the_kv_width():
    llama3 = find_model("meta-llama/Meta-Llama-3-8B").spec
    # k_proj is 4096 -> 1024 in Llama 3 8B: 32 layers x 8 x (4096 + 1024)
    assert lora_trainable_params(llama3, 8, ("k_proj",)) == 32 * 8 * 5120


def test_lora_on_moe_experts_counts_every_expert():
    mixtral = find_model("mistralai/Mixtral-8x7B-v0.1").spec
    assert lora_trainable_params(mixtral, 8, ("up_proj",)) == 32 * 8 * 8 * (4096 + 14336)


def test_a_setup_that_does_not_fit_says_what_would():
    # full fine-tuning of Llama-2-7B, mixed AdamW with foreach: 16 + 4 = 20 bytes x P7 = 134.8e9 bytes on
    # one GPU > 80 GiB (85.9e9); without ZeRO every GPU holds it all, so no count helps. ZeRO-3 on 2
    # GPUs: 20 / 2 x P7 = 67.4e9 + 1 GiB overhead + 2 layers of bf16 gather buffers (2 x 202,383,360 x 2)
    # = 69.3e9 < 85.9e9
    fit = training_fit(LLAMA2_7B, TrainingSetup(), A100)
    assert not fit.fits and fit.usable_bytes == 80 * 2**30
    assert fit.gpus_needed is None and fit.zero_stage_needed is None
    assert fit.gpus_needed_zero3 == 2
    # on 2 GPUs ZeRO-1 halves the 12 bytes of master and moments and the 4 of temporaries:
    # (2 + 2 + 16 / 2) x P7 = 80.9e9 + 1 GiB = 81.9e9 < 85.9e9, where ZeRO-0 needs 134.8e9
    assert training_fit(LLAMA2_7B, TrainingSetup(gpus=2), A100).zero_stage_needed == 1


def test_lora_7b_needs_about_16_gb_not_177():
    memory = training_memory(LLAMA2_7B, TrainingSetup(method="lora", seq_len=512))
    assert 14e9 < memory.total_bytes < 18.5e9
    assert memory.optimizer_bytes == 4_194_304 * 16


def test_qlora_fine_tunes_65b_on_one_48_gb_gpu():
    # QLoRA paper: LLaMA 65B, NF4 + double quantization, r=64 on all linear layers, gradient
    # checkpointing, micro-batch 1 (sequence length 512) fits a single 48 GB GPU; its paged AdamW is
    # bitsandbytes' own kernel, which allocates no foreach temporaries (as "fused")
    setup = TrainingSetup(
        method="qlora",
        optimizer_impl="fused",
        seq_len=512,
        checkpointing=True,
        lora_rank=64,
        lora_targets=LORA_TARGETS,
    )
    memory = training_memory(LLAMA_65B, setup)
    assert memory.total_bytes < 48e9
    assert memory.total_bytes > 35e9  # the 4-bit base alone is ~34 GB
    # and 16-bit full fine-tuning of the same model needs more than the paper's 780 GB
    assert training_memory(LLAMA_65B, TrainingSetup()).total_bytes > 780e9


def test_korthikanti_activations_for_gpt3_without_dropout():
    # 32 s b h + 2 a s^2 b (Korthikanti's 34 s b h + 5 a s^2 b less the dropout masks and outputs)
    s, b, h, a = 2048, 1, 12288, 96
    assert activation_bytes_per_layer(GPT3, s, b, flash_attention=False) == 32 * s * b * h + 2 * a * s * s * b
    assert activation_bytes_per_layer(GPT3, s, b, flash_attention=True) == 32 * s * b * h


def test_checkpointing_keeps_layer_inputs_plus_one_layer():
    setup = TrainingSetup(seq_len=1024, micro_batch=2, checkpointing=True)
    per_layer = activation_bytes_per_layer(LLAMA2_7B, 1024, 2, True)
    inputs = 32 * 1024 * 2 * 4096 * 2
    logits = 1024 * 2 * 32000 * 12  # fp32 log-softmax, its gradient and the logits' gradient
    assert activation_bytes(LLAMA2_7B, setup) == inputs + per_layer + logits
    assert activation_bytes(LLAMA2_7B, dataclasses.replace(setup, checkpointing=False)) == 32 * per_layer + logits


@pytest.mark.parametrize(
    ("zero", "sharded"),
    [
        (0, ()),
        (1, ("optimizer",)),
        (2, ("optimizer", "gradients")),
        (3, ("optimizer", "gradients", "weights")),
    ],
)
def test_zero_stages_shard_model_states_across_data_parallel_gpus(zero, sharded):
    one = training_memory(LLAMA2_7B, TrainingSetup(gpus=1))
    eight = training_memory(LLAMA2_7B, TrainingSetup(gpus=8, zero_stage=zero))
    for part in ("optimizer", "gradients", "weights"):
        expected = getattr(one, f"{part}_bytes") / (8 if part in sharded else 1)
        assert getattr(eight, f"{part}_bytes") == pytest.approx(expected, abs=1)
    assert eight.activations_bytes == one.activations_bytes


def test_tensor_parallel_splits_states_and_activations():
    one = training_memory(LLAMA2_7B, TrainingSetup(gpus=1))
    four = training_memory(LLAMA2_7B, TrainingSetup(gpus=4, tensor_parallel=4))
    assert four.weights_bytes == pytest.approx(one.weights_bytes / 4, abs=1)
    assert four.activations_bytes == pytest.approx(one.activations_bytes / 4, abs=1)


# LLaMA 65B as built: embeddings 2 x 32,000 x 8,192 = 524,288,000; attention 80 x 4 x 8,192^2 =
# 21,474,836,480; MLP 80 x 3 x 8,192 x 22,016 = 43,285,217,280; norms (80 x 2 + 1) x 8,192 = 1,318,912
LLAMA_65B_PARAMS = 65_285_660_672


def test_llama_65b_run_is_predicted_not_fitted():
    # 6 N D on 2,048 A100s at their 312 dense bf16 TFLOPS and the MFU stated in advance (0.40), priced at
    # the catalog's $1.79 per A100-80GB hour; the paper's 21 days and the primer's $3.8M only score it
    assert DEFAULT_MFU == 0.40
    days = 6 * LLAMA_65B_PARAMS * 1.4e12 / (2048 * 312e12 * 0.40) / 86_400
    prediction = predict_run(LLAMA_65B_RUN, LLAMA_65B, A100)
    assert prediction.run.days == pytest.approx(days, rel=1e-12)
    assert prediction.run.cost_usd == pytest.approx(days * 24 * 2048 * 1.79, rel=1e-12)
    assert prediction.days_error == pytest.approx(days / 21 - 1, rel=1e-12)
    assert prediction.cost_error == pytest.approx(days * 24 * 2048 * 1.79 / 3.8e6 - 1, rel=1e-12)
    # the reported 380 tokens/s/GPU is shown as the MFU it implies, 6 N x 380 / 312e12, never used
    assert prediction.implied_mfu == pytest.approx(6 * LLAMA_65B_PARAMS * 380 / 312e12, rel=1e-12)
    faster = dataclasses.replace(LLAMA_65B_RUN, tokens_per_s_per_gpu=1000)
    assert predict_run(faster, LLAMA_65B, A100).run.days == prediction.run.days
    # a faster card predicts a shorter run (the old recomputation gave 20.8 days whatever the GPU)
    assert predict_run(LLAMA_65B_RUN, LLAMA_65B, find_gpu("NVIDIA H100 SXM")).run.days < days


def test_gpt3_training_flops_match_the_paper():
    assert training_flops(GPT3, 300e9) == pytest.approx(3.14e23, rel=0.01)  # Brown et al. 2020, Table D.1
    assert training_flops(GPT3, 300e9, attention=True) > 3.14e23


def test_lora_flops_skip_frozen_weight_gradients():
    full = training_flops(LLAMA2_7B, 1e6)
    lora = training_flops(LLAMA2_7B, 1e6, "lora", 4_194_304)
    assert full == 6 * P7 * 1e6
    assert lora == (4 * P7 + 6 * 4_194_304) * 1e6


def test_cost_and_chinchilla():
    run = training_run(1e21, 8, 312, 0.5, price_per_gpu_hour_usd=2.0)
    assert run.seconds == pytest.approx(1e21 / (8 * 312e12 * 0.5))
    assert run.cost_usd == pytest.approx(run.gpu_hours * 2.0)
    assert chinchilla_tokens(LLAMA2_7B) == 20 * P7


def test_cards_needed_depend_on_sharding():
    setup = TrainingSetup(method="qlora", seq_len=512, checkpointing=True, lora_rank=64, lora_targets=LORA_TARGETS)
    rtx4090 = find_gpu("NVIDIA RTX 4090")
    assert cards_needed_for_training(LLAMA_65B, setup, find_gpu("NVIDIA RTX A6000")) == 1
    assert cards_needed_for_training(LLAMA_65B, setup, rtx4090) is None  # every GPU holds it all
    assert cards_needed_for_training(LLAMA_65B, dataclasses.replace(setup, zero_stage=3), rtx4090) >= 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"method": "dpo"}, "unknown method"),
        ({"optimizer": "lion"}, "unknown optimizer"),
        ({"weights_precision": "fp8"}, "unknown weights_precision 'fp8'; choose one of mixed, bf16"),
        ({"optimizer_impl": "apex"}, "unknown optimizer_impl 'apex'; choose one of foreach, fused"),
        ({"seq_len": 0}, "seq_len"),
        ({"zero_stage": 4}, "zero_stage"),
        ({"tensor_parallel": 3}, "tensor_parallel"),
        ({"gpus": 6, "tensor_parallel": 4}, "multiple of tensor_parallel"),
        ({"method": "lora", "lora_targets": ("c_attn",)}, "LoRA targets"),
        ({"method": "lora", "lora_targets": ()}, "LoRA targets"),
    ],
)
def test_invalid_setups_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        TrainingSetup(**change)


def test_lora_targets_missing_from_the_architecture_are_explained():
    with pytest.raises(ValueError, match="no gate_proj"):
        lora_trainable_params(GPT3, 8, ("gate_proj",))
    with pytest.raises(ValueError, match="latent attention"):
        lora_trainable_params(find_model("deepseek-ai/DeepSeek-V3").spec, 8, ("q_proj",))


def test_lora_on_qwen_moe_counts_the_shared_expert_at_its_own_width():
    """Qwen1.5-MoE-A2.7B, rank 8 on gate_proj: per layer 60 routed experts × 8 × (2,048 + 1,408)
    = 1,658,880 plus the shared expert 8 × (2,048 + 5,632) = 61,440, so 1,720,320 × 24 layers
    = 41,287,680 adapter parameters."""
    spec = parse_config_text((Path(__file__).parent / "configs" / "Qwen1.5-MoE-A2.7B.json").read_text())
    assert lora_trainable_params(spec, 8, ("gate_proj",)) == 41_287_680


@pytest.mark.parametrize("price", [float("nan"), float("inf"), -1.0])
def test_a_price_that_is_not_a_finite_non_negative_number_is_refused(price):
    """`train --price nan` printed NaN into its JSON before the CLI property test found it."""
    with pytest.raises(ValueError, match="price per GPU-hour must be a finite number"):
        training_run(1e20, 8, 312, 0.4, price)


@pytest.mark.parametrize("tokens", [4.4e297, 1.01e16, float("nan"), -1.0])
def test_training_tokens_beyond_any_real_run_are_refused(tokens):
    """4.4e297 tokens overflowed the FLOPs to infinity before the property test found it."""
    with pytest.raises(ValueError, match="tokens must be a number from 0 to 1e[+]16"):
        training_flops(LLAMA2_7B, tokens)


CONFIGS = Path(__file__).parent / "configs"
LOSS_TERM = "loss on the logits (fp32 log-softmax and its gradients)"


def test_lfm2_training_activations_size_each_layer_kind():
    """LFM2-1.2B (the text model of LFM2.5-VL-1.6B): hidden 2,048, 16 layers of which 6 attention
    (32 heads and 8 KV heads of 64) and 10 short convolutions, gated MLP of 8,192 (12,288 x 2/3,
    ``block_auto_adjust_ff_dim``), vocabulary 65,536. Per token, at 2 bytes:
    attention layer: 2,048 + 2 x 2,048 + 2 x 512 (input, Q, output, K, V) = 7,168;
    short-convolution layer: in_proj input 2,048, its output 3 x 2,048, B·x, conv output and
    out_proj input 3 x 2,048 = 7 x 2,048 = 14,336;
    every layer: MLP 2,048 + 4 x 8,192 = 34,816 and two norm inputs 4,096.
    Attention layers 46,080, convolution layers 53,248; 2,048 tokens x 2 bytes:
    6 x 46,080 x 4,096 = 1,132,462,080 and 10 x 53,248 x 4,096 = 2,181,038,080;
    the loss's three fp32 tensors on the logits, 2,048 x 65,536 x 12 = 1,610,612,736.
    Sum 4,924,112,896."""
    spec = parse_config_text((CONFIGS / "LFM2.5-VL-1.6B.json").read_bytes(), name="LFM2")
    setup = TrainingSetup(method="lora", seq_len=2048, micro_batch=1)
    assert activation_terms(spec, setup) == {
        "6 attention layers × per-layer activations": 1_132_462_080,
        "10 short convolution layers × per-layer activations": 2_181_038_080,
        LOSS_TERM: 1_610_612_736,
    }
    assert activation_bytes(spec, setup) == 4_924_112_896
    # with checkpointing the layer recomputed is the convolution layer, the larger
    checkpointed = activation_terms(spec, dataclasses.replace(setup, checkpointing=True))
    assert checkpointed["one layer recomputed at a time"] == 53_248 * 4_096


@pytest.mark.parametrize(
    ("filename", "message"),
    [
        ("NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.json", "23 Mamba layers are not modelled"),
        ("Qwen3-Next-80B-A3B-Thinking.json", "36 Gated DeltaNet layers are not modelled"),
        ("AI21-Jamba-1.5-Mini.json", "28 Mamba layers are not modelled"),
        ("Falcon-H1-7B-Instruct.json", "Mamba layers are not modelled"),
    ],
)
def test_training_activations_of_state_space_layers_are_refused(filename, message):
    """What Mamba and DeltaNet layers save for backward depends on the kernel: refused, named."""
    spec = parse_config_text((CONFIGS / filename).read_bytes(), name=filename)
    with pytest.raises(ValueError, match=message):
        training_memory(spec, TrainingSetup(method="lora"))
    assert lora_trainable_params(spec, 8, ("q_proj", "v_proj")) > 0  # the adapters are still counted


def test_gemma4_global_layers_save_activations_at_their_own_head_size():
    """Gemma 4 26B-A4B: hidden 2,816, 30 layers of which 5 global. Per token, at 2 bytes:
    sliding layers 16 heads x 256 = 4,096 queries and output, 8 KV heads x 256 = 2,048 keys and
    values: 2,816 + 2 x 4,096 + 2 x 2,048 = 15,104; global layers 16 x 512 = 8,192 and 2 x 512 =
    1,024 (values computed from the keys but still saved): 2,816 + 2 x 8,192 + 2 x 1,024 = 21,248;
    every layer's MLP at the width a token runs through, 8 experts of 704 and the shared 2,112 =
    7,744: 2,816 + 4 x 7,744 = 33,792, and two norm inputs 5,632. Layers of 54,528 and 60,672;
    1,024 tokens x 2 bytes: 25 x 54,528 x 2,048 = 2,791,833,600 and 5 x 60,672 x 2,048 =
    621,281,280; the loss on the logits 1,024 x 262,144 x 12 = 3,221,225,472."""
    spec = parse_config_text((CONFIGS / "gemma-4-26B-A4B.json").read_bytes(), name="Gemma 4")
    setup = TrainingSetup(method="lora", seq_len=1024, micro_batch=1)
    assert activation_terms(spec, setup) == {
        "25 attention layers × per-layer activations": 2_791_833_600,
        "5 global attention layers × per-layer activations": 621_281_280,
        LOSS_TERM: 3_221_225_472,
    }


def test_the_loss_holds_twelve_bytes_per_logit_when_backward_starts():
    """transformers' causal-LM loss upcasts the logits to fp32 and saves the log-softmax (4 bytes);
    backward makes that output's gradient (4) and, with both alive, the logits' gradient (4).
    Llama-3.2-1B, 4 sequences of 2,048 tokens, vocabulary 128,256: 8,192 x 128,256 x 12 =
    12,608,077,824 bytes (11.74 GiB). On an H100 the full fine-tune's measured peak was 43.84 GiB;
    with 4 bytes per logit we estimated 33.6 GiB (-23 %)."""
    spec = find_model("meta-llama/Llama-3.2-1B-Instruct").spec
    terms = activation_terms(spec, TrainingSetup(method="full", seq_len=2048, micro_batch=4))
    assert terms[LOSS_TERM] == 12_608_077_824


def test_a_step_is_its_model_flops_at_the_mfu_stated_in_advance():
    """Llama-3.2-1B full fine-tune, 4 x 2,048 tokens on an H100 SXM (989 dense bf16 TFLOPS):
    6 x 1,235,814,400 x 8,192 = 60,742,749,388,800 weight FLOPs, plus PaLM's attention term
    12 x 16 layers x (32 x 64) x 2,048 x 8,192 = 6,597,069,766,656; at 40 % of 989 TFLOPS that is
    67,339,819,155,456 / 395.6e12 = 0.1702 s. The H100 measured 0.2048 s (data/own_measurements/)."""
    spec = find_model("meta-llama/Llama-3.2-1B-Instruct").spec
    setup = TrainingSetup(method="full", seq_len=2048, micro_batch=4)
    assert step_seconds(spec, setup, 989.0) == pytest.approx(67_339_819_155_456 / (989.0e12 * 0.40), rel=1e-12)
