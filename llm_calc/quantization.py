"""Checkpoints as shipped: a config's ``quantization_config`` turned into bytes per parameter group.

A quantized checkpoint converts some linear layers to a narrow type with scales (and zero
points) beside them, and keeps the rest — embeddings, the output head, norms, routers, biases —
at 16 bits. :func:`parse_quantization` reads the config block of each supported
``quant_method`` into a :class:`Quantization`; :func:`storage_plan` applies it to the parameter
groups of a model (``llm_calc.architecture.parameter_groups``) and returns a
:class:`StoragePlan`: storage bits per group, each derived in the docstrings below from the
format's definition, and the bytes they add up to. A method we do not model, or a module list we
cannot map to parameter groups, is refused with a ``ValueError`` naming it, never sized as bf16.

DeepSeek-V3's checkpoint also stores a multi-token-prediction (MTP) layer
(``num_nextn_predict_layers``) that serving without speculative decoding does not load; the
plan keeps it apart (``mtp_rows``) so that both figures can be shown.

References
----------
.. [1] DeepSeek-V3 ``README_WEIGHTS.md``: fp8 e4m3 weights with 128x128 block scaling, one fp32
       ``weight_scale_inv`` per block; embeddings, norms, output head and router in bf16; the MTP
       module (layer 61: one decoder layer, ``enorm``, ``hnorm``, ``eh_proj``, ``shared_head``).
.. [2] OCP Microscaling Formats (MX) v1.0 (2023): MXFP4 = blocks of 32 FP4 (E2M1) elements with
       one shared E8M0 (8-bit) scale; OpenAI gpt-oss model card (arXiv:2508.10925) sec. 2.1: MoE
       weights in MXFP4, 4.25 bits per parameter; everything else bf16.
.. [3] AutoAWQ ``WQLinear_GEMM`` (qweight int32 = 8 x 4-bit, qzeros packed 4-bit, fp16 scales
       per group) and AutoGPTQ ``QuantLinear`` (qweight, packed qzeros, fp16 scales per group,
       int32 ``g_idx`` per input channel); transformers ``AwqConfig`` / ``GPTQConfig``.
.. [4] bitsandbytes ``Params4bit`` / ``QuantState`` (blocksize 64, fp32 absmax; nested
       quantization: 8-bit absmax with one fp32 per 256 blocks), ``Int8Params`` (int8 weight and
       one fp32 scale per output row); Dettmers et al. 2023, "QLoRA" sec. 3.
.. [5] neuralmagic ``compressed-tensors``: ``QuantizationArgs`` (num_bits, type, strategy,
       group_size), formats ``pack-quantized``, ``int-quantized``/``naive-quantized``,
       ``float-quantized``, ``nvfp4-pack-quantized`` (FP4 with an fp8 scale per 16 values).
.. [6] Qwen/Qwen3-30B-A3B-FP8 and Qwen/Qwen3-235B-A22B-FP8 ``config.json``: fp8 e4m3 with 128x128 blocks,
       ``modules_to_not_convert`` = ``lm_head`` and every layer's ``input_layernorm``, ``mlp.gate`` and
       ``post_attention_layernorm`` (copies in data/hf_configs/, sources in its manifest.csv).
.. [7] moonshotai/Kimi-K2.5 ``config.json`` (``text_config.quantization_config``): compressed-tensors
       ``pack-quantized`` int4, group 32, symmetric; ``ignore`` = ``lm_head``, ``re:.*self_attn.*``,
       ``re:.*shared_experts.*``, ``re:.*mlp\\.(gate|up|gate_up|down)_proj.*`` (the first layer's dense
       MLP): only the routed experts are int4 (copy in data/hf_configs/, source in its manifest.csv).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from llm_calc.architecture import ModelSpec, parameter_groups

SUPPORTED_QUANT_METHODS = ("fp8", "mxfp4", "awq", "gptq", "bitsandbytes", "compressed-tensors")
"""``quantization_config.quant_method`` values we size; any other is refused."""

UNQUANTIZED_BITS = 16
"""Storage of every tensor a format leaves unconverted: bf16/fp16, as the checkpoints ship them
(DeepSeek-V3 and gpt-oss bf16, AWQ/GPTQ fp16) [1]_ [2]_ [3]_. [bits/element]"""

SCALE_FP16_BITS = 16
"""AWQ, GPTQ and compressed-tensors integer formats store one fp16/bf16 scale per group [3]_ [5]_. [bits]"""

FP32_BITS = 32
"""fp32 scales: DeepSeek's ``weight_scale_inv`` [1]_, bitsandbytes' absmax [4]_. [bits]"""

E8M0_SCALE_BITS = 8
"""MXFP4's shared scale: one 8-bit power of two (E8M0) per block [2]_. [bits]"""

