"""Training and fine-tuning: memory per GPU, compute, time and cost.

Memory per GPU is the sum of model states (16-bit working weights, gradients, fp32 master
weights and optimizer states under mixed precision, no master copy and bf16 states under pure
bf16, or for LoRA/QLoRA a frozen base plus small trainable adapters), the fixed runtime overhead,
and the larger of two transient parts: the activations saved for the backward pass, and the
temporaries of the optimizer step (PyTorch's ``foreach`` AdamW). Model states are split
by tensor parallelism and, with ZeRO, across the data-parallel group: stage 1 shards optimizer
states, stage 2 also gradients, stage 3 (FSDP full shard) also weights.

Activations follow Korthikanti et al. (2022), derived per tensor for the model's actual shapes
(grouped-query attention, gated MLPs, MoE routing) instead of the GPT-3-only constant 34·s·b·h,
each kind of layer at its own size (Gemma 4's global layers, LFM2's short convolutions). Mamba and
Gated DeltaNet layers are refused: what they save for backward depends on the kernel that runs them.
LoRA adapters are counted only in the layers that have the targeted module (``lora_matrices``),
checked against PEFT on the meta device for every family (``tests/test_lora_oracle.py``).

References
----------
.. [1] Rajbhandari et al. 2020, "ZeRO: Memory Optimizations Toward Training Trillion Parameter
       Models": mixed-precision Adam keeps 2 + 2 + (4 + 4 + 4) = 16 bytes per parameter.
.. [2] Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer Models":
       per-layer activations 34·s·b·h + 5·a·s²·b bytes (16-bit), 4·s·b·v for the fp32 logits.
.. [3] Hu et al. 2021, "LoRA"; Dettmers et al. 2023, "QLoRA" (NF4 with double quantization:
       0.127 bits of scales per parameter; 16-bit adapters; paged optimizers; a 65B model
       fine-tuned on one 48 GB GPU).
.. [4] Dettmers et al. 2022, "8-bit Optimizers via Block-wise Quantization" (2 bytes of state).
.. [5] Kaplan et al. 2020 (6·N FLOPs per token); Chowdhery et al. 2022, PaLM, appendix B
       (attention adds 12·L·H·Q·T per token; model-FLOPs utilisation, 46.2 % for PaLM 540B).
.. [6] Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models" (≈ 20 tokens per
       parameter).
.. [7] Touvron et al. 2023, LLaMA: 65B trained on 1.4 T tokens on 2,048 A100-80GB at about
       380 tokens/s/GPU, about 21 days.
.. [8] Pure bf16 training: Lightning ``precision="bf16-true"`` (weights, gradients and optimizer
       states in bf16, https://lightning.ai/docs/pytorch/stable/common/precision_intermediate.html);
       torchtune recipes' default ``dtype: bf16``; torch.optim states use ``zeros_like(param)``.
.. [9] PyTorch, torch.optim.AdamW docs: "the foreach implementation uses ~ sizeof(params) more
       peak memory than the for-loop version"; foreach is the default on CUDA, fused allocates no
       parameter-sized intermediates (https://pytorch.org/docs/stable/generated/torch.optim.AdamW.html).
.. [10] Smith et al. 2022, "Using DeepSpeed and Megatron to Train Megatron-Turing NLG 530B":
        113-126 TFLOPS per A100 GPU.
.. [11] Narayanan et al. 2021, "Efficient Large-Scale Language Model Training on GPU Clusters
        Using Megatron-LM": 135-163 TFLOPS per A100 (43-52 % of peak), recomputation included.
.. [12] transformers ``loss/loss_utils.py``, ``ForCausalLMLoss``: ``logits = logits.float()``
        then ``nn.functional.cross_entropy`` (log-softmax, saved for backward, and NLL). Checked
        on an H100 with ``python -m llm_calc measure`` (``data/own_measurements/``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from llm_calc.architecture import ModelSpec, count_parameters
from llm_calc.catalog import Gpu
from llm_calc.checks import check_whole_number
from llm_calc.hardware import CARD_LADDER, MIN_UTILISATION, usable_memory_bytes
from llm_calc.memory import RUNTIME_OVERHEAD_BYTES

METHODS = ("full", "lora", "qlora")

OPTIMIZERS = ("adamw", "adam8bit", "sgd")
"""``adamw``: torch.optim.AdamW; ``adam8bit``: bitsandbytes' 8-bit Adam [4]; ``sgd``: SGD with momentum."""

WEIGHTS_PRECISIONS = ("mixed", "bf16")
"""How the trained weights are kept [1] [8]:

``mixed``: bf16 working weights and gradients, an fp32 master copy and fp32 optimizer states
(DeepSpeed/Megatron mixed precision, Lightning ``bf16-mixed``, Transformers ``bf16=True``);
``bf16``: pure bf16 training, weights, gradients and optimizer states all bf16, no master copy
(Lightning ``bf16-true``, torchtune's default ``dtype: bf16``)."""

DEFAULT_WEIGHTS_PRECISION = "mixed"
"""Mixed precision is what Transformers' Trainer (``bf16=True``), DeepSpeed and Lightning's
``bf16-mixed`` run; pure bf16 has to be asked for (Lightning ``bf16-true``, torchtune)."""

OPTIMIZER_IMPLS = ("foreach", "fused")
"""PyTorch's two multi-tensor optimizer kernels [9]: ``foreach`` (the default on CUDA when
neither is set) and ``fused`` (one kernel per step, no parameter-sized intermediates)."""

DEFAULT_OPTIMIZER_IMPL = "foreach"
"""torch.optim.AdamW picks ``foreach`` on CUDA when the user sets neither flag [9]; recent
Transformers Trainers ask for ``fused`` (``optim="adamw_torch_fused"``), which needs no temporaries."""

