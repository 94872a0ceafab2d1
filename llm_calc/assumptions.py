"""Every constant behind the inference estimate, with its value, meaning and source.

The app's "Assumptions" section and the README table are generated from this list, so what
users read is what the code uses.
"""

from __future__ import annotations

from dataclasses import dataclass

from llm_calc import hardware, memory, precision
from llm_calc.units import GIB


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
            "Decode bandwidth efficiency",
            f"{hardware.DECODE_BANDWIDTH_EFFICIENCY:.0%} of datasheet bandwidth",
            "Each generated token reads the touched weights and the whole KV cache once.",
            "llama.cpp and vLLM batch-1 decode measurements reach 55–75 %.",
        ),
        Assumption(
            "Prefill model-FLOPs utilisation",
            f"{hardware.PREFILL_MFU:.0%} of dense tensor TFLOPS",
            "Prefill FLOPs = 2 × active parameters × tokens + 2 × layers × query width × tokens².",
            "Dao 2023 (FlashAttention-2 forward: 50–73 % of peak); Pope et al. 2022.",
        ),
        Assumption(
            "MoE decode reads",
            "E × (1 − (1 − k/E)^batch) experts per layer",
            "Uniform routing: the experts some token of the batch picks are read; memory holds all.",
            "Fedus et al. 2022 (Switch Transformers) routing; probability of an expert being missed.",
        ),
    ]