MXFP4_BLOCK = 32
"""Elements per MXFP4 block [2]_."""

GPTQ_G_IDX_BITS = 32
"""AutoGPTQ stores ``g_idx``: one int32 group index per input channel of each linear [3]_. [bits]"""

BNB_4BIT_BLOCK = 64
"""bitsandbytes 4-bit: weights per absmax block (``blocksize`` default) [4]_."""

BNB_NESTED_BLOCK = 256
"""bitsandbytes double quantization: first-level absmax values per fp32 second-level scale [4]_."""

NVFP4_GROUP = 16
"""NVFP4 (compressed-tensors ``nvfp4-pack-quantized``): FP4 values per fp8 (E4M3) scale [5]_."""

DECODER_LINEAR_GROUPS = ("attention_linear", "dense_mlp_linear", "routed_experts_linear", "shared_experts_linear")
"""The decoder's weight matrices: what fp8, AWQ, GPTQ and compressed-tensors convert by default.
Routers stay 16-bit (DeepSeek's ``gate`` [1]_; AutoAWQ's and AutoGPTQ's MoE layouts leave the
router out [3]_)."""

VISION_MODULES = r"(^|\.)(vision_tower|visual|vision_model|multi_modal_projector|mm_projector)(\.|$)"
"""Module names of a multimodal wrapper's vision tower and projector (transformers: Gemma 3's and
Mistral 3's ``vision_tower`` and ``multi_modal_projector``, Qwen's ``visual``, Llama 4's
``vision_model``), whole or module by module, in ``modules_to_not_convert`` / ``ignore``."""

NORM_MODULES = r"(^|\.)(\w*_?(layer)?norm|ln_[12f])$"
"""Normalization modules (``input_layernorm``, ``post_attention_layernorm``, Gemma's
``pre_feedforward_layernorm``, ``q_norm``, ``k_norm``, DeepSeek's ``kv_a_layernorm``, the final
``norm``, GPT-2's ``ln_1``/``ln_2``/``ln_f``): not ``Linear`` layers, so no method converts them
and naming them in a module list keeps nothing that was converted."""

VISION_KEPT_METHODS = ("awq", "gptq", "mxfp4")
"""Methods that never convert a vision tower: AutoAWQ and AutoGPTQ quantize the language model's
decoder blocks only (the ``layers`` they walk) [3]_, MXFP4 only gpt-oss's experts [2]_. fp8,
bitsandbytes and compressed-tensors convert every ``Linear`` their module list does not keep, the
vision tower's included."""

MTP_PROJECTION = "mtp_projection"
"""DeepSeek's MTP ``eh_proj`` (2h -> h), stored bf16 in the fp8 checkpoint [1]_."""

MTP_FAMILIES = ("deepseek_v3", "deepseek_v32")
"""Families whose ``num_nextn_predict_layers`` we size: DeepSeek's layout [1]_ (DeepSeek-V3.2 keeps
it, its MTP layer a decoder layer like the others, indexer included). Others' MTP layers (if any)
are not counted in the checkpoint figure."""


@dataclass(frozen=True)
class Quantization:
    """How a checkpoint stores its weights: which parameter groups are converted and at what cost.

    ``bits`` is the storage per converted weight, scales and zero points included. [bits/element]
    """

    method: str
    label: str
    bits: float
    groups: tuple[str, ...]
    note: str
    fp8_compute: bool = False
    gptq_group_size: int = 0
    """GPTQ's group size (-1: per channel); its scale, zero and ``g_idx`` terms depend on the
    model's width and are added by ``storage_plan``."""
    int8_row_scales: bool = False
    """bitsandbytes int8: one fp32 scale per output row, added by ``storage_plan``."""
    keeps_vision: bool = False
    """Whether a multimodal checkpoint's vision tower stays unconverted: always for
    ``VISION_KEPT_METHODS``, else when the module list names it (``VISION_MODULES``)."""