STATE_ELEMENT_BYTES = {"mixed": 4, "bf16": 2}
"""Bytes of one optimizer-state element: fp32 under mixed precision [1]; under pure bf16 the
states take the parameters' dtype (torch.optim creates them with ``zeros_like(param)``) [8]. [bytes]"""

OPTIMIZER_STATE_TENSORS = {"adamw": 2, "sgd": 1}
"""State tensors per parameter: Adam's two moments (exp_avg, exp_avg_sq), SGD's momentum buffer."""

ADAM_8BIT_STATE_BYTES = 2
"""8-bit Adam keeps two 8-bit moments whatever the weights' precision [4]. [bytes]"""

FOREACH_TEMPORARY_TENSORS = {"adamw": 1, "adam8bit": 0, "sgd": 0}
"""Parameter-sized tensors the ``foreach`` step allocates [9]: AdamW computes
``exp_avg_sq_sqrt = torch._foreach_sqrt(exp_avg_sqs)``, one tensor list the size of the
parameters it updates in the state dtype; SGD with momentum (weight decay 0, its default)
updates in place; bitsandbytes' 8-bit Adam runs its own fused kernel. ``fused`` allocates none."""

WORKING_WEIGHT_BYTES = 2
"""16-bit copy of each weight used in the forward and backward pass [1]. [bytes]"""
GRADIENT_BYTES = 2
"""16-bit gradient per trainable parameter [1]. [bytes]"""
MASTER_WEIGHT_BYTES = 4
"""fp32 master copy the optimizer updates (mixed precision) [1]. [bytes]"""

ADAPTER_WEIGHT_BYTES = {"lora": 4, "qlora": 2}
"""Per adapter parameter under mixed precision, for the weight and again for its gradient: PEFT
upcasts LoRA adapters to fp32 (``autocast_adapter_dtype=True``), which then serve as their own
master copy; QLoRA keeps bf16 adapters with 32-bit (paged) optimizer states [3]. Pure bf16
keeps every adapter at 2 bytes. [bytes]"""

NF4_BITS_PER_WEIGHT = 4 + 0.127
"""NF4 with double quantization: 4 bits plus 0.127 bits of quantization constants [3]. [bits]"""

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
"""Module names as PEFT spells them for Llama-style models."""

ACTIVATION_BYTES = 2
LOSS_BYTES_PER_LOGIT = 4 + 4 + 4
"""The cross-entropy's fp32 tensors alive at once when backward starts, per logit (token x
vocabulary entry) [2, 12]: transformers' ``ForCausalLMLoss`` upcasts the logits to fp32 and
``cross_entropy`` saves its log-softmax output (4 bytes) for backward; backward first makes the
gradient of that output (4) and then, with both alive, the gradient of the logits (4). The forward
peak is lower (bf16 logits 2 + fp32 copy 4 + log-softmax 4 = 10). A fused or chunked loss kernel
(Liger, Cut Cross-Entropy) holds far less; the default Trainer path holds this. [bytes]"""

DEFAULT_MFU = 0.40
"""Model-FLOPs utilisation of a well-tuned large run, stated before any run is compared with it:
PaLM 540B 46.2 % [5]; Megatron-Turing NLG 530B 113-126 TFLOPS per A100 (36-40 % of 312) [10];
Megatron-LM's A100 runs 43-52 % of peak counting recomputation [11]. Adjustable."""

MAX_TRAINING_TOKENS = 1e16
"""Largest training set accepted: 10 quadrillion tokens, hundreds of times the largest published
runs (Llama 4 Behemoth's ~30 T, Qwen3's 36 T); beyond it FLOPs lose meaning and can overflow. [tokens]"""

CHINCHILLA_TOKENS_PER_PARAMETER = 20
"""Compute-optimal training tokens per parameter [6]."""

TENSOR_PARALLEL_SIZES = (1, 2, 4, 8)


@dataclass(frozen=True)
class TrainingSetup:
    """How a model is trained. ``micro_batch`` is sequences per GPU per step. [tokens, counts]

    ``optimizer`` keeps states for whatever is trained (every weight, or only the adapters);
    ``weights_precision`` is one of :data:`WEIGHTS_PRECISIONS`, ``optimizer_impl`` one of
    :data:`OPTIMIZER_IMPLS`.
    """

    method: str = "full"
    optimizer: str = "adamw"
    weights_precision: str = DEFAULT_WEIGHTS_PRECISION
    optimizer_impl: str = DEFAULT_OPTIMIZER_IMPL
    seq_len: int = 2048
    micro_batch: int = 1
    checkpointing: bool = False
    flash_attention: bool = True
    gpus: int = 1
    zero_stage: int = 0
    tensor_parallel: int = 1
    lora_rank: int = 8
    lora_alpha: int = 16
    lora_targets: tuple[str, ...] = ("q_proj", "v_proj")
    runtime_overhead_bytes: int = field(default=RUNTIME_OVERHEAD_BYTES)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}")
        for name, choices in (
            ("optimizer", OPTIMIZERS),
            ("weights_precision", WEIGHTS_PRECISIONS),
            ("optimizer_impl", OPTIMIZER_IMPLS),
        ):
            if getattr(self, name) not in choices:
                raise ValueError(f"unknown {name} {getattr(self, name)!r}; choose one of {', '.join(choices)}")
        for name, low, high in (
            ("seq_len", 1, 10_000_000),
            ("micro_batch", 1, 100_000),
            ("gpus", 1, 1_000_000),
            ("lora_rank", 1, 65_536),
            ("lora_alpha", 1, 1_000_000),
        ):
            check_whole_number(name, getattr(self, name), low, high)
        if self.zero_stage not in (0, 1, 2, 3):
            raise ValueError(f"zero_stage must be 0, 1, 2 or 3, got {self.zero_stage!r}")
        if self.tensor_parallel not in TENSOR_PARALLEL_SIZES:
            raise ValueError(f"tensor_parallel must be 1, 2, 4 or 8, got {self.tensor_parallel!r}")
        if self.gpus % self.tensor_parallel:
            raise ValueError(f"gpus ({self.gpus}) must be a multiple of tensor_parallel ({self.tensor_parallel})")
        unknown = [t for t in self.lora_targets if t not in LORA_TARGETS]
        if unknown or (self.method != "full" and not self.lora_targets):
            raise ValueError(f"LoRA targets must be some of {', '.join(LORA_TARGETS)}, got {list(self.lora_targets)}")

    @property
    def data_parallel(self) -> int:
        return self.gpus // self.tensor_parallel


