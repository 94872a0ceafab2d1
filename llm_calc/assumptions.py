"""Every constant behind the inference estimate, with its value, meaning and source.

The app's "Assumptions" section and the README table are generated from this list, so what
users read is what the code uses.
"""

from __future__ import annotations

from dataclasses import dataclass

from llm_calc import catalog, engines, hardware, memory, precision
from llm_calc.units import GIB, MICROSECONDS_PER_SECOND


@dataclass(frozen=True)
class Assumption:
    name: str
    value: str
    meaning: str
    source: str


def inference_assumptions() -> list[Assumption]:
    """The constants of ``llm_calc.memory`` and ``llm_calc.hardware`` as shown to users."""
    return [
        Assumption(
            "Runtime overhead per GPU",
            f"{memory.RUNTIME_OVERHEAD_BYTES / GIB:g} GiB",
            "CUDA context, kernels, cuBLAS/NCCL workspaces and allocator slack; paid on every card.",
            "PyTorch docs, CUDA semantics (context not counted by the allocator; 0.3–1 GiB).",
        ),
        Assumption(
            "Activation precision",
            f"{memory.ACTIVATION_BYTES} bytes",
            "Activations stay 16-bit whatever the weight format (weights are dequantized on the fly).",
            "vLLM, llama.cpp and transformers compute in fp16/bf16.",
        ),
        Assumption(
            "Prefill chunk",
            f"{memory.DEFAULT_PREFILL_CHUNK_TOKENS:,} tokens",
            "Tokens in one forward pass; sets the size of the temporary buffers.",
            "vLLM --max-num-batched-tokens; llama.cpp --batch-size.",
        ),
        Assumption(
            "Logits",
            f"{memory.LOGIT_BYTES} bytes × vocabulary × batch",
            "Only the last position's logits, upcast to fp32 for sampling.",
            "vLLM LogitsProcessor; llama.cpp n_outputs.",
        ),
        Assumption(
            "Attention",
            "FlashAttention (no n × n matrix)",
            "Without it the fp32 score matrix of the chunk against the context is added.",
            "Dao 2023, FlashAttention-2.",
        ),
        Assumption(
            "Quantized vocabulary matrices",
            "16-bit for " + ", ".join(memory.UNQUANTIZED_EMBEDDING_FORMATS),
            "GPTQ/AWQ/FP8/INT8 checkpoints quantize only the decoder's linear layers.",
            "AutoAWQ, AutoGPTQ and llm-compressor defaults; GGUF averages already include them.",
        ),
        Assumption(
            "INT4 group overhead",
            f"{precision.INT4_GROUP_OVERHEAD_BITS} bits per {precision.AWQ_GROUP_SIZE} weights",
            "One fp16 scale and one 4-bit zero point per group.",
            "AutoAWQ / AutoGPTQ packing, group size 128.",
        ),
        Assumption(
            "Tensor parallel within a node",
            f"up to {hardware.MAX_TENSOR_PARALLEL} cards, then whole nodes (pipeline)",
            "Weights and buffers split evenly; KV heads split up to their number; MLA's latent "
            "is replicated; overhead is paid on every card.",
            "Shoeybi et al. 2019 (Megatron-LM); vLLM distributed serving docs.",
        ),
        Assumption(
            "Apple GPU share of unified memory",
            f"{hardware.APPLE_GPU_SHARE_SMALL:.0%} up to 36 GB, {hardware.APPLE_GPU_SHARE_LARGE:.0%} above",
            "macOS lets the GPU wire only part of RAM (recommendedMaxWorkingSetSize); the rest "
            "stays with the system. Raisable with `sudo sysctl iogpu.wired_limit_mb`.",
            "Apple Metal MTLDevice.recommendedMaxWorkingSetSize, as llama.cpp reports at start-up.",
        ),
        Assumption(
            "A CPU",
            "one socket, its whole RAM; peak = vector FP32 at base clock",
            "Memory bandwidth is channels × MT/s × 8 bytes; the compute peak counts cores × FP32 FLOPs a "
            "cycle (their FMA units) × base clock, not AMX or other matrix units, and llama.cpp's CPU "
            "profile fits its prefill MFU against it. The operating system's share of RAM is not taken "
            "off. Only llama.cpp's CPU backend is modelled; sockets are not pooled.",
            "data/gpus.csv (each CPU's source); llama.cpp README, supported backends.",
        ),
        *[
            Assumption(
                f"Engine: {p.key}",
                f"{p.bandwidth_efficiency:.0%} of bandwidth, "
                f"{p.layer_overhead_seconds * MICROSECONDS_PER_SECOND:.0f} µs per layer and step, "
                f"{p.moe_layer_overhead_seconds * MICROSECONDS_PER_SECOND:.0f} µs more per MoE layer, "
                f"prefill MFU {p.prefill_mfu:.0%}"
                + (f", {p.request_overhead_seconds * 1000:,.0f} ms per request" if p.request_overhead_seconds else ""),
                "A step takes max(bytes per card / (bandwidth × efficiency), FLOPs / (peak × MFU)) plus the "
                "fixed overhead of every layer, and more of every MoE layer (routing tokens to their experts, "
                "and across cards to the ranks that hold them); each card reads its share of the touched "
                "weights and the KV cache it holds. Behind an "
                "API server (vLLM, SGLang, TensorRT-LLM) a request's first token also waits the request "
                "overhead: one figure for all three, fitted on their measured times to first token.",
                f"{p.status}: {p.fit_rows:,} rows from {p.sources:,} sources"
                + (f", leave-one-source-out median error {p.cv_median_abs_error:.1%}" if p.cv_median_abs_error else "")
                + " (data/engine_profiles.csv)",
            )
            for p in engines.default_profiles().values()
        ],
        Assumption(
            "Serving-engine releases described",
            ", ".join(f"{engine} from {since}" for engine, since in engines.RELEASES_FROM.items()),
            "Each serving engine's profile is fitted on its rows measured from that month on; earlier rows "
            "ran releases rebuilt since (vLLM's V1 engine, TensorRT-LLM's PyTorch backend) and are estimated "
            "and shown apart on the Accuracy page, never fitted.",
            "vLLM v0.8.0 release notes (V1 engine on by default); TensorRT-LLM docs, PyTorch Backend "
            "(from 0.17); our own rows: DeepSeek-R1 on 8 H200, SGLang 0.5.7 3.4× faster per step than 0.4.3.",
        ),
        Assumption(
            "Weight-streaming ceiling",
            ", ".join(
                f"{g.name} {g.weight_stream_gbs:,.0f} GB/s" for g in catalog.default_gpus() if g.weight_stream_gbs
            ),
            "A decode step reads a card's weights no faster than its matrix kernels were measured to stream them "
            "at small batches, where that is below the engine's efficiency times the datasheet: a tensor-core "
            "GEMM computes a 64-row tile whatever the batch, which a card with little tensor throughput for its "
            "bandwidth cannot do at memory speed. The KV cache still reads at the efficiency times the datasheet.",
            "data/gpus.csv, column weight_stream_source (a published kernel benchmark on the card).",
        ),
        Assumption(
            "KV-cache copies of eager transformers",
            f"{engines.kv_cache_passes('transformers', 4)} passes over the KV cache per decode step, at "
            f"{engines.default_profiles()['transformers'].kv_copy_efficiency:.0%} of the datasheet bandwidth "
            "beyond the first",
            "transformers' generate appends each token to its dynamic cache with torch.cat, reading the whole "
            "cache and writing a new copy every layer, every step; its attention then reads it once. Releases "
            "before 4.54 also copied grouped KV heads up to the query heads for SDPA (3 + 2 × query heads per KV "
            "head passes), and 4.46's FlashAttention 2 path gathered the cache with an int64 index (15 passes): "
            "the measured rows of those releases are estimated so. Other engines keep the cache in place: one pass. "
            "The copies' efficiency is fitted on the transformers rows.",
            "transformers cache_utils.py DynamicLayer.update (torch.cat); transformers PR 39412 (enable_gqa, "
            "4.54); data/engine_profiles.csv, column kv_copy_efficiency.",
        ),
        Assumption(
            "All-reduce latency",
            f"{hardware.ALLREDUCE_LATENCY_SECONDS * MICROSECONDS_PER_SECOND:g} µs",
            "Tensor parallelism adds two all-reduces per layer per step: this latency plus the activations "
            "over the card's link (data/gpus.csv, per direction); pipeline stages add one hand-off each.",
            "NVIDIA/nccl issue 1259 (2 × H100 over NVLink); a lower bound on PCIe.",
        ),
        Assumption(
            "MoE decode reads",
            "E × (1 − (1 − k/E)^batch) experts per layer",
            "Uniform routing: the experts some token of the batch picks are read; memory holds all.",
            "Fedus et al. 2022 (Switch Transformers) routing; probability of an expert being missed.",
        ),
    ]