@dataclass(frozen=True)
class Checkpoint:
    """What a config says about its stored weights beyond the architecture."""

    quantization: Quantization | None = None
    torch_dtype_bits: int = UNQUANTIZED_BITS
    mtp_layers: int = 0
    model_type: str = ""
    vision_params: int = 0
    """Parameters of a multimodal wrapper's vision tower and projector
    (``llm_calc.hf_config.count_vision_parameters``), stored beside the language model; 0 for a
    text model or a vision tower we do not size (``vision_not_modelled`` then says why)."""
    vision_not_modelled: str = ""
    """Why the config's vision tower is not counted (its kind is not modelled); "" otherwise."""


@dataclass(frozen=True)
class StorageRow:
    """One parameter group and how it is stored."""

    group: str
    params: int
    bits: float
    note: str

    @property
    def bytes(self) -> int:
        """Storage of the group. [bytes]"""
        return math.ceil(self.params * self.bits / 8)


@dataclass(frozen=True)
class StoragePlan:
    """A checkpoint's storage by parameter group. ``rows`` are what serving loads; ``mtp_rows``
    the multi-token-prediction layers the checkpoint adds (not loaded without speculative decoding)."""

    label: str
    rows: tuple[StorageRow, ...]
    mtp_rows: tuple[StorageRow, ...] = ()
    fp8_compute: bool = False
    vision_bits: float = UNQUANTIZED_BITS
    """Storage of the vision tower's parameters, if the model has one (``vision_storage_bits``). [bits/element]"""

    @property
    def weights_bytes(self) -> int:
        """Weights serving loads: the checkpoint without its MTP layers. [bytes]"""
        return sum(row.bytes for row in self.rows)

    @property
    def mtp_params(self) -> int:
        return sum(row.params for row in self.mtp_rows)

    @property
    def checkpoint_bytes(self) -> int:
        """The checkpoint as stored, MTP layers included. [bytes]"""
        return self.weights_bytes + sum(row.bytes for row in self.mtp_rows)

    def bits_of(self, group: str) -> float:
        """Storage bits of one group of ``rows``."""
        return next(row.bits for row in self.rows if row.group == group)

    def decode_read_bytes(self, spec: ModelSpec, touched_expert_fraction: float) -> int:
        """Weight bytes one decode step reads under this plan. [bytes]

        Every group but the input embedding (a lookup), routed experts only for the fraction some
        token picks, and the output matrix — ``lm_head``, or the tied embedding serving as it — at
        its own storage.
        """
        total = 0.0
        for row in self.rows:
            if row.group == "embedding":
                continue
            share = touched_expert_fraction if row.group == "routed_experts_linear" else 1.0
            total += row.params * share * row.bits / 8
        if spec.tie_embeddings:
            total += spec.vocab_size * spec.hidden_size * self.bits_of("embedding") / 8
        return math.ceil(total)


def parse_quantization(block: Any, name: str = "config") -> Quantization:
    """Read a ``quantization_config`` block; ``ValueError`` for anything we do not model."""
    if not isinstance(block, dict):
        raise ValueError(f"{name}: quantization_config must be a JSON object")
    method = block.get("quant_method")
    if method is None and (block.get("load_in_4bit") or block.get("load_in_8bit")):
        method = "bitsandbytes"
    readers = {
        "fp8": _fp8,
        "mxfp4": _mxfp4,
        "awq": _awq,
        "gptq": _gptq,
        "bitsandbytes": _bitsandbytes,
        "compressed-tensors": _compressed_tensors,
    }
    if not isinstance(method, str) or method not in readers:  # a list or an object is no method name
        shown = re.sub(r"[^A-Za-z0-9._-]", "", str(method))[:40]
        raise ValueError(
            f"{name}: quantization_config quant_method {shown!r} is not modelled; "
            f"supported: {', '.join(SUPPORTED_QUANT_METHODS)}"
        )
    return readers[method](block, name)


def _number(block: dict, key: str, name: str, default: Any = None) -> int:
    value = block.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value == 0 or value < -1:
        raise ValueError(f"{name}: quantization_config {key} must be a whole number, got {value!r:.40}")
    return value