SETUP_TEXT_FIELDS = (
    "method", "optimizer", "optimizer_impl", "weights_precision", "checkpointing", "flash_attention",
    "lora_rank", "lora_alpha", "lora_targets",
)  # fmt: skip
"""Fields of a one-card :class:`TrainingSetup` that :func:`setup_text` writes, in its order (the
sequence length and micro-batch have columns of their own in ``data/measurements.csv``)."""


def setup_text(setup: TrainingSetup) -> str:
    """``setup`` as one line, ``method=lora;optimizer=adamw;...;lora_targets=q_proj+v_proj``: the
    ``training_setup`` cell of a measurements row (:func:`parse_setup_text` reads it back)."""

    def cell(name: str) -> str:
        value = getattr(setup, name)
        if isinstance(value, bool):
            return "true" if value else "false"
        return "+".join(value) if isinstance(value, tuple) else str(value)

    return ";".join(f"{name}={cell(name)}" for name in SETUP_TEXT_FIELDS)


def parse_setup_text(text: str, seq_len: int, micro_batch: int) -> TrainingSetup:
    """The :class:`TrainingSetup` of a :func:`setup_text` line. Raises ValueError naming the problem."""
    fields: dict[str, object] = {}
    for item in text.split(";"):
        name, equals, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not equals or name not in SETUP_TEXT_FIELDS or name in fields:
            raise ValueError(f"expected name=value pairs of {', '.join(SETUP_TEXT_FIELDS)} once each, got {item!r}")
        if name in ("checkpointing", "flash_attention"):
            if value not in ("true", "false"):
                raise ValueError(f"{name} must be true or false, got {value!r}")
            fields[name] = value == "true"
        elif name in ("lora_rank", "lora_alpha"):
            if not value.isdigit():
                raise ValueError(f"{name} must be a whole number, got {value!r}")
            fields[name] = int(value)
        elif name == "lora_targets":
            fields[name] = tuple(value.split("+"))
        else:
            fields[name] = value
    return TrainingSetup(seq_len=seq_len, micro_batch=micro_batch, **fields)  # type: ignore[arg-type]


# --- parameters ---------------------------------------------------------------------------


LORA_ROUTED_EXPERTS = "routed experts"
"""Label of the routed experts' matrices in :func:`lora_matrices`. They are counted one adapter per
expert, as PEFT wraps the per-expert ``nn.Linear`` modules transformers < 5 builds. Transformers 5
stores routed experts fused (one 3-D parameter per layer), which ``target_modules`` does not reach:
PEFT 0.21 converts the MLP names to fused parameter targets for the Qwen2-MoE- and Mixtral-pattern
families (rank doubled on ``gate_up_proj``) and leaves the others' experts untrained, so their count
there depends on the versions used. ``tests/test_lora_oracle.py`` checks every other matrix."""