def training_assumptions() -> list[Assumption]:
    """The constants of ``llm_calc.training`` as shown to users."""
    from llm_calc import training

    return [
        Assumption(
            "Full fine-tuning model states, mixed precision",
            f"{training.WORKING_WEIGHT_BYTES} + {training.GRADIENT_BYTES} + {training.MASTER_WEIGHT_BYTES}"
            " + optimizer bytes per parameter",
            "bf16 weights and gradients, fp32 master weights; AdamW adds "
            f"{training.optimizer_state_bytes('adamw', 'mixed')} (two fp32 moments), 8-bit Adam "
            f"{training.optimizer_state_bytes('adam8bit', 'mixed')}, SGD with momentum "
            f"{training.optimizer_state_bytes('sgd', 'mixed')}. Transformers' Trainer with bf16=True, DeepSpeed, "
            "Lightning bf16-mixed.",
            "Rajbhandari et al. 2020 (ZeRO), section 3.1; Dettmers et al. 2022 (8-bit optimizers).",
        ),
        Assumption(
            "Pure bf16 training",
            f"{training.WORKING_WEIGHT_BYTES} + {training.GRADIENT_BYTES} + optimizer bytes per parameter",
            "bf16 weights and gradients, no master copy, optimizer states in bf16: AdamW "
            f"{training.optimizer_state_bytes('adamw', 'bf16')}, SGD {training.optimizer_state_bytes('sgd', 'bf16')}"
            ", 8-bit Adam "
            f"{training.optimizer_state_bytes('adam8bit', 'bf16')}. Adapters too are bf16.",
            "Lightning precision='bf16-true'; torchtune recipes (dtype: bf16).",
        ),
        Assumption(
            "LoRA adapters",
            f"{training.ADAPTER_WEIGHT_BYTES['lora']} + {training.ADAPTER_WEIGHT_BYTES['lora']} + optimizer bytes"
            " per adapter parameter (mixed)",
            "fp32 adapter weights and gradients (their own master copy) plus the chosen optimizer's states; "
            "the base stays frozen at 16 bits.",
            "Hu et al. 2021 (LoRA); PEFT upcasts adapters to fp32 (autocast_adapter_dtype=True).",
        ),
        Assumption(
            "QLoRA",
            f"NF4 at {training.NF4_BITS_PER_WEIGHT:.3f} bits; adapters {training.ADAPTER_WEIGHT_BYTES['qlora']} + "
            f"{training.ADAPTER_WEIGHT_BYTES['qlora']} + optimizer bytes (mixed)",
            "4-bit NormalFloat with double-quantized scales; embeddings and output stay 16-bit; "
            "bf16 adapters with the optimizer's 32-bit (paged) states.",
            "Dettmers et al. 2023 (QLoRA), sections 3-4.",
        ),
        Assumption(
            "Optimizer step temporaries",
            f"{training.DEFAULT_OPTIMIZER_IMPL} by default: one parameter-sized tensor (AdamW), none when fused",
            "PyTorch's foreach AdamW allocates sqrt(exp_avg_sq) for every parameter it updates, in the state "
            "dtype; fused does not; SGD (no weight decay) and 8-bit Adam allocate none. The step runs after "
            "backward has freed the activations, so the peak counts the larger of the two.",
            "PyTorch torch.optim.AdamW docs (foreach: ~ sizeof(params) more peak memory; default on CUDA).",
        ),
        Assumption(
            "Activations",
            f"per tensor, {training.ACTIVATION_BYTES} bytes; the loss {training.LOSS_BYTES_PER_LOGIT} bytes per logit",
            "Each layer saves its inputs to attention (Q, K, V, output) and MLP, the MLP's inner "
            "products and two norm inputs; without FlashAttention also heads × s² softmax outputs. "
            "Checkpointing keeps only each layer's input plus one layer at a time. The loss upcasts the "
            "logits to fp32: when backward starts its saved log-softmax, that output's gradient and the "
            "logits' gradient are alive at once (a fused loss kernel holds less).",
            "Korthikanti et al. 2022 (34·s·b·h + 5·a·s²·b per layer, here without dropout); transformers' "
            "ForCausalLMLoss; our H100 runs (data/own_measurements/).",
        ),
        Assumption(
            "Sharding",
            "ZeRO-1/2/3 over data-parallel GPUs; TP 1-8",
            "Stage 1 shards optimizer states, 2 also gradients, 3 (FSDP) also weights, plus two layers of "
            "gather buffers; tensor parallelism splits model states and (with sequence parallelism) "
            "activations.",
            "Rajbhandari et al. 2020; Korthikanti et al. 2022.",
        ),
        Assumption(
            "Training FLOPs",
            "6 × active params × tokens (LoRA: 4 × active + 6 × adapters)",
            "Forward 2, backward 4 FLOPs per parameter and token; frozen weights need no weight gradients. "
            "Optional attention term 12 × layers × query width × sequence.",
            "Kaplan et al. 2020; Chowdhery et al. 2022 (PaLM), appendix B.",
        ),
        Assumption(
            "Model-FLOPs utilisation",
            f"{training.DEFAULT_MFU:.0%} by default",
            "Share of the GPUs' dense 16-bit TFLOPS a run achieves; stated in advance, not fitted to a run.",
            "PaLM 540B 46.2 %; Megatron-Turing NLG 113-126 TFLOPS per A100; Megatron-LM 43-52 %.",
        ),
        Assumption(
            "Compute-optimal data",
            f"{training.CHINCHILLA_TOKENS_PER_PARAMETER} tokens per parameter",
            "A hint for pre-training budgets, not a requirement.",
            "Hoffmann et al. 2022 (Chinchilla).",
        ),
    ]