def _fp8(block: dict, name: str) -> Quantization:
    """fp8 e4m3 weights (DeepSeek-V3, Devstral 2): 8 bits, plus one fp32 ``weight_scale_inv`` per
    block of ``weight_block_size`` [1]_. A 128x128 block: 8 + 32 / 16,384 = 8.00195 bits. Without a
    block size the scale is one fp32 per tensor, negligible: 8 bits. The decoder's linear layers are
    converted; embeddings, ``lm_head``, norms and the router stay bf16 [1]_."""
    blocks = block.get("weight_block_size")
    if blocks is None:
        bits, label = 8.0, "fp8 per-tensor scales"
    else:
        if not (isinstance(blocks, list) and len(blocks) == 2 and all(isinstance(b, int) and b > 0 for b in blocks)):
            raise ValueError(
                f"{name}: quantization_config weight_block_size must be two whole numbers, got {blocks!r:.40}"
            )
        bits = 8 + FP32_BITS / (blocks[0] * blocks[1])
        label = f"fp8 block {blocks[0]}x{blocks[1]}"
    kept = block.get("modules_to_not_convert")
    groups = _without(DECODER_LINEAR_GROUPS, kept, name)
    return Quantization(
        "fp8",
        label,
        bits,
        groups,
        "fp8 e4m3 + fp32 scale per block",
        fp8_compute=True,
        keeps_vision=_names_vision(kept),
    )


def _mxfp4(block: dict, name: str) -> Quantization:
    """MXFP4 (gpt-oss): each expert weight is a 4-bit E2M1 value and every 32 share one E8M0
    scale [2]_: 4 + 8 / 32 = 4.25 bits. Only the routed experts' matrices are converted
    (transformers' ``Mxfp4GptOssExperts``); attention, router, embeddings, ``lm_head`` and the
    experts' biases stay bf16 (``modules_to_not_convert``)."""
    groups = _without(("routed_experts_linear",), block.get("modules_to_not_convert"), name)
    bits = 4 + E8M0_SCALE_BITS / MXFP4_BLOCK
    return Quantization("mxfp4", "MXFP4 experts", bits, groups, "4-bit + e8m0 per 32", keeps_vision=True)


def _awq(block: dict, name: str) -> Quantization:
    """AWQ (AutoAWQ GEMM/GEMV): ``bits``-bit weights packed in int32, per group of ``group_size``
    one fp16 scale and, with ``zero_point``, one packed ``bits``-bit zero [3]_. 4-bit g128:
    4 + (16 + 4) / 128 = 4.156 bits. Decoder linears converted except ``modules_to_not_convert``;
    embeddings, ``lm_head``, norms and routers fp16."""
    bits = _number(block, "bits", name, block.get("w_bit", 4))
    group = _number(block, "group_size", name, block.get("q_group_size", 128))
    if group == -1:
        raise ValueError(f"{name}: AWQ with group_size -1 is not modelled")
    zeros = bits if block.get("zero_point", True) else 0
    per_weight = bits + (SCALE_FP16_BITS + zeros) / group
    groups = _without(DECODER_LINEAR_GROUPS, block.get("modules_to_not_convert"), name)
    note = "fp16 scale + packed zero per group"
    return Quantization("awq", f"AWQ {bits}-bit g{group}", per_weight, groups, note, keeps_vision=True)


def _gptq(block: dict, name: str) -> Quantization:
    """GPTQ (AutoGPTQ / GPTQModel): ``bits``-bit weights packed in int32 (``qweight``); per group of
    ``group_size`` one fp16 scale and one packed ``bits``-bit zero point — stored for symmetric
    (``sym``) checkpoints too; and ``g_idx``, one int32 per input channel [3]_, i.e. 32 / out_features
    bits per weight, counted with out_features = the hidden size. ``group_size`` -1: one scale and
    zero per output channel, (16 + bits) / in_features with in_features = the hidden size.
    ``desc_act`` reorders ``g_idx`` but stores the same. 4-bit g128 on a 4,096-wide model:
    4 + 20 / 128 + 32 / 4,096 = 4.164 bits. ``lm_head`` stays fp16 unless ``lm_head`` is true."""
    bits = _number(block, "bits", name, 4)
    group = _number(block, "group_size", name, 128)
    label = f"GPTQ {bits}-bit " + ("per channel" if group == -1 else f"g{group}")
    if block.get("desc_act"):
        label += " act-order"
    groups = DECODER_LINEAR_GROUPS + (("lm_head",) if block.get("lm_head") is True else ())
    groups = _without(groups, block.get("modules_to_not_convert") or block.get("modules_not_quantized"), name)
    # the per-channel and g_idx terms depend on the model's width: completed in storage_plan
    note = "packed zero + fp16 scale per " + ("channel" if group == -1 else "group") + ", int32 g_idx"
    return Quantization("gptq", label, float(bits), groups, note, gptq_group_size=group, keeps_vision=True)