def lora_matrices(spec: ModelSpec, target: str) -> list[tuple[str, int, int, int]]:
    """(layer kind, input, output, count) of every matrix a PEFT target name covers. [elements]

    Only the layers that have the module count: the attention projections live in the softmax-
    attention layers (``spec.attention_layers``: not in Mamba, Gated DeltaNet, short-convolution
    or mixer-free layers, whose mixers are named ``in_proj``/``out_proj``/``in_proj_qkvz`` ...);
    ``q_proj`` is twice as wide with an output gate (Qwen3-Next, Qwen3.5); Gemma 4's global layers
    have their own head size and, with ``global_k_eq_v``, no ``v_proj``; MLA has an ``o_proj`` and,
    without a query low-rank, a ``q_proj``, but no ``k_proj``/``v_proj``. The MLP projections live in
    the layers with an MLP (not Nemotron-H's MLP-free ones): dense MLPs, the shared experts (one MLP
    of all their widths, as transformers builds DeepSeek's ``n_shared_experts``) and routed experts
    (see ``LORA_ROUTED_EXPERTS``); ``gate_proj`` only where the MLP is gated.
    An empty list: the model has no module of that name.

    The names are the Llama-style ones transformers uses for most families; where a family spells a
    role otherwise (LFM2's ``out_proj`` and ``w1``/``w2``/``w3``, Phi's ``dense``/``fc1``/``fc2``)
    PEFT finds no module of the Llama name, and this count is that of the same-shaped module under
    the family's own name; where a family fuses projections (Phi-3's ``qkv_proj``/``gate_up_proj``,
    Falcon's ``query_key_value``, GPT-2's ``c_attn``, Granite 4's ``input_linear``) it is the count as
    if they were separate matrices, which LoRA on the fused module does not train.
    """
    h = spec.hidden_size
    attention = spec.attention_layers - spec.global_attention_layers
    if target in ("q_proj", "k_proj", "v_proj", "o_proj"):
        if spec.uses_latent_attention:
            heads = spec.num_attention_heads
            if target == "o_proj":
                return [("attention", heads * spec.v_head_dim, h, attention)]
            if target == "q_proj" and not spec.q_lora_rank:
                return [("attention", h, heads * (spec.qk_nope_head_dim + spec.qk_rope_head_dim), attention)]
            return []
        q_dim = spec.num_attention_heads * spec.head_dim
        kv_dim = spec.num_kv_heads * spec.head_dim
        shapes = {
            "q_proj": (h, q_dim * (2 if spec.attention_output_gate else 1)),
            "k_proj": (h, kv_dim),
            "v_proj": (h, kv_dim),
            "o_proj": (q_dim, h),
        }
        found = [("attention", *shapes[target], attention)] if attention else []
        if spec.global_attention_layers and not (target == "v_proj" and spec.global_k_eq_v):
            global_q = spec.num_attention_heads * spec.global_head_dim
            global_kv = spec.global_kv_heads * spec.global_head_dim
            fan_in, fan_out = {"q_proj": (h, global_q), "o_proj": (global_q, h)}.get(target, (h, global_kv))
            found.append(("global attention", fan_in, fan_out, spec.global_attention_layers))
        return found
    if target == "gate_proj" and not spec.gated_mlp:
        return []
    shapes = [
        ("dense MLP", spec.intermediate_size, spec.dense_mlp_layers),
        (LORA_ROUTED_EXPERTS, spec.expert_intermediate_size, spec.moe_layers * spec.num_experts),
        # the shared experts are one MLP as wide as all of them (DeepSeek's n_shared_experts x
        # moe_intermediate_size: DeepseekV3MoE builds a single DeepseekV3MLP)
        (
            "shared experts",
            spec.shared_experts * spec.shared_expert_width,
            spec.moe_layers if spec.shared_experts else 0,
        ),
    ]
    if target in ("gate_proj", "up_proj"):
        return [(kind, h, width, count) for kind, width, count in shapes if count]
    return [(kind, width, h, count) for kind, width, count in shapes if count]  # down_proj


def lora_trainable_params(spec: ModelSpec, rank: int, targets: tuple[str, ...]) -> int:
    """LoRA adapter parameters: rank × (in + out) for every targeted matrix [3] (:func:`lora_matrices`).

    Llama-2-7B, rank 8 on q_proj and v_proj: 32 layers × 2 × 8 × (4096 + 4096) = 4,194,304.
    As PEFT does, a target the model lacks is passed over; if none of them is there, ValueError.
    """
    matrices = {t: lora_matrices(spec, t) for t in dict.fromkeys(targets)}
    if not any(matrices.values()):
        raise ValueError(f"{spec.name} has {_lora_absence(spec, targets)}; {_lora_targets_hint(spec)}")
    return sum(rank * (fan_in + fan_out) * count for found in matrices.values() for _, fan_in, fan_out, count in found)


def _lora_absence(spec: ModelSpec, targets: tuple[str, ...]) -> str:
    """Why ``targets`` name no module of ``spec`` (a phrase)."""
    absent = list(dict.fromkeys(targets))
    reason = ""
    if spec.uses_latent_attention and any(t in ("q_proj", "k_proj", "v_proj") for t in absent):
        reason = ": it uses latent attention (MLA: q_a_proj/q_b_proj, kv_a_proj_with_mqa, kv_b_proj)"
    elif "gate_proj" in absent and not spec.gated_mlp:
        reason = ": its MLP is not gated"
    return f"no {' or '.join(absent)}{reason}"


def _lora_targets_hint(spec: ModelSpec) -> str:
    """The targets that do name modules of ``spec``."""
    present = [t for t in LORA_TARGETS if lora_matrices(spec, t)]
    return f"target some of {', '.join(present)}" if present else "no LoRA target we count exists in it"


def trainable_params(spec: ModelSpec, setup: TrainingSetup) -> int:
    if setup.method == "full":
        return count_parameters(spec).total
    return lora_trainable_params(spec, setup.lora_rank, setup.lora_targets)


# --- memory -------------------------------------------------------------------------------


def optimizer_state_bytes(optimizer: str, weights_precision: str) -> int:
    """Optimizer state per trainable parameter. [bytes]

    Mixed precision keeps fp32 states: AdamW 2 × 4 = 8, SGD with momentum 4 [1]; pure bf16 keeps
    them in bf16: AdamW 2 × 2 = 4, SGD 2 [8]; 8-bit Adam 2 either way [4].
    """
    if optimizer == "adam8bit":
        return ADAM_8BIT_STATE_BYTES
    return OPTIMIZER_STATE_TENSORS[optimizer] * STATE_ELEMENT_BYTES[weights_precision]


def trainable_param_bytes(setup: TrainingSetup) -> int:
    """Model states per trainable parameter, the frozen base aside. [bytes]

    Full, mixed: 2 (bf16 weight) + 2 (bf16 gradient) + 4 (fp32 master) + states = 16 with AdamW [1].
    Full, pure bf16: 2 + 2 + states = 8 with AdamW (no master copy) [8].
    LoRA, mixed: 4 (fp32 adapter) + 4 (fp32 gradient) + states = 16 with AdamW; QLoRA, mixed:
    2 + 2 + states = 12 with AdamW [3]. Adapters under pure bf16: 2 + 2 + states.
    """
    states = optimizer_state_bytes(setup.optimizer, setup.weights_precision)
    if setup.method == "full":
        master = MASTER_WEIGHT_BYTES if setup.weights_precision == "mixed" else 0
        return WORKING_WEIGHT_BYTES + GRADIENT_BYTES + master + states
    weight = ADAPTER_WEIGHT_BYTES[setup.method] if setup.weights_precision == "mixed" else WORKING_WEIGHT_BYTES
    return 2 * weight + states


def step_temporary_bytes_per_param(setup: TrainingSetup) -> int:
    """Parameter-sized temporaries of the optimizer step per trainable parameter: with ``foreach``
    AdamW one tensor in the state dtype (4 bytes mixed, 2 bf16), with ``fused`` none [9]. [bytes]"""
    if setup.optimizer_impl == "fused":
        return 0
    return FOREACH_TEMPORARY_TENSORS[setup.optimizer] * STATE_ELEMENT_BYTES[setup.weights_precision]


@dataclass(frozen=True)
class TrainingMemory:
    """Memory on each GPU during training. [bytes]"""

    weights_bytes: int
    """16-bit working weights (full) or the frozen base model (LoRA: 16-bit, QLoRA: NF4)."""
    gradients_bytes: int
    optimizer_bytes: int
    """fp32 master weights and optimizer states (full), or the adapters with theirs (LoRA)."""
    activations_bytes: int
    overhead_bytes: int
    """Runtime overhead plus ZeRO-3's gather buffers."""
    step_temporaries_bytes: int = 0
    """Parameter-sized intermediates of the optimizer step (``foreach`` AdamW) [9]."""

    @property
    def transient_bytes(self) -> int:
        """The larger of the activations and the step's temporaries: the optimizer step runs after
        backward has freed the activations, so the two are never held at once. [bytes]"""
        return max(self.activations_bytes, self.step_temporaries_bytes)

    @property
    def total_bytes(self) -> int:
        """Peak per GPU: model states, overhead and the larger transient part. [bytes]"""
        states = self.weights_bytes + self.gradients_bytes + self.optimizer_bytes
        return states + self.overhead_bytes + self.transient_bytes


def base_weight_bytes(spec: ModelSpec, method: str) -> int:
    """The whole model's weights as trained: 16-bit, or NF4 for QLoRA (bitsandbytes keeps the
    embedding and output matrices at 16 bits). [bytes]"""
    params = count_parameters(spec)
    if method == "qlora":
        quantized = params.total - params.embedding
        return math.ceil(quantized * NF4_BITS_PER_WEIGHT / 8) + params.embedding * WORKING_WEIGHT_BYTES
    return params.total * WORKING_WEIGHT_BYTES


def _unmodelled_training_layers(spec: ModelSpec) -> str:
    """The layer kinds whose training activations are not modelled (a phrase; empty if none)."""
    kinds = []
    if spec.mamba_layers:
        kinds.append(f"{spec.mamba_layers} Mamba layers")
    if spec.linear_attention_layers:
        kinds.append(f"{spec.linear_attention_layers} Gated DeltaNet layers")
    return " and ".join(kinds)


def activation_terms_by_layer_kind(
    spec: ModelSpec, seq_len: int, micro_batch: int, flash_attention: bool
) -> dict[str, tuple[int, dict[str, int]]]:
    """Activations each kind of layer saves for backward, term by term, and how many layers of that
    kind there are: ``{kind: (layers, {term: bytes})}``, following Korthikanti et al. [2] without
    dropout, for the model's real shapes. [bytes]

    Attention layers (Gemma 4's global ones at their own head size apart): the attention input, Q,
    K, V and the output-projection input (2 bytes each); without FlashAttention also the softmax
    output (heads × s² per sequence). LFM2's short-convolution layers, from transformers'
    ``Lfm2ShortConv`` (the same tensors whether ``causal_conv1d`` runs the convolution or PyTorch
    does): ``in_proj``'s input and its output (three hidden widths, kept whole by the B·x and C·y
    products that save its slices), the convolution's input B·x and output, and ``out_proj``'s
    input: 7 hidden widths. MLP: its input plus, per token, the gate and up outputs, the activation
    output and their product (gated), or the activation input and output (plain), at the widest
    MLP a token runs through. Two norm inputs.

    Mamba and Gated DeltaNet layers are refused (ValueError): what they save for backward depends on
    the kernel that runs them (``mamba_ssm``'s fused scan and ``causal-conv1d``, ``flash-linear-
    attention``'s chunked delta rule, or transformers' PyTorch fallback, which keeps per-chunk
    states), and we have measured none of them.
    """
    unmodelled = _unmodelled_training_layers(spec)
    if unmodelled:
        raise ValueError(
            f"training activations of {spec.name}'s {unmodelled} are not modelled: what they save for "
            "backward depends on the kernel (mamba_ssm, causal-conv1d, flash-linear-attention or the PyTorch "
            "fallback); its parameters, LoRA adapters and serving memory are"
        )
    s, b, h = seq_len, micro_batch, spec.hidden_size
    tokens = s * b
    width = spec.intermediate_size
    if spec.is_moe:
        width = max(width, spec.active_mlp_width)
    shared = {
        "MLP input and inner activations": tokens * (h + (4 if spec.gated_mlp else 2) * width) * ACTIVATION_BYTES,
        "norm inputs": 2 * tokens * h * ACTIVATION_BYTES,
    }

    def attention(q_dim: int, kv_dim: int) -> dict[str, int]:
        return {
            "attention inputs, Q, K, V, output": tokens * (h + 2 * q_dim + 2 * kv_dim) * ACTIVATION_BYTES,
            "softmax scores (no FlashAttention)": 0
            if flash_attention
            else spec.num_attention_heads * s * s * b * ACTIVATION_BYTES,
            **shared,
        }

    if spec.uses_latent_attention:
        q_dim = spec.num_attention_heads * (spec.qk_nope_head_dim + spec.qk_rope_head_dim)
        kv_dim = q_dim
    else:
        q_dim = spec.num_attention_heads * spec.head_dim
        kv_dim = spec.num_kv_heads * spec.head_dim
    kinds: dict[str, tuple[int, dict[str, int]]] = {}
    common = spec.attention_layers - spec.global_attention_layers
    if common:
        kinds["attention"] = (common, attention(q_dim, kv_dim))
    if spec.global_attention_layers:
        global_q = spec.num_attention_heads * spec.global_head_dim
        global_kv = spec.global_kv_heads * spec.global_head_dim
        kinds["global attention"] = (spec.global_attention_layers, attention(global_q, global_kv))
    if spec.short_conv_layers:
        convolution = {"short convolution: in_proj input and output, B·x, conv output, out_proj input": 7 * tokens * h}
        kinds["short convolution"] = (
            spec.short_conv_layers,
            {name: value * ACTIVATION_BYTES for name, value in convolution.items()} | shared,
        )
    return kinds