def _bitsandbytes(block: dict, name: str) -> Quantization:
    """bitsandbytes [4]_. 4-bit (nf4 or fp4): two values per byte and one fp32 absmax per 64:
    4 + 32 / 64 = 4.5 bits; with double quantization the absmax is 8-bit with one fp32 per 256
    blocks: 4 + 8 / 64 + 32 / (64 x 256) = 4.127 bits. 8-bit (LLM.int8): int8 plus one fp32
    scale per output row, 8 + 32 / in_features (completed in ``storage_plan``). Every decoder
    linear and the router are converted; ``lm_head`` and ``llm_int8_skip_modules`` are not."""
    groups = (*DECODER_LINEAR_GROUPS, "router")
    skip = block.get("llm_int8_skip_modules")
    if block.get("load_in_4bit"):
        kind = str(block.get("bnb_4bit_quant_type", "fp4"))
        if kind not in ("nf4", "fp4"):
            raise ValueError(f"{name}: bnb_4bit_quant_type {kind[:20]!r} is not modelled; supported: nf4, fp4")
        if block.get("bnb_4bit_use_double_quant"):
            bits = 4 + 8 / BNB_4BIT_BLOCK + FP32_BITS / (BNB_4BIT_BLOCK * BNB_NESTED_BLOCK)
            label = f"bitsandbytes {kind} double-quant"
        else:
            bits, label = 4 + FP32_BITS / BNB_4BIT_BLOCK, f"bitsandbytes {kind}"
        groups = _without(groups, skip, name)
        return Quantization("bitsandbytes", label, bits, groups, "absmax per 64", keeps_vision=_names_vision(skip))
    if block.get("load_in_8bit"):
        groups = _without(groups, skip, name)
        return Quantization(
            "bitsandbytes",
            "bitsandbytes int8",
            8.0,
            groups,
            "fp32 scale per row",
            int8_row_scales=True,
            keeps_vision=_names_vision(skip),
        )
    raise ValueError(f"{name}: bitsandbytes quantization_config with neither load_in_4bit nor load_in_8bit")


COMPRESSED_FORMATS = ("pack-quantized", "int-quantized", "naive-quantized", "float-quantized", "nvfp4-pack-quantized")
"""compressed-tensors ``format`` values we size [5]_."""


def _compressed_tensors(block: dict, name: str) -> Quantization:
    """compressed-tensors (llm-compressor) [5]_: one config group whose targets are ``Linear``.
    Weights at ``num_bits``; scales: per group of ``group_size`` (strategy ``group``) one 16-bit
    scale — fp8 (8 bits) per 16 for ``nvfp4-pack-quantized`` — plus, when not ``symmetric``, one
    ``num_bits`` zero point; per channel or per tensor the scale is negligible. W4A16 g128
    symmetric: 4 + 16 / 128 = 4.125 bits; FP8 per channel: 8 bits. ``ignore`` (usually
    ``lm_head``) stays 16-bit, and so do routers."""
    form = block.get("format")
    if form not in COMPRESSED_FORMATS:
        raise ValueError(
            f"{name}: compressed-tensors format {str(form)[:40]!r} is not modelled; "
            f"supported: {', '.join(COMPRESSED_FORMATS)}"
        )
    config_groups = block.get("config_groups")
    if not isinstance(config_groups, dict) or len(config_groups) != 1:
        raise ValueError(f"{name}: compressed-tensors with other than one config group is not modelled")
    (group_cfg,) = config_groups.values()
    weights = group_cfg.get("weights") if isinstance(group_cfg, dict) else None
    if not isinstance(weights, dict) or group_cfg.get("targets") != ["Linear"]:
        raise ValueError(f"{name}: compressed-tensors config group must target ['Linear'] with weights")
    bits = _number(weights, "num_bits", name)
    strategy = weights.get("strategy")
    if strategy in ("group", "tensor_group"):  # tensor_group: NVFP4's per-tensor global scale on top
        size = _number(weights, "group_size", name)
        scale = 8 if form == "nvfp4-pack-quantized" else SCALE_FP16_BITS
        zeros = 0 if weights.get("symmetric", True) else bits
        per_weight = bits + (scale + zeros) / size
        label = f"compressed-tensors {weights.get('type', 'int')}{bits} g{size}"
    elif strategy in ("channel", "tensor"):
        per_weight, label = float(bits), f"compressed-tensors {weights.get('type', 'int')}{bits} per {strategy}"
    else:
        raise ValueError(f"{name}: compressed-tensors strategy {str(strategy)[:20]!r} is not modelled")
    groups = _without(DECODER_LINEAR_GROUPS, block.get("ignore"), name)
    is_fp8 = weights.get("type") == "float" and bits == 8
    keeps_vision = _names_vision(block.get("ignore"))
    return Quantization(
        "compressed-tensors", label, per_weight, groups, str(form), fp8_compute=is_fp8, keeps_vision=keeps_vision
    )