def activation_terms_per_layer(
    spec: ModelSpec, seq_len: int, micro_batch: int, flash_attention: bool
) -> dict[str, int]:
    """Activations the layer that saves most saves for backward, term by term (see
    :func:`activation_terms_by_layer_kind`). [bytes]"""
    kinds = activation_terms_by_layer_kind(spec, seq_len, micro_batch, flash_attention)
    return max((terms for _, terms in kinds.values()), key=lambda terms: sum(terms.values()))


def activation_bytes_per_layer(spec: ModelSpec, seq_len: int, micro_batch: int, flash_attention: bool) -> int:
    """Sum of :func:`activation_terms_per_layer`: the layer that saves most. [bytes]"""
    return sum(activation_terms_per_layer(spec, seq_len, micro_batch, flash_attention).values())


def activation_terms(spec: ModelSpec, setup: TrainingSetup) -> dict[str, int]:
    """Activations per GPU by term: the layers (each kind at its own size, or with checkpointing
    every layer's input plus the largest layer recomputed at a time) and the loss's fp32 tensors on
    the logits (:data:`LOSS_BYTES_PER_LOGIT`), divided by
    tensor parallelism (with sequence parallelism, as Korthikanti et al. show). [bytes]

    Raises ValueError for a model with layers whose activations are not modelled (Mamba, Gated
    DeltaNet: :func:`activation_terms_by_layer_kind`)."""
    kinds = activation_terms_by_layer_kind(spec, setup.seq_len, setup.micro_batch, setup.flash_attention)
    tokens = setup.seq_len * setup.micro_batch
    tp = setup.tensor_parallel
    if setup.checkpointing:
        terms = {
            f"layer inputs kept for recomputation ({spec.num_layers} layers)": spec.num_layers
            * tokens
            * spec.hidden_size
            * ACTIVATION_BYTES,
            "one layer recomputed at a time": max(sum(layer.values()) for _, layer in kinds.values()),
        }
    elif len(kinds) == 1:
        ((layers, layer),) = kinds.values()
        terms = {f"{layers} layers × per-layer activations": layers * sum(layer.values())}
    else:
        terms = {
            f"{layers} {kind} layers × per-layer activations": layers * sum(layer.values())
            for kind, (layers, layer) in kinds.items()
        }
    terms["loss on the logits (fp32 log-softmax and its gradients)"] = tokens * spec.vocab_size * LOSS_BYTES_PER_LOGIT
    return {name: math.ceil(value / tp) for name, value in terms.items()}


def activation_bytes(spec: ModelSpec, setup: TrainingSetup) -> int:
    """Activations per GPU (see :func:`activation_terms`). [bytes]"""
    return sum(activation_terms(spec, setup).values())


def training_memory(spec: ModelSpec, setup: TrainingSetup) -> TrainingMemory:
    """Memory per GPU for ``setup`` (method, optimizer, ZeRO stage, TP and data parallelism)."""
    tp, dp, zero = setup.tensor_parallel, setup.data_parallel, setup.zero_stage
    params = count_parameters(spec).total
    weights = base_weight_bytes(spec, setup.method) / tp
    if zero == 3:
        weights /= dp
    trainable = trainable_params(spec, setup)
    # ZeRO-1 and up shard what the optimizer updates, and with it the step's temporaries
    optimizer_shards = tp * (dp if zero >= 1 else 1)
    if setup.method == "full":
        gradients = params * GRADIENT_BYTES / tp / (dp if zero >= 2 else 1)
        optimizer = params * (trainable_param_bytes(setup) - WORKING_WEIGHT_BYTES - GRADIENT_BYTES) / optimizer_shards
    else:
        gradients = 0  # the adapters' gradients are counted with them
        optimizer = trainable * trainable_param_bytes(setup) / optimizer_shards
    temporaries = trainable * step_temporary_bytes_per_param(setup) / optimizer_shards
    overhead = setup.runtime_overhead_bytes
    if zero == 3 and dp > 1:
        # gather buffers: the layer being computed and the one being prefetched, at 16 bits
        layer = (params - count_parameters(spec).embedding) / spec.num_layers
        overhead += math.ceil(2 * layer * WORKING_WEIGHT_BYTES / tp)
    return TrainingMemory(
        weights_bytes=math.ceil(weights),
        gradients_bytes=math.ceil(gradients),
        optimizer_bytes=math.ceil(optimizer),
        activations_bytes=activation_bytes(spec, setup),
        overhead_bytes=overhead,
        step_temporaries_bytes=math.ceil(temporaries),
    )