_MLP_PROJ = r"(gate|up|gate_up|down)"
"""The names of a gated MLP's projections (``gate_proj``, ``up_proj``, fused ``gate_up_proj``, ``down_proj``)
less ``_proj``, as a regex group: a part of ``_MODULE_GROUPS``' dense-MLP pattern."""

_MODULE_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # the vision tower of a multimodal wrapper, whole or module by module: no group of the language model
    (VISION_MODULES, ()),
    (r"(^|\.)lm_head$", ("lm_head",)),
    (r"(^|\.)embed_tokens$", ()),  # never converted anyway
    (r"(^|\.)(self_attn|attn|attention)$", ("attention_linear",)),
    (r"(^|\.)(router|gate)$", ()),  # routers are never converted here
    # the router's score-correction bias (DeepSeek-V3, MiniMax-M2): a buffer, not a counted parameter
    (r"(^|\.)e_score_correction_bias$", ()),
    (NORM_MODULES, ()),  # norms are not Linear layers: never converted
    (r"(^|\.)shared_experts?$", ("shared_experts_linear",)),
    (r"(^|\.)experts$", ("routed_experts_linear",)),
    # a dense layer's MLP projections, by name or as one regex alternation (Kimi K2.5 [7]_:
    # ``mlp.(gate|up|gate_up|down)_proj``); routed and shared experts sit one level deeper
    # (``mlp.experts.0.gate_proj``, ``mlp.shared_experts.gate_proj``), so they do not match
    (rf"(^|\.)mlp\.({_MLP_PROJ}|\({_MLP_PROJ}(\|{_MLP_PROJ})*\))_proj$", ("dense_mlp_linear",)),
)
"""Module names in ``modules_to_not_convert`` / ``ignore`` and the parameter groups they keep at
16 bits, first match wins (a trailing ``.``, ``model.layers.*.`` prefixes and ``re:`` patterns for
these names are accepted). A name of one layer (``model.layers.3.self_attn``) that would keep a
group of that layer only is refused: the plan is per group, not per layer. One layer's router or
norms (``model.layers.3.mlp.gate``, ``model.layers.3.input_layernorm``: Qwen3's FP8 checkpoints
list every layer's [6]_) keep nothing that was converted, whatever the layer: accepted."""


def _names_vision(modules: Any) -> bool:
    """Whether a ``modules_to_not_convert`` / ``ignore`` list keeps the vision tower (``VISION_MODULES``)."""
    if not isinstance(modules, list):
        return False
    return any(isinstance(m, str) and re.search(VISION_MODULES, _cleaned(m)) for m in modules)


def _cleaned(module: str) -> str:
    """A module name without ``re:``, ``.*`` and ``$``, or a trailing ``.``; a ``re:`` pattern's
    escaped dot (``\\.``) read as the dot it matches."""
    return module.removeprefix("re:").replace(".*", "").replace("$", "").replace("\\.", ".").rstrip(".")


def _without(groups: tuple[str, ...], modules: Any, name: str) -> tuple[str, ...]:
    """``groups`` less those ``modules`` keeps unconverted; a module we cannot map is refused."""
    if modules is None:
        return groups
    if not isinstance(modules, list) or not all(isinstance(m, str) for m in modules):
        raise ValueError(f"{name}: modules_to_not_convert / ignore must be a list of module names")
    kept: set[str] = set()
    for module in modules:
        cleaned = _cleaned(module)
        for pattern, excluded in _MODULE_GROUPS:
            if re.search(pattern, cleaned) and (not excluded or not re.search(r"layers\.\d", cleaned)):
                kept.update(excluded)
                break
        else:
            shown = re.sub(r"[^A-Za-z0-9._*:-]", "", module)[:60]
            raise ValueError(
                f"{name}: cannot tell which parameters the unconverted module {shown!r} holds; "
                "per-layer or unusual module lists are not modelled"
            )
    return tuple(g for g in groups if g not in kept)