def cards_needed_for_training(spec: ModelSpec, setup: TrainingSetup, gpu: Gpu) -> int | None:
    """Fewest GPUs of this card (from the card ladder, keeping the setup's TP and ZeRO stage)
    whose per-GPU memory fits; ``None`` if no count does (e.g. no ZeRO and no TP: every GPU
    holds everything). Apple machines are counted one at a time."""
    return cards_needed_for_training_on(spec, setup, (gpu,))[0]


def cards_needed_for_training_on(spec: ModelSpec, setup: TrainingSetup, gpus: tuple[Gpu, ...]) -> list[int | None]:
    """:func:`cards_needed_for_training` for many cards at once: the memory at each GPU count is
    the same for every card, so the ladder is walked once, only as far as the smallest card needs."""
    usables = [usable_memory_bytes(gpu) for gpu in gpus]
    smallest = min(usables, default=0)
    needs: list[tuple[int, int]] = []
    for cards in CARD_LADDER:
        if cards % setup.tensor_parallel:
            continue
        needs.append((cards, training_memory(spec, replace(setup, gpus=cards)).total_bytes))
        if needs[-1][1] <= smallest:
            break
    results = []
    for gpu, usable in zip(gpus, usables, strict=True):
        ladder = needs[:1] if gpu.is_apple else needs
        results.append(next((cards for cards, need in ladder if need <= usable), None))
    return results


@dataclass(frozen=True)
class TrainingFit:
    """Whether a setup fits its card, and what would make it fit. [bytes, counts]"""

    memory_per_gpu_bytes: int
    usable_bytes: int
    gpus_needed: int | None
    """Fewest GPUs of this card at the setup's ZeRO stage and TP; ``None`` if no count does."""
    zero_stage_needed: int | None
    """Lowest ZeRO stage that fits at the setup's GPU count; ``None`` if none does."""
    gpus_needed_zero3: int | None
    """Fewest GPUs of this card with ZeRO-3 (FSDP full shard) and the setup's TP."""

    @property
    def fits(self) -> bool:
        return self.memory_per_gpu_bytes <= self.usable_bytes


def trains_on(gpu: Gpu) -> bool:
    """Whether training on ``gpu`` is modelled: on GPUs and Apple silicon, not on a CPU (no MFU or
    memory behaviour of CPU training is known here)."""
    return not gpu.is_cpu


def training_fit(spec: ModelSpec, setup: TrainingSetup, gpu: Gpu) -> TrainingFit:
    """Whether ``setup`` fits ``gpu``, the GPU count and the ZeRO stage that would.

    Raises ``ValueError`` for a device training is not modelled on (``trains_on``)."""
    if not trains_on(gpu):
        raise ValueError(f"training on a CPU ({gpu.name}) is not modelled; choose a GPU")
    usable = usable_memory_bytes(gpu)
    stage = next(
        (z for z in range(4) if training_memory(spec, replace(setup, zero_stage=z)).total_bytes <= usable), None
    )
    return TrainingFit(
        memory_per_gpu_bytes=training_memory(spec, setup).total_bytes,
        usable_bytes=usable,
        gpus_needed=cards_needed_for_training(spec, setup, gpu),
        zero_stage_needed=stage,
        gpus_needed_zero3=cards_needed_for_training(spec, replace(setup, zero_stage=3), gpu),
    )


# --- compute, time, cost ------------------------------------------------------------------


def training_flops(
    spec: ModelSpec,
    tokens: float,
    method: str = "full",
    trainable: int | None = None,
    seq_len: int = 2048,
    attention: bool = False,
) -> float:
    """Model FLOPs to train on ``tokens`` tokens [5].

    Full: 6 × active parameters per token (forward 2, backward 4). LoRA/QLoRA: the frozen base
    needs no weight gradients, so 4 × active + 6 × adapter parameters. With ``attention`` the
    12 × layers × query width × sequence length term is added (PaLM's definition).
    """
    if not 0 <= tokens <= MAX_TRAINING_TOKENS:  # also refuses nan
        raise ValueError(f"tokens must be a number from 0 to {MAX_TRAINING_TOKENS:.0e}, got {tokens!r}")
    active = count_parameters(spec).active
    per_token = 6 * active if method == "full" else 4 * active + 6 * (trainable or 0)
    if attention:
        head_width = spec.qk_nope_head_dim + spec.qk_rope_head_dim if spec.uses_latent_attention else spec.head_dim
        per_token += 12 * spec.num_layers * spec.num_attention_heads * head_width * seq_len
    return per_token * tokens


def step_seconds(spec: ModelSpec, setup: TrainingSetup, peak_tflops: float, mfu: float = DEFAULT_MFU) -> float:
    """One optimizer step of ``setup`` per GPU: the model FLOPs of ``micro_batch x seq_len`` tokens
    (:func:`training_flops` with the attention term, as PaLM's MFU counts them) at ``mfu`` of the
    card's dense 16-bit ``peak_tflops``. Recomputation under checkpointing is not model FLOPs: it
    shows as a lower MFU, as in the published runs :data:`DEFAULT_MFU` comes from. [s]"""
    tokens = setup.seq_len * setup.micro_batch
    flops = training_flops(spec, tokens, setup.method, trainable_params(spec, setup), setup.seq_len, attention=True)
    return training_run(flops / setup.tensor_parallel, 1, peak_tflops, mfu).seconds


def dense_training_flops(params: float, tokens: float) -> float:
    """The 6 · N · D estimate for a dense model of ``params`` parameters on ``tokens`` tokens [5]."""
    if params < 0 or tokens < 0:
        raise ValueError("parameters and tokens must not be negative")
    return 6 * params * tokens