def storage_plan(spec: ModelSpec, checkpoint: Checkpoint) -> StoragePlan:
    """Storage of ``spec`` as ``checkpoint`` says it is shipped.

    Converted groups at the format's bits (GPTQ and bitsandbytes int8 width terms completed here
    with the hidden size, see their readers), every other group at the config's dtype (16 bits).
    MTP layers of ``MTP_FAMILIES`` become ``mtp_rows``.
    """
    quant = checkpoint.quantization
    plain = checkpoint.torch_dtype_bits
    vision = vision_storage_bits(checkpoint)
    if quant is None:
        label = f"as shipped: {plain}-bit (no quantization_config)"
        rows = tuple(StorageRow(g, n, plain, "unquantized") for g, n in parameter_groups(spec).items())
        return StoragePlan(label, rows, _mtp_rows(spec, checkpoint, None, plain), vision_bits=vision)
    bits = _converted_bits(quant, spec)
    rows = tuple(
        StorageRow(g, n, bits if g in quant.groups else plain, quant.note if g in quant.groups else "unconverted")
        for g, n in parameter_groups(spec).items()
    )
    mtp = _mtp_rows(spec, checkpoint, quant, plain)
    return StoragePlan(f"as shipped: {quant.label}", rows, mtp, quant.fp8_compute, vision)


def vision_storage_bits(checkpoint: Checkpoint) -> float:
    """Bits per parameter at which ``checkpoint`` stores its vision tower: the config's dtype
    (16-bit) when it is not quantized or its quantization leaves the tower unconverted
    (``Quantization.keeps_vision``). A quantization that converts the tower's linear layers too
    is refused: which of its parameters are linear weights is not modelled. [bits/element]"""
    quant = checkpoint.quantization
    if checkpoint.vision_params and quant is not None and not quant.keeps_vision:
        raise ValueError(
            f"the {quant.label} quantization converts the vision tower too (its module list does not keep "
            "vision_tower / visual / multi_modal_projector): a quantized vision tower is not modelled"
        )
    return checkpoint.torch_dtype_bits


def _converted_bits(quant: Quantization, spec: ModelSpec) -> float:
    width = spec.hidden_size
    if quant.gptq_group_size:
        group = width if quant.gptq_group_size == -1 else quant.gptq_group_size
        return quant.bits + (SCALE_FP16_BITS + quant.bits) / group + GPTQ_G_IDX_BITS / width
    if quant.int8_row_scales:
        return quant.bits + FP32_BITS / width
    return quant.bits


def _mtp_rows(
    spec: ModelSpec, checkpoint: Checkpoint, quant: Quantization | None, plain: int
) -> tuple[StorageRow, ...]:
    """DeepSeek's MTP module per layer [1]_: one more MoE decoder layer (stored like the others),
    ``enorm``, ``hnorm`` and ``shared_head.norm`` (3 x hidden), ``eh_proj`` (2 x hidden x hidden,
    bf16) and its own copies of ``embed_tokens`` and ``shared_head.head`` (vocab x hidden each)."""
    if not checkpoint.mtp_layers or checkpoint.model_type not in MTP_FAMILIES:
        return ()
    n = checkpoint.mtp_layers
    before = parameter_groups(spec)
    after = parameter_groups(spec.with_changes(num_layers=spec.num_layers + n))
    h = spec.hidden_size
    rows = []
    for group, count in after.items():
        extra = count - before[group]
        if extra:
            converted = quant is not None and group in quant.groups
            bits = _converted_bits(quant, spec) if converted and quant else plain
            rows.append(StorageRow(group, extra, bits, "MTP layer"))
    rows.append(StorageRow("norms", n * 3 * h, plain, "MTP enorm, hnorm, shared_head.norm"))
    rows.append(StorageRow(MTP_PROJECTION, n * 2 * h * h, plain, "MTP eh_proj"))
    rows.append(StorageRow("embedding", n * spec.vocab_size * h, plain, "MTP copy of embed_tokens"))
    rows.append(StorageRow("lm_head", n * spec.vocab_size * h, plain, "MTP copy of the output head"))
    return tuple(rows)


MTP_BASIS = "loaded without the multi-token-prediction layers (serving without speculative decoding)"
"""What the weights of the memory estimate exclude when a checkpoint stores MTP layers."""