def mfu_from_throughput(tokens_per_s_per_gpu: float, spec: ModelSpec, peak_tflops: float) -> float:
    """The MFU a reported throughput implies: 6 × active parameters × tokens/s ÷ peak FLOP/s."""
    return 6 * count_parameters(spec).active * tokens_per_s_per_gpu / (peak_tflops * 1e12)


@dataclass(frozen=True)
class TrainingRun:
    """Time and cost of a run. [FLOPs, s, GPU-h, USD]"""

    flops: float
    gpus: int
    seconds: float
    price_per_gpu_hour_usd: float | None

    @property
    def days(self) -> float:
        return self.seconds / 86_400

    @property
    def gpu_hours(self) -> float:
        return self.gpus * self.seconds / 3600

    @property
    def cost_usd(self) -> float | None:
        return None if self.price_per_gpu_hour_usd is None else self.gpu_hours * self.price_per_gpu_hour_usd


def training_run(
    flops: float,
    gpus: int,
    peak_tflops: float,
    mfu: float = DEFAULT_MFU,
    price_per_gpu_hour_usd: float | None = None,
) -> TrainingRun:
    """Wall-clock time of ``flops`` on ``gpus`` GPUs at ``mfu`` of ``peak_tflops`` each."""
    if not MIN_UTILISATION <= mfu <= 1:
        raise ValueError(f"MFU must be between {MIN_UTILISATION} and 1, got {mfu!r}")
    if gpus < 1 or not peak_tflops > 0:
        raise ValueError("need at least one GPU with positive TFLOPS")
    if price_per_gpu_hour_usd is not None and not (
        math.isfinite(price_per_gpu_hour_usd) and price_per_gpu_hour_usd >= 0
    ):
        raise ValueError(f"price per GPU-hour must be a finite number >= 0, got {price_per_gpu_hour_usd!r}")
    seconds = flops / (gpus * peak_tflops * 1e12 * mfu)
    return TrainingRun(flops, gpus, seconds, price_per_gpu_hour_usd)


def chinchilla_tokens(spec: ModelSpec) -> int:
    """Compute-optimal training tokens: about 20 per parameter [6]."""
    return CHINCHILLA_TOKENS_PER_PARAMETER * count_parameters(spec).total


# --- published runs, predicted -----------------------------------------------------------


@dataclass(frozen=True)
class PublishedRun:
    """A training run as its paper reports it: the inputs we predict from and the outcomes we
    compare with (data with a source, never fed back into the prediction)."""

    name: str
    hf_id: str
    tokens: float
    gpus: int
    gpu_name: str
    tokens_per_s_per_gpu: float | None
    """Reported throughput; shown only as the MFU it implies, never used to predict."""
    reported_days: float | None
    reported_cost_usd: float | None
    reported_flops: float | None
    reported: str
    source: str


LLAMA_65B_RUN = PublishedRun(
    name="LLaMA 65B pre-training",
    hf_id="huggyllama/llama-65b",
    tokens=1.4e12,
    gpus=2048,
    gpu_name="NVIDIA A100 80GB SXM",
    tokens_per_s_per_gpu=380,
    reported_days=21,
    reported_cost_usd=3.8e6,
    reported_flops=None,
    reported="about 21 days on 2,048 A100-80GB (≈ $3.8M if rented)",
    source="Touvron et al. 2023, LLaMA, section 2.4 (days); the $3.8M is the often-quoted rental estimate the "
    "primer gives, not a figure from the paper",
)
GPT3_RUN = PublishedRun(
    name="GPT-3 175B pre-training",
    hf_id="openai/gpt-3-175b",
    tokens=300e9,
    gpus=1024,
    gpu_name="NVIDIA V100 SXM2 32GB",
    tokens_per_s_per_gpu=None,
    reported_days=None,
    reported_cost_usd=None,
    reported_flops=3.14e23,
    reported="3.14e23 FLOPs for 300 B tokens; the GPU count was not published (1,024 V100s assumed here)",
    source="Brown et al. 2020, GPT-3, Table D.1",
)


def _relative_error(predicted: float | None, reported: float | None) -> float | None:
    if predicted is None or not reported:
        return None
    return predicted / reported - 1


@dataclass(frozen=True)
class RunPrediction:
    """Our prediction of a published run and its error against what the paper reports."""

    published: PublishedRun
    run: TrainingRun
    mfu: float
    """The MFU stated in advance (not fitted to this run)."""
    implied_mfu: float | None
    """The MFU the reported throughput implies, shown beside the prediction; not used by it."""

    @property
    def days_error(self) -> float | None:
        """(predicted − reported) / reported days; ``None`` where nothing was reported."""
        return _relative_error(self.run.days, self.published.reported_days)

    @property
    def cost_error(self) -> float | None:
        return _relative_error(self.run.cost_usd, self.published.reported_cost_usd)

    @property
    def flops_error(self) -> float | None:
        return _relative_error(self.run.flops, self.published.reported_flops)


def predict_run(published: PublishedRun, spec: ModelSpec, gpu: Gpu, mfu: float = DEFAULT_MFU) -> RunPrediction:
    """Predict a published run before comparing: 6 · N · D FLOPs [5] on the reported GPU count at
    ``mfu`` of the card's catalog peak, priced at the card's catalog price. The reported days,
    cost and throughput never enter the prediction; the throughput is shown as the MFU it implies."""
    flops = training_flops(spec, published.tokens)
    run = training_run(flops, published.gpus, gpu.tflops_16bit, mfu, gpu.price_per_hour_usd)
    implied = None
    if published.tokens_per_s_per_gpu:
        implied = mfu_from_throughput(published.tokens_per_s_per_gpu, spec, gpu.tflops_16bit)
    return RunPrediction(published, run, mfu, implied)
