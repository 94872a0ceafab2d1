"""Read a Hugging Face ``config.json`` into a :class:`~llm_calc.architecture.ModelSpec`.

Configs name the same thing differently by family (``n_embd``, ``d_model``, ``hidden_size``);
defaults differ too (``tie_word_embeddings`` is true unless the model class says otherwise).
Each family's conventions are written once in ``FAMILY_DEFAULTS``, whose keys are the
``SUPPORTED_MODEL_TYPES``: a config of any other architecture is refused, never sized as a
Llama. Multimodal wrappers are sized by their ``text_config``. Anything unreadable raises
:class:`ConfigError` (a ``ValueError``) with a sentence a user can act on.

References
----------
.. [1] Hugging Face ``transformers`` configuration classes (``LlamaConfig``, ``FalconConfig``,
       ``MptConfig``, ``Gemma2Config``, ``DeepseekV3Config``, ``GptOssConfig`` ...).
.. [2] Hugging Face ``transformers`` modeling classes (``PhiForCausalLM``, ``Qwen2MoeSparseMoeBlock``,
       ``GptOssAttention``, ``Llama4TextMoe`` ...): which tensors each family builds; checked by
       ``tests/test_param_oracle.py`` on the meta device.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from llm_calc.architecture import DEFAULT_MAMBA_STATE_BITS, MAX_CONTEXT_TOKENS, MAX_DIMENSION, ModelSpec
from llm_calc.checks import shown_value
from llm_calc.quantization import Checkpoint, parse_quantization

MAX_CONFIG_BYTES = 1_000_000
"""Real configs are a few KB; anything past 1 MB is not a config."""

FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    # transformers' PretrainedConfig ties embeddings by default; these classes override it.
    "llama": {"tie_embeddings": False},
    "mistral": {"tie_embeddings": False},
    "mixtral": {"tie_embeddings": False},
    "qwen2": {"tie_embeddings": False},
    "qwen3": {"tie_embeddings": False, "qk_norm": True},
    # Qwen2MoeConfig.qkv_bias defaults to true; the shared expert has a hidden->1 gate
    "qwen2_moe": {"tie_embeddings": False, "qkv_bias": True, "shared_expert_gate": True},
    "qwen3_moe": {"tie_embeddings": False, "qk_norm": True},
    # Qwen3NextForCausalLM: 3 Gated DeltaNet layers to 1 gated attention layer (its q_proj doubled
    # for the output gate), Qwen2-MoE's gated shared expert. Qwen3.5's language model: the same
    # layers, dense MLPs.
    "qwen3_next": {
        "tie_embeddings": False,
        "qk_norm": True,
        "shared_expert_gate": True,
        "attention_output_gate": True,
        "linear_attention": True,
    },
    "qwen3_5_text": {"tie_embeddings": False, "qk_norm": True, "attention_output_gate": True, "linear_attention": True},
    # SmolLM3Config ties embeddings by default; its NoPE layers (no_rope_layers) have no parameters
    "smollm3": {"tie_embeddings": True},
    # Olmo3ForCausalLM: norms after attention and after the MLP (none before), q/k norms over all heads
    "olmo3": {"tie_embeddings": False, "qk_norm": True, "qk_norm_full": True},
    # Exaone4ForCausalLM: norms after attention and after the MLP, q/k norms per head, no biases
    "exaone4": {"tie_embeddings": False, "qk_norm": True},
    # Ministral3ForCausalLM (Devstral 2, and Mistral 3's language model): Mistral's layers
    "ministral3": {"tie_embeddings": False},
    # Lfm2ForCausalLM (LFM2, LFM2.5-VL's language model): short-convolution layers between
    # attention layers with per-head q/k norms; Lfm2Config ties embeddings by default
    "lfm2": {"tie_embeddings": True, "qk_norm": True, "short_conv": True},
    # State-space hybrids (``_state_space_hybrid``). JambaForCausalLM: Mamba-1 layers with one
    # attention layer in attn_layer_period, MoE every expert_layer_period-th layer.
    "jamba": {"tie_embeddings": False, "mamba": True},
    # FalconH1ForCausalLM: a Mamba-2 block beside attention in every layer, then a gated MLP
    "falcon_h1": {"tie_embeddings": False, "mamba": True},
    # NemotronHForCausalLM: one block per layer (Mamba-2, attention, relu² MLP or MoE), one norm each
    "nemotron_h": {"tie_embeddings": False, "gated_mlp": False, "norms_per_layer": 1, "mamba": True},
    # GraniteMoeHybridForCausalLM (Granite 4): Mamba-2 or attention, then MoE plus a shared MLP
    "granitemoehybrid": {"tie_embeddings": False, "mamba": True},
    "phi3": {"tie_embeddings": False},
    "gemma": {"tie_embeddings": True},
    "gemma2": {"tie_embeddings": True, "norms_per_layer": 4},
    "gemma3_text": {"tie_embeddings": True, "norms_per_layer": 4, "qk_norm": True},
    "deepseek_v2": {"tie_embeddings": False},
    "deepseek_v3": {"tie_embeddings": False},
    "gpt_oss": {"tie_embeddings": False, "qkv_bias": True, "mlp_bias": True, "attention_sinks": True},
    "falcon": {"tie_embeddings": True, "gated_mlp": False, "norm": "layernorm", "max_context": 2048},
    "mpt": {"tie_embeddings": True, "gated_mlp": False, "norm": "layernorm_nobias"},
    "gpt2": {
        "tie_embeddings": True,
        "gated_mlp": False,
        "norm": "layernorm",
        "qkv_bias": True,
        "o_bias": True,
        "mlp_bias": True,
    },
    "gpt_bigcode": {
        "tie_embeddings": True,
        "gated_mlp": False,
        "norm": "layernorm",
        "qkv_bias": True,
        "o_bias": True,
        "mlp_bias": True,
    },
    "gpt_neox": {"tie_embeddings": False, "gated_mlp": False, "norm": "layernorm", "qkv_bias": True, "mlp_bias": True},
    # Llama4ForCausalLM: every MoE layer has a shared expert beside the routed ones; its L2 q/k norm
    # has no weights. Dense layers use intermediate_size_mlp, experts intermediate_size.
    "llama4_text": {"tie_embeddings": False},
    # PhiForCausalLM: attention and MLP in parallel after one LayerNorm, biases everywhere
    # (the lm_head too), a plain GELU MLP; the rotary part of each head has no parameters.
    "phi": {
        "tie_embeddings": False,
        "gated_mlp": False,
        "norm": "layernorm",
        "norms_per_layer": 1,
        "qkv_bias": True,
        "o_bias": True,
        "mlp_bias": True,
        "lm_head_bias": True,
    },
    # 2025-26 MoE families (issue 11). Kimi K2 ships DeepSeek-V3's architecture under its own
    # model_type (its config's architectures and auto_map name DeepseekV3ForCausalLM).
    "kimi_k2": {"tie_embeddings": False},
    # DeepseekV32ForCausalLM and GlmMoeDsaForCausalLM: DeepSeek-V3's MLA and MoE layers plus the
    # DeepSeek Sparse Attention indexer in every layer (index_n_heads, index_head_dim)
    "deepseek_v32": {"tie_embeddings": False, "sparse_attention_indexer": True},
    "glm_moe_dsa": {"tie_embeddings": False, "sparse_attention_indexer": True},
    # MiniMaxM2ForCausalLM: GQA with q/k RMSNorms over all heads at once, every layer MoE
    "minimax_m2": {"tie_embeddings": False, "qk_norm": True, "qk_norm_full": True},
    # Qwen3_5MoeForConditionalGeneration's language model: Qwen3.5's hybrid layers with Qwen3-Next's
    # MoE (routed experts and one gated shared expert in every layer)
    "qwen3_5_moe_text": {
        "tie_embeddings": False,
        "qk_norm": True,
        "shared_expert_gate": True,
        "attention_output_gate": True,
        "linear_attention": True,
    },
    # EXAONE 4.5's language model: Exaone4ForCausalLM (its text_config's architectures), which
    # transformers' Exaone4_5_Config builds for model_type exaone4_5_text
    "exaone4_5_text": {"tie_embeddings": False, "qk_norm": True},
    # Gemma4ForConditionalGeneration's language model: Gemma 3's four norms and q/k norms, global
    # layers of their own shape; with enable_moe_block, experts beside the dense MLP (three more norms)
    "gemma4_text": {"tie_embeddings": True, "norms_per_layer": 4, "qk_norm": True},
    # Glm4MoeForCausalLM (GLM-4.5, GLM-4.5-Air): DeepSeek-V3's MoE layout (first_k_dense_replace,
    # shared experts, a sigmoid router with a correction-bias buffer) on grouped-query attention with
    # Q/K/V biases (attention_bias; never on the output) and optional q/k norms (use_qk_norm)
    "glm4_moe": {"tie_embeddings": False},
}
"""How each supported ``model_type`` builds its tensors where the config does not say it."""

SUPPORTED_MODEL_TYPES: tuple[str, ...] = tuple(FAMILY_DEFAULTS)
"""The ``model_type`` values we size; every other one is refused rather than sized as a Llama.
Each is checked tensor for tensor against transformers on the meta device
(``tests/test_param_oracle.py``)."""

ATTENTION_BIAS_KEYS: dict[str, str] = {
    "llama": "attention_bias",
    "qwen3": "attention_bias",
    "qwen3_moe": "attention_bias",
    "qwen3_next": "attention_bias",
    "qwen3_5_text": "attention_bias",
    "smollm3": "attention_bias",
    "olmo3": "attention_bias",
    "gemma": "attention_bias",
    "gemma2": "attention_bias",
    "gemma3_text": "attention_bias",
    "gpt_oss": "attention_bias",
    "gpt_neox": "attention_bias",
    "deepseek_v2": "attention_bias",
    "deepseek_v3": "attention_bias",
    "llama4_text": "attention_bias",
    "kimi_k2": "attention_bias",
    "deepseek_v32": "attention_bias",
    "glm_moe_dsa": "attention_bias",
    "qwen3_5_moe_text": "attention_bias",
    "gemma4_text": "attention_bias",
    "glm4_moe": "attention_bias",
    "qwen2_moe": "qkv_bias",
    "falcon": "bias",
}
"""The config key that switches a family's attention biases, as its transformers class reads it;
in these families it covers the output projection too (``o_proj``/``dense``), except
``qwen2_moe`` (Q, K, V only). Families not listed have fixed biases (``FAMILY_DEFAULTS``) and
ignore such keys, as transformers does."""

LATENT_ATTENTION_FAMILIES = ("deepseek_v2", "deepseek_v3", "kimi_k2", "deepseek_v32", "glm_moe_dsa")
"""Families built on DeepSeek's MLA + MoE layers (``DeepseekV3ForCausalLM`` and its descendants), whose
configs' ``attention_bias``, ``mlp_bias`` and ``moe_layer_freq`` we refuse rather than size."""

QKV_ONLY_BIAS_FAMILIES = ("qwen2_moe", "glm4_moe")
"""Families whose attention-bias key gives Q, K and V biases but no output-projection bias."""

MLP_BIAS_FAMILIES = ("llama", "smollm3")
"""Families whose MLP has biases when the config's ``mlp_bias`` says so (``LlamaMLP``, ``SmolLM3MLP``)."""


CONFIG_DEFAULTS: dict[str, dict[str, Any]] = {
    # Gemma3TextConfig's defaults: Gemma 3's multimodal config.json files leave them out of
    # their text_config (gemma-3-4b-it states only widths, depth and window).
    "gemma3_text": {
        "vocab_size": 262_208,
        "hidden_size": 2304,
        "intermediate_size": 9216,
        "num_hidden_layers": 26,
        "num_attention_heads": 8,
        "num_key_value_heads": 4,
        "head_dim": 256,
        "max_position_embeddings": 131_072,
        "sliding_window": 4096,
    },
    # Gemma4TextConfig's defaults (global_head_dim: 512 in its __post_init__)
    "gemma4_text": {
        "vocab_size": 262_144,
        "hidden_size": 2304,
        "intermediate_size": 9216,
        "num_hidden_layers": 30,
        "num_attention_heads": 8,
        "num_key_value_heads": 4,
        "head_dim": 256,
        "max_position_embeddings": 131_072,
        "sliding_window": 512,
        "global_head_dim": 512,
    },
    # Llama4TextConfig's defaults
    "llama4_text": {
        "vocab_size": 202_048,
        "hidden_size": 5120,
        "intermediate_size": 8192,
        "intermediate_size_mlp": 16_384,
        "num_hidden_layers": 48,
        "num_attention_heads": 40,
        "num_key_value_heads": 8,
        "head_dim": 128,
        "max_position_embeddings": 131_072,
        "num_local_experts": 16,
        "num_experts_per_tok": 1,
        "attention_chunk_size": 8192,
    },
}
"""Config keys a family's published config.json may omit, with its transformers config class's default."""


class ConfigError(ValueError):
    """A config.json that cannot describe a model we can size."""


def parse_config_text(text: str | bytes, name: str = "uploaded config") -> ModelSpec:
    """Parse the text of a ``config.json``. Raises :class:`ConfigError` on any problem."""
    return spec_from_config(load_config_json(text, name), name)


def load_config_json(text: str | bytes, name: str = "uploaded config") -> Any:
    """The parsed JSON of a ``config.json``, or :class:`ConfigError` saying why it cannot be read."""
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{name} is {len(text):,} bytes; a config.json is a few KB")
    try:
        config = json.loads(text)
    except UnicodeDecodeError:
        raise ConfigError(f"{name} is not UTF-8 text") from None
    except RecursionError:
        raise ConfigError(f"{name} is nested too deeply to be a config.json") from None
    except json.JSONDecodeError as error:
        raise ConfigError(f"{name} is not valid JSON ({error.msg}, line {error.lineno})") from None
    return config


DTYPE_BITS = {"bfloat16": 16, "float16": 16, "float32": 32}
"""Bits per element of a config's ``torch_dtype`` / ``dtype``: what its unquantized tensors are
stored in. Absent or other values: 16 (every current release ships bf16 or fp16)."""


def parse_checkpoint_text(text: str | bytes, name: str = "uploaded config") -> Checkpoint:
    """How the weights of a ``config.json`` are stored (its ``quantization_config``, dtype and
    multi-token-prediction layers). Raises :class:`ConfigError` on anything we do not model."""
    return checkpoint_from_config(load_config_json(text, name), name)


def checkpoint_from_config(config: Any, name: str = "uploaded config") -> Checkpoint:
    """The :class:`~llm_calc.quantization.Checkpoint` a parsed ``config.json`` describes.

    ``quantization_config`` is read at the top level or in a wrapper's ``text_config``;
    ``num_nextn_predict_layers`` counts DeepSeek's MTP layers (sized only for
    ``llm_calc.quantization.MTP_FAMILIES``); a multimodal wrapper's vision tower and projector are
    counted by :func:`count_vision_parameters` (a kind it does not model is named in
    ``vision_not_modelled``, not refused: the language model is still sized).
    """
    if not isinstance(config, dict):
        raise ConfigError(f"{name} must be a JSON object, got {type(config).__name__}")
    text = config.get("text_config") if isinstance(config.get("text_config"), dict) else {}
    block = config.get("quantization_config", text.get("quantization_config"))
    try:
        quantization = None if block is None else parse_quantization(block, name)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    dtype = config.get("torch_dtype", config.get("dtype", text.get("torch_dtype", text.get("dtype"))))
    reader = _Reader({**config, **text}, name)
    try:  # a vision tower of a kind not modelled is said, not counted: the language model is still sized
        vision, vision_not_modelled = count_vision_parameters(config, name), ""
    except ConfigError as error:
        vision, vision_not_modelled = 0, str(error)
    return Checkpoint(
        quantization=quantization,
        torch_dtype_bits=DTYPE_BITS.get(dtype, 16) if isinstance(dtype, str) else 16,
        mtp_layers=reader.int("num_nextn_predict_layers", default=0),
        model_type=str(text.get("model_type", config.get("model_type", ""))),
        vision_params=vision,
        vision_not_modelled=vision_not_modelled,
    )


def spec_from_config(config: Any, name: str = "uploaded config") -> ModelSpec:
    """Build a spec from a parsed ``config.json`` dictionary."""
    if not isinstance(config, dict):
        raise ConfigError(f"{name} must be a JSON object, got {type(config).__name__}")
    config = _text_model_config(config, name)
    model_type = config["model_type"]
    family = FAMILY_DEFAULTS[model_type]
    config = {**CONFIG_DEFAULTS.get(model_type, {}), **config}
    reader = _Reader(config, name)

    hidden = reader.int("hidden_size", "n_embd", "d_model")
    heads = reader.int("num_attention_heads", "n_head", "n_heads")
    layers = reader.int("num_hidden_layers", "n_layer", "n_layers", "num_layers")
    vocab = reader.int("vocab_size", "padded_vocab_size")
    fields: dict[str, Any] = {
        "name": _model_name(config.get("_name_or_path"), name),
        "vocab_size": vocab,
        "hidden_size": hidden,
        "num_layers": layers,
        "num_attention_heads": heads,
        "max_context": reader.int(
            "max_position_embeddings",
            "n_positions",
            "max_seq_len",
            "seq_length",
            "max_sequence_length",
            default=family.get("max_context", 4096),
            limit=MAX_CONTEXT_TOKENS,
        ),
        "gated_mlp": family.get("gated_mlp", True),
        "tie_embeddings": reader.bool("tie_word_embeddings", default=family.get("tie_embeddings", True)),
        "qkv_bias": family.get("qkv_bias", False),
        "norm": family.get("norm", "rmsnorm"),
        "norms_per_layer": family.get("norms_per_layer", 2),
        "lm_head_bias": family.get("lm_head_bias", False),
        "attention_sinks": family.get("attention_sinks", False),
        "qk_norm": family.get("qk_norm", False),
        "qk_norm_full": family.get("qk_norm_full", False),
        "attention_output_gate": family.get("attention_output_gate", False),
    }
    if model_type == "phi":  # PhiAttention's optional LayerNorms on queries and keys
        fields["qk_norm"] = reader.bool("qk_layernorm", default=False)
    if model_type == "glm4_moe":  # Glm4MoeAttention's optional per-head RMSNorms on queries and keys
        fields["qk_norm"] = reader.bool("use_qk_norm", default=False)
    fields["o_bias"] = family.get("o_bias", False)
    if model_type in ATTENTION_BIAS_KEYS:
        fields["qkv_bias"] = reader.bool(ATTENTION_BIAS_KEYS[model_type], default=fields["qkv_bias"])
        fields["o_bias"] = fields["qkv_bias"] and model_type not in QKV_ONLY_BIAS_FAMILIES
    fields["mlp_bias"] = family.get("mlp_bias", False)
    if model_type in MLP_BIAS_FAMILIES:
        fields["mlp_bias"] = reader.bool("mlp_bias", default=False)
    if model_type == "qwen2":  # Qwen2 has q/k/v biases and no o bias, not stated in the config
        fields["qkv_bias"], fields["o_bias"] = True, False
    elif model_type in LATENT_ATTENTION_FAMILIES and (fields["qkv_bias"] or reader.bool("mlp_bias", default=False)):
        raise ConfigError(f"{name}: attention_bias or mlp_bias with latent attention is not modelled")

    head_dim = reader.int("head_dim", default=0) or (hidden // heads if heads else 0)
    kv_heads = reader.int("num_key_value_heads", "num_kv_heads", "n_head_kv", default=heads)
    intermediate = reader.int("intermediate_size", "ffn_hidden_size", "n_inner", default=0)
    if model_type == "falcon":
        _falcon(config, reader, fields)
        kv_heads = fields.pop("num_kv_heads")
    elif model_type == "mpt":
        attn = config.get("attn_config") if isinstance(config.get("attn_config"), dict) else {}
        # transformers' MptForCausalLM has multi-head attention, no biases and a 4x MLP whatever
        # the config says; a config asking for others describes a model we cannot check
        multi_head = attn.get("attn_type", "multihead_attention") == "multihead_attention" and not attn.get("qk_ln")
        if not multi_head or not reader.bool("no_bias", default=True) or reader.int("expansion_ratio", default=4) != 4:
            raise ConfigError(
                f"{name}: MPT with grouped-query attention, qk_ln, biases or an expansion_ratio "
                "other than 4 is not modelled"
            )
        intermediate = 4 * hidden
        fields["tie_embeddings"] = True
        fields["qkv_bias"] = fields["o_bias"] = fields["mlp_bias"] = False
    elif model_type in ("gpt2", "gpt_bigcode"):
        fields["learned_positions"] = fields["max_context"]
        if model_type == "gpt_bigcode" and reader.bool("multi_query", default=True):
            kv_heads = 1
    fields["head_dim"] = head_dim
    fields["num_kv_heads"] = kv_heads
    fields["intermediate_size"] = intermediate or 4 * hidden

    kinds = [] if family.get("mamba") else (_layer_types(config, reader, layers) or [])
    if "linear_attention" in kinds and not family.get("linear_attention"):
        raise ConfigError(f"{name}: linear_attention layers are modelled for qwen3_next and qwen3_5 only")
    if "conv" in kinds and not family.get("short_conv"):
        raise ConfigError(f"{name}: conv layers are modelled for lfm2 only")
    if "chunked_attention" in kinds:  # Llama 4 states its chunks with attention_chunk_size instead
        raise ConfigError(f"{name}: chunked_attention in layer_types is not modelled")
    _moe(config, reader, fields, model_type)
    if family.get("linear_attention"):
        _linear_attention(config, reader, fields)
    if family.get("short_conv"):
        _lfm2(config, reader, fields)
    if family.get("mamba"):
        _state_space_hybrid(config, reader, fields, model_type)
    _latent_attention(reader, fields)
    if family.get("sparse_attention_indexer"):
        _sparse_attention_indexer(reader, fields)
    if model_type == "minimax_m2":
        _minimax_m2(config, reader)
    if model_type == "gemma4_text":
        _gemma4(config, reader, fields)
    if model_type == "qwen3_5_moe_text" and config.get("mlp_only_layers"):
        # Qwen3_5MoeDecoderLayer puts experts in every layer whatever this list says
        raise ConfigError(f"{name}: mlp_only_layers in a qwen3_5_moe config is not modelled")
    _sliding_window(config, reader, fields, model_type)
    try:
        return ModelSpec(**fields)
    except ValueError as error:
        raise ConfigError(f"{name}: {error}") from None


def _text_model_config(config: dict, name: str) -> dict:
    """The config of the language model: the top level, or a multimodal wrapper's ``text_config``.

    A wrapper (Gemma 3, LLaVA, Llama 4) is sized by its text model only, under the text model's
    own ``model_type``; the wrapper's top-level keys fill in what the text_config leaves out.
    Raises :class:`ConfigError` when the type is missing or not one we model.
    """
    text = config.get("text_config")
    if isinstance(text, dict):
        config = {**config, **text}
        if "model_type" not in text:
            raise ConfigError(f"{name} has a text_config with no model_type; cannot tell its architecture")
    model_type = config.get("model_type")
    if model_type is None or model_type == "":
        raise ConfigError(f"{name} has no model_type; cannot tell its architecture")
    if model_type not in SUPPORTED_MODEL_TYPES:
        shown = re.sub(r"[^A-Za-z0-9._-]", "", str(model_type))[:60]
        raise ConfigError(
            f"{name} has model_type {shown!r}, an architecture this calculator does not model; "
            f"supported: {', '.join(SUPPORTED_MODEL_TYPES)}"
        )
    return config


def _model_name(raw: Any, fallback: str) -> str:
    """A display name from ``_name_or_path``: the characters a Hub id can have, at most 100."""
    text = raw if isinstance(raw, str) and raw.strip() else fallback
    cleaned = re.sub(r"[^A-Za-z0-9._/ -]", "", text).strip()[:100]
    return cleaned or "uploaded model"


def _falcon(config: dict, reader: _Reader, fields: dict[str, Any]) -> None:
    heads = fields["num_attention_heads"]
    fields["gated_mlp"] = False
    fields["o_bias"] = fields["mlp_bias"] = fields["qkv_bias"]
    if reader.bool("new_decoder_architecture", default=False):
        fields["num_kv_heads"] = reader.int("num_kv_heads", default=heads)
    else:
        multi_query = reader.bool("multi_query", default=True)
        fields["num_kv_heads"] = 1 if multi_query else heads
    # FalconDecoderLayer: two norms unless attention and MLP run in parallel, where
    # num_ln_in_parallel_attn decides (unset: 2 with the new decoder, 1 with the old)
    new_decoder = reader.bool("new_decoder_architecture", default=False)
    parallel_norms = reader.int("num_ln_in_parallel_attn", default=2 if new_decoder else 1)
    parallel = reader.bool("parallel_attn", default=True)
    fields["norms_per_layer"] = 2 if not parallel or parallel_norms == 2 else 1


def _moe(config: dict, reader: _Reader, fields: dict[str, Any], model_type: str) -> None:
    experts = reader.int("num_local_experts", "n_routed_experts", "num_experts", default=0)
    if not experts:
        return
    fields["num_experts"] = experts
    fields["experts_per_token"] = reader.int("num_experts_per_tok", "experts_per_token", "moe_topk", default=2)
    fields["moe_intermediate_size"] = reader.int("moe_intermediate_size", default=0)
    fields["shared_experts"] = reader.int("n_shared_experts", default=0)
    fields["dense_layers"] = reader.int("first_k_dense_replace", default=0)
    if model_type in ("qwen2_moe", "qwen3_next", "qwen3_5_moe_text"):  # one gated shared expert of its own width
        shared_width = reader.int("shared_expert_intermediate_size", default=0)
        fields["shared_experts"] = 1 if shared_width else 0
        fields["shared_expert_intermediate_size"] = shared_width
        fields["shared_expert_gate"] = bool(shared_width)
    if model_type in ("qwen2_moe", "qwen3_moe", "qwen3_next"):
        fields["dense_layers"] = _qwen_dense_layers(config, reader, fields["num_layers"])
    if model_type == "llama4_text":  # experts and one shared expert of intermediate_size
        fields["moe_intermediate_size"] = fields["intermediate_size"]
        fields["intermediate_size"] = reader.int("intermediate_size_mlp")
        fields["shared_experts"] = 1
        fields["dense_layers"] = fields["num_layers"] - len(_llama4_moe_layers(config, reader, fields["num_layers"]))
    # DeepSeek's own code makes every moe_layer_freq-th layer MoE; transformers' classes ignore the
    # key (every layer past first_k_dense_replace is MoE), so any other value is refused. DeepSeek V3's
    # router also holds e_score_correction_bias, a buffer in transformers (not a parameter), kept
    # in fp32 in the checkpoint: 58 MoE layers x 256 experts x 4 bytes = 59,392 bytes, not counted.
    if model_type in (*LATENT_ATTENTION_FAMILIES, "glm4_moe") and reader.int("moe_layer_freq", default=1) != 1:
        raise ConfigError(f"{reader.name}: moe_layer_freq other than 1 is not modelled")


def _qwen_dense_layers(config: dict, reader: _Reader, layers: int) -> int:
    """Layers of a Qwen MoE model that keep a plain MLP.

    Layer ``i`` (from 0) is a MoE layer unless it is in ``mlp_only_layers`` or ``i + 1`` is not a
    multiple of ``decoder_sparse_step`` (transformers' ``Qwen2MoeDecoderLayer``).
    """
    step = reader.int("decoder_sparse_step", default=1)
    if step < 1:
        raise ConfigError(f"{reader.name}: decoder_sparse_step must be at least 1, got {step}")
    mlp_only = config.get("mlp_only_layers") or []
    if not isinstance(mlp_only, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in mlp_only):
        raise ConfigError(f"{reader.name}: mlp_only_layers must be a list of layer numbers")
    moe = [i for i in range(layers) if i not in set(mlp_only) and (i + 1) % step == 0]
    return layers - len(moe)


def _layer_list(config: dict, reader: _Reader, key: str, limit: int) -> list[int] | None:
    """A list of whole numbers under ``key`` (None when absent), each from 0 to ``limit - 1``."""
    value = config.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in value):
        raise ConfigError(f"{reader.name}: {key} must be a list of whole numbers")
    if any(not 0 <= i < limit for i in value):
        raise ConfigError(f"{reader.name}: {key} has a value outside 0 to {limit - 1}")
    return value


def _llama4_moe_layers(config: dict, reader: _Reader, layers: int) -> set[int]:
    """Llama 4's MoE layers: ``moe_layers``, else every ``interleave_moe_layer_step``-th layer
    (Llama4TextConfig: ``range(step - 1, layers, step)``)."""
    listed = _layer_list(config, reader, "moe_layers", layers)
    if listed is not None:
        return set(listed)
    step = reader.int("interleave_moe_layer_step", default=1)
    if step < 1:
        raise ConfigError(f"{reader.name}: interleave_moe_layer_step must be at least 1, got {step}")
    return set(range(step - 1, layers, step))


LAYER_TYPES = ("full_attention", "sliding_attention", "chunked_attention", "linear_attention", "conv")
"""Entries of a config's ``layer_types`` we size: softmax attention over the whole context, over a
sliding window, within chunks (Llama 4), Gated DeltaNet linear attention (Qwen3-Next, Qwen3.5) and
LFM2's short convolution."""

STATE_DTYPE_BITS = {"float32": 32, "bfloat16": 16, "float16": 16}
"""Bits of a linear-attention layer's recurrent state by the config's ``mamba_ssm_dtype`` (Qwen3.5
asks for float32; absent, the state is kept in the model's 16-bit dtype). vLLM's
``MambaStateDtypeCalculator`` (``vllm/model_executor/layers/mamba/mamba_utils.py``) keeps the
recurrent state at ``mamba_ssm_cache_dtype``, "auto" meaning the conv state's (model) dtype, and
its Qwen3.5 model config sets that from the HF config's ``mamba_ssm_dtype``."""


def _layer_types(config: dict, reader: _Reader, layers: int) -> list[str] | None:
    """The config's ``layer_types`` (None when absent), each entry one of ``LAYER_TYPES``."""
    value = config.get("layer_types")
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != layers:
        raise ConfigError(f"{reader.name}: layer_types must list one type for each of the {layers} layers")
    unknown = sorted({str(kind)[:40] for kind in value if kind not in LAYER_TYPES})
    if unknown:
        raise ConfigError(
            f"{reader.name}: layer type {', '.join(unknown)} is not modelled; known: {', '.join(LAYER_TYPES)}"
        )
    return value


def _linear_attention(config: dict, reader: _Reader, fields: dict[str, Any]) -> None:
    """Qwen3-Next / Qwen3.5 hybrids: which layers are Gated DeltaNet and their sizes.

    ``layer_types`` names each layer; without it every ``full_attention_interval``-th layer (default
    4) is full attention and the rest linear (``Qwen3NextConfig``).
    """
    layers = fields["num_layers"]
    kinds = _layer_types(config, reader, layers)
    if kinds is None:
        interval = reader.int("full_attention_interval", default=4)
        if interval < 1:
            raise ConfigError(f"{reader.name}: full_attention_interval must be at least 1, got {interval}")
        kinds = ["full_attention" if (i + 1) % interval == 0 else "linear_attention" for i in range(layers)]
    fields["linear_attention_layers"] = sum(1 for kind in kinds if kind == "linear_attention")
    if not fields["linear_attention_layers"]:
        return
    fields["linear_num_key_heads"] = reader.int("linear_num_key_heads")
    fields["linear_num_value_heads"] = reader.int("linear_num_value_heads")
    fields["linear_key_head_dim"] = reader.int("linear_key_head_dim")
    fields["linear_value_head_dim"] = reader.int("linear_value_head_dim")
    fields["linear_conv_kernel_dim"] = reader.int("linear_conv_kernel_dim")
    fields["linear_state_bits"] = _state_bits(config, reader, "mamba_ssm_dtype", 16)


def _lfm2(config: dict, reader: _Reader, fields: dict[str, Any]) -> None:
    """LFM2: which layers are short convolutions, and its MLP width.

    ``layer_types`` names each layer (else ``full_attn_idxs`` lists the attention layers, else all
    attend: ``Lfm2Config``). With ``block_auto_adjust_ff_dim`` (default true) ``Lfm2MLP`` takes
    two thirds of ``intermediate_size``, times ``block_ffn_dim_multiplier``, rounded up to a
    multiple of ``block_multiple_of`` (256).
    """
    layers = fields["num_layers"]
    kinds = _layer_types(config, reader, layers)
    if kinds is None:
        attention = _layer_list(config, reader, "full_attn_idxs", layers)
        kinds = ["full_attention" if attention is None or i in attention else "conv" for i in range(layers)]
    fields["short_conv_layers"] = sum(1 for kind in kinds if kind == "conv")
    fields["short_conv_kernel_dim"] = reader.int("conv_L_cache", default=3)
    fields["short_conv_bias"] = reader.bool("conv_bias", default=False)
    width = reader.int("intermediate_size", "block_ff_dim")
    if reader.bool("block_auto_adjust_ff_dim", default=True):
        width = int(2 * width / 3)
        multiplier = config.get("block_ffn_dim_multiplier", 1.0)
        if multiplier is not None:
            if isinstance(multiplier, bool) or not isinstance(multiplier, int | float) or not 0 < multiplier <= 100:
                raise ConfigError(f"{reader.name}: block_ffn_dim_multiplier must be a positive number")
            multiple = reader.int("block_multiple_of", default=256)
            if multiple < 1:
                raise ConfigError(f"{reader.name}: block_multiple_of must be at least 1")
            width = int(multiplier * width)
            width = multiple * ((width + multiple - 1) // multiple)
    fields["intermediate_size"] = width


NEMOTRON_H_BLOCKS = {"M": "mamba", "*": "attention", "-": "mlp", "E": "moe"}
"""Characters of Nemotron-H's ``hybrid_override_pattern``, one per layer (``NemotronHConfig``):
a Mamba-2 block, an attention block, a plain MLP block or a MoE block."""

NEMOTRON_H_BLOCK_TYPES = {"linear_attention": "mamba", "full_attention": "attention", "mlp": "mlp", "moe": "moe"}
"""The same blocks as spelled in ``layers_block_type`` (transformers 5's ``NemotronHConfig``)."""

GRANITE_LAYER_TYPES = {
    "mamba": "mamba",
    "linear_attention": "mamba",
    "attention": "attention",
    "full_attention": "attention",
}
"""Entries of a Granite 4 ``layer_types`` (``layers_block_type``): the legacy "mamba"/"attention"
and transformers 5's names for them (``remap_legacy_layer_types``)."""


NEMOTRON_H_SSM_STATE_BITS = 32
"""Nemotron-H's SSM state when its config names no ``mamba_ssm_cache_dtype``: float32, the default
of transformers' ``NemotronHConfig.mamba_ssm_cache_dtype`` and of vLLM's
``NemotronHForCausalLMConfig.DEFAULT_MAMBA_SSM_CACHE_DTYPE`` ("Only float32 is known to have no
accuracy issues", ``vllm/model_executor/models/config.py``). [bits/element]"""


def _state_space_hybrid(config: dict, reader: _Reader, fields: dict[str, Any], model_type: str) -> None:
    """Jamba, Falcon-H1, Nemotron-H and Granite 4: which layers are Mamba, attention, MLP or MoE,
    and the size of their Mamba blocks (``llm_calc.architecture.mamba_params_per_layer``).

    Each family spells its layout differently: Jamba by periods and offsets (``attn_layer_period``
    / ``attn_layer_offset``, ``expert_layer_period`` / ``expert_layer_offset``), Falcon-H1 not at
    all (Mamba beside attention in every layer), Nemotron-H by ``hybrid_override_pattern`` or
    ``layers_block_type``, Granite 4 by ``layer_types`` (all Mamba when absent, as
    ``GraniteMoeHybridConfig`` defaults).
    """
    if config.get("sliding_window") is not None:
        raise ConfigError(f"{reader.name}: a sliding window in a {model_type} model is not modelled")
    layers = fields["num_layers"]
    if model_type == "jamba":
        _jamba(reader, fields, layers)
    elif model_type == "falcon_h1":
        _falcon_h1(config, reader, fields, layers)
    elif model_type == "nemotron_h":
        _nemotron_h(config, reader, fields)
    else:
        _granite_hybrid(config, reader, fields, layers)
    if fields.get("mamba_layers"):
        default = NEMOTRON_H_SSM_STATE_BITS if model_type == "nemotron_h" else DEFAULT_MAMBA_STATE_BITS
        fields["mamba_state_bits"] = _state_bits(config, reader, "mamba_ssm_cache_dtype", default)


def _state_bits(config: dict, reader: _Reader, key: str, default: int) -> int:
    """Bits per element of a recurrent state whose dtype the config names under ``key``
    (``STATE_DTYPE_BITS``), ``default`` when it names none. Raises ``ConfigError`` for any other
    value, a list or a number included (a hostile config must get a message, not a TypeError)."""
    dtype = config.get(key)
    if dtype is None:
        return default
    if not isinstance(dtype, str) or dtype not in STATE_DTYPE_BITS:
        raise ConfigError(f"{reader.name}: {key} {str(dtype)[:40]!r} is not modelled")
    return STATE_DTYPE_BITS[dtype]


def _period_layers(reader: _Reader, layers: int, period_key: str, offset_key: str, period: int, offset: int) -> int:
    """How many of ``layers`` layers satisfy ``i % period == offset`` (``JambaConfig``)."""
    period = reader.int(period_key, default=period)
    offset = reader.int(offset_key, default=offset)
    if not 0 <= offset < period:
        raise ConfigError(f"{reader.name}: {offset_key} must be smaller than {period_key} (at least 1)")
    return sum(1 for i in range(layers) if i % period == offset)


def _jamba(reader: _Reader, fields: dict[str, Any], layers: int) -> None:
    """``JambaConfig``: layer i attends if ``i % attn_layer_period == attn_layer_offset`` (8, 4),
    else runs ``JambaMambaMixer`` (Mamba-1, inner width ``mamba_expand x hidden``, ``mamba_dt_rank``
    "auto" = ceil(hidden / 16)); its MLP is a MoE of ``num_experts`` if ``i % expert_layer_period ==
    expert_layer_offset`` (2, 1), else a gated MLP of ``intermediate_size`` (also when num_experts is 1)."""
    hidden = fields["hidden_size"]
    attention = _period_layers(reader, layers, "attn_layer_period", "attn_layer_offset", 8, 4)
    moe = _period_layers(reader, layers, "expert_layer_period", "expert_layer_offset", 2, 1)
    if fields.get("num_experts", 0) > 1 and moe:
        fields["dense_layers"] = layers - moe
    else:
        for key in ("num_experts", "experts_per_token", "moe_intermediate_size", "shared_experts", "dense_layers"):
            fields.pop(key, None)
    rank = reader.config.get("mamba_dt_rank", "auto")
    fields.update(
        mamba_layers=layers - attention,
        mamba_version=1,
        mamba_intermediate_size=reader.int("mamba_expand", default=2) * hidden,
        mamba_state_size=reader.int("mamba_d_state", default=16),
        mamba_conv_kernel=reader.int("mamba_d_conv", default=4),
        mamba_dt_rank=math.ceil(hidden / 16) if rank == "auto" else reader.int("mamba_dt_rank"),
        mamba_conv_bias=reader.bool("mamba_conv_bias", default=True),
        mamba_in_proj_bias=reader.bool("mamba_proj_bias", default=False),
        mamba_out_proj_bias=reader.bool("mamba_proj_bias", default=False),
    )


def _mamba2_heads(reader: _Reader, inner: int) -> tuple[int, int]:
    """(heads, head size) of a Mamba-2 block of ``inner`` width: ``mamba_n_heads`` and
    ``mamba_d_head`` ("auto": inner // heads, as ``FalconH1Config`` / ``GraniteMoeHybridConfig``)."""
    heads = reader.int("mamba_n_heads", default=128)
    head = reader.config.get("mamba_d_head", "auto")
    head_dim = inner // heads if head == "auto" and heads else reader.int("mamba_d_head")
    if heads * head_dim != inner:
        raise ConfigError(f"{reader.name}: mamba_n_heads x mamba_d_head must equal the Mamba width {inner}")
    return heads, head_dim


FALCON_H1_DEFAULT_MAMBA_D_SSM = 1024
"""``FalconH1Config.mamba_d_ssm`` when a config leaves the key out (transformers 5.17). [channels]"""


def _falcon_h1(config: dict, reader: _Reader, fields: dict[str, Any], layers: int) -> None:
    """``FalconH1DecoderLayer``: ``FalconH1Mixer`` (Mamba-2 of ``mamba_d_ssm`` width, else
    ``mamba_expand x hidden``; its gated RMSNorm only with ``mamba_rms_norm``; ``in_proj`` biased by
    ``mamba_proj_bias``, ``out_proj`` by ``projectors_bias``) beside attention (biases:
    ``attention_bias``) in every layer, then a gated MLP (biases: ``mlp_bias``)."""
    if config.get("attn_layer_indices") is not None:
        raise ConfigError(f"{reader.name}: Falcon-H1 with attn_layer_indices is not modelled")
    hidden = fields["hidden_size"]
    if "mamba_d_ssm" in config and config["mamba_d_ssm"] is None:  # FalconH1Config: null means expand x hidden
        inner = reader.int("mamba_expand", default=2) * hidden
    else:  # absent: the class default
        inner = reader.int("mamba_d_ssm", default=FALCON_H1_DEFAULT_MAMBA_D_SSM)
    heads, head_dim = _mamba2_heads(reader, inner)
    fields["qkv_bias"] = fields["o_bias"] = reader.bool("attention_bias", default=False)
    fields["mlp_bias"] = reader.bool("mlp_bias", default=False)
    fields.update(
        mamba_layers=layers,
        mamba_parallel=True,
        mamba_intermediate_size=inner,
        mamba_num_heads=heads,
        mamba_head_dim=head_dim,
        **_mamba_prefixed_keys(reader, out_proj_bias_key="projectors_bias"),
        mamba_gated_norm=reader.bool("mamba_rms_norm", default=False),
    )


def _nemotron_h(config: dict, reader: _Reader, fields: dict[str, Any]) -> None:
    """``NemotronHForCausalLM``: one block per layer, named by ``hybrid_override_pattern`` (or
    ``layers_block_type``). Mamba-2 blocks of ``mamba_num_heads x mamba_head_dim`` (biases:
    ``use_bias``, conv bias ``use_conv_bias``), bias-free attention, relu² MLPs (up and down) of
    ``intermediate_size``; MoE blocks of non-gated experts of ``moe_intermediate_size``, one shared
    expert of ``moe_shared_expert_intermediate_size`` and a bias-free router."""
    blocks = _nemotron_h_blocks(config, reader)
    if reader.int("num_hidden_layers", default=len(blocks)) != len(blocks):
        raise ConfigError(f"{reader.name}: hybrid_override_pattern has {len(blocks)} layers, num_hidden_layers differs")
    if reader.bool("mlp_bias", default=False) or config.get("moe_latent_size") is not None:
        raise ConfigError(f"{reader.name}: Nemotron-H with mlp_bias or moe_latent_size is not modelled")
    count = {kind: blocks.count(kind) for kind in ("mamba", "attention", "mlp", "moe")}
    fields["qkv_bias"] = fields["o_bias"] = fields["mlp_bias"] = False
    if count["moe"]:
        if not fields.get("num_experts"):
            raise ConfigError(f"{reader.name}: moe blocks need n_routed_experts")
        # NemotronHMoE builds exactly one shared MLP whatever n_shared_experts says
        fields["shared_experts"] = 1
        fields["shared_expert_intermediate_size"] = reader.int("moe_shared_expert_intermediate_size")
        fields["dense_layers"] = count["mlp"]
    else:
        for key in ("num_experts", "experts_per_token", "moe_intermediate_size", "shared_experts", "dense_layers"):
            fields.pop(key, None)
    heads = reader.int("mamba_num_heads", default=128)
    head_dim = reader.int("mamba_head_dim", default=64)
    fields.update(
        num_layers=len(blocks),
        mamba_layers=count["mamba"],
        mixer_free_layers=count["mlp"] + count["moe"],
        mlp_free_layers=count["mamba"] + count["attention"],
        mamba_intermediate_size=heads * head_dim,
        mamba_num_heads=heads,
        mamba_head_dim=head_dim,
        mamba_n_groups=reader.int("n_groups", "mamba_n_groups", default=8),
        mamba_state_size=reader.int("ssm_state_size", default=128),
        mamba_conv_kernel=reader.int("conv_kernel", "mamba_d_conv", default=4),
        mamba_conv_bias=reader.bool("use_conv_bias", "mamba_conv_bias", default=True),
        mamba_in_proj_bias=reader.bool("use_bias", default=False),
        mamba_out_proj_bias=reader.bool("use_bias", default=False),
    )


def _mamba_prefixed_keys(reader: _Reader, out_proj_bias_key: str) -> dict[str, Any]:
    """The Mamba-2 settings Falcon-H1 and Granite 4 spell alike (``mamba_n_groups``, ``mamba_d_state``,
    ``mamba_d_conv``, ``mamba_conv_bias``, ``mamba_proj_bias``), with the defaults of their
    transformers configs; the output projection's bias key is the family's own."""
    return {
        "mamba_n_groups": reader.int("mamba_n_groups", default=1),
        "mamba_state_size": reader.int("mamba_d_state", default=256),
        "mamba_conv_kernel": reader.int("mamba_d_conv", default=4),
        "mamba_conv_bias": reader.bool("mamba_conv_bias", default=True),
        "mamba_in_proj_bias": reader.bool("mamba_proj_bias", default=False),
        "mamba_out_proj_bias": reader.bool(out_proj_bias_key, default=False),
    }


def _nemotron_h_blocks(config: dict, reader: _Reader) -> list[str]:
    """Nemotron-H's blocks from ``layers_block_type`` (a list) or ``hybrid_override_pattern``."""
    listed = config.get("layers_block_type")
    if listed is not None:
        if (
            not isinstance(listed, list)
            or not listed
            or any(not isinstance(k, str) or k not in NEMOTRON_H_BLOCK_TYPES for k in listed)
        ):
            raise ConfigError(
                f"{reader.name}: layers_block_type must list the blocks, each one of "
                f"{', '.join(NEMOTRON_H_BLOCK_TYPES)}"
            )
        return [NEMOTRON_H_BLOCK_TYPES[k] for k in listed]
    pattern = config.get("hybrid_override_pattern")
    if not isinstance(pattern, str) or not pattern or any(c not in NEMOTRON_H_BLOCKS for c in pattern):
        raise ConfigError(
            f"{reader.name}: hybrid_override_pattern must name each layer with one of {''.join(NEMOTRON_H_BLOCKS)}"
        )
    return [NEMOTRON_H_BLOCKS[c] for c in pattern]


def _granite_hybrid(config: dict, reader: _Reader, fields: dict[str, Any], layers: int) -> None:
    """``GraniteMoeHybridDecoderLayer``: Mamba-2 (``mamba_expand x hidden`` wide, biases
    ``mamba_proj_bias``, conv bias ``mamba_conv_bias``) or attention (biases: ``attention_bias``),
    then a MoE of gated experts of ``intermediate_size`` (if ``num_local_experts`` > 0) and always a
    gated shared MLP of ``shared_intermediate_size``."""
    value = config.get("layer_types", config.get("layers_block_type"))
    if value is None:
        kinds = ["mamba"] * layers
    elif isinstance(value, list) and len(value) == layers and all(k in GRANITE_LAYER_TYPES for k in value):
        kinds = [GRANITE_LAYER_TYPES[k] for k in value]
    else:
        raise ConfigError(
            f"{reader.name}: layer_types must name each of the {layers} layers with one of "
            f"{', '.join(GRANITE_LAYER_TYPES)}"
        )
    shared = reader.int("shared_intermediate_size", default=1024)
    fields["qkv_bias"] = fields["o_bias"] = reader.bool("attention_bias", default=False)
    fields["mlp_bias"] = False
    if fields.get("num_experts"):
        fields["moe_intermediate_size"] = fields["intermediate_size"]
        fields["shared_experts"] = 1
        fields["shared_expert_intermediate_size"] = shared
        fields["dense_layers"] = 0
    fields["intermediate_size"] = shared
    hidden = fields["hidden_size"]
    inner = reader.int("mamba_expand", default=2) * hidden
    heads, head_dim = _mamba2_heads(reader, inner)
    fields.update(
        mamba_layers=kinds.count("mamba"),
        mamba_intermediate_size=inner,
        mamba_num_heads=heads,
        mamba_head_dim=head_dim,
        **_mamba_prefixed_keys(reader, out_proj_bias_key="mamba_proj_bias"),
    )


def _latent_attention(reader: _Reader, fields: dict[str, Any]) -> None:
    rank = reader.int("kv_lora_rank", default=0)
    if not rank:
        return
    fields["kv_lora_rank"] = rank
    fields["head_dim"] = reader.int("v_head_dim", default=fields["head_dim"])  # unused by MLA maths
    fields["q_lora_rank"] = reader.int("q_lora_rank", default=0)
    fields["qk_rope_head_dim"] = reader.int("qk_rope_head_dim", default=0)
    fields["qk_nope_head_dim"] = reader.int("qk_nope_head_dim", default=0)
    fields["v_head_dim"] = reader.int("v_head_dim", default=0)


GEMMA4_SLIDING_PATTERN = 6
"""Without ``layer_types`` every sixth Gemma 4 layer attends globally (``Gemma4TextConfig``: "by default 5:1")."""


def _gemma4(config: dict, reader: _Reader, fields: dict[str, Any]) -> None:
    """Gemma 4's language model (transformers' ``Gemma4TextModel``).

    Its ``full_attention`` layers are global: ``global_head_dim`` (default 512) for queries and keys,
    and with ``attention_k_eq_v`` ``num_global_key_value_heads`` key heads whose projection also
    gives the values. With ``enable_moe_block`` every layer runs ``num_experts`` experts of
    ``moe_intermediate_size`` (``top_k_experts`` per token) beside its dense MLP of
    ``intermediate_size`` (sized as a shared expert: always active), a router with two scales, and
    three more norms. Refused, naming the key: per-layer input embeddings
    (``hidden_size_per_layer_input``, Gemma 4 E2B/E4B), KV sharing across layers
    (``num_kv_shared_layers``), bidirectional attention everywhere, a last layer that is not global
    (transformers would silently make it global), and a ``per_layer_config`` of its own.
    """
    name = reader.name
    if reader.int("hidden_size_per_layer_input", default=256):
        raise ConfigError(f"{name}: Gemma 4 per-layer input embeddings (hidden_size_per_layer_input) are not modelled")
    if reader.int("num_kv_shared_layers", default=0):
        raise ConfigError(f"{name}: Gemma 4 KV sharing across layers (num_kv_shared_layers) is not modelled")
    if config.get("use_bidirectional_attention") == "all":
        raise ConfigError(f"{name}: use_bidirectional_attention 'all' (an encoder) is not modelled")
    if "per_layer_config" in config:
        raise ConfigError(f"{name}: a Gemma 4 per_layer_config is not modelled")
    layers = fields["num_layers"]
    kinds = _layer_types(config, reader, layers)
    if kinds is None:
        kinds = ["sliding_attention" if (i + 1) % GEMMA4_SLIDING_PATTERN else "full_attention" for i in range(layers)]
    if any(kind not in ("sliding_attention", "full_attention") for kind in kinds):
        raise ConfigError(f"{name}: Gemma 4 layers other than sliding_attention and full_attention are not modelled")
    if kinds[-1] != "full_attention":
        raise ConfigError(f"{name}: a Gemma 4 config whose last layer is not full_attention is not modelled")
    k_eq_v = reader.bool("attention_k_eq_v", default=False)
    global_kv = reader.int("num_global_key_value_heads", default=0) if k_eq_v else 0
    fields["global_attention_layers"] = kinds.count("full_attention")
    fields["global_head_dim"] = reader.int("global_head_dim")
    fields["global_kv_heads"] = global_kv or fields["num_kv_heads"]
    fields["global_k_eq_v"] = k_eq_v
    for key in ("num_experts", "experts_per_token", "moe_intermediate_size", "shared_experts", "dense_layers"):
        fields.pop(key, None)  # _moe read generic keys; Gemma 4 states its experts its own way
    if not reader.bool("enable_moe_block", default=False):
        return
    fields["num_experts"] = reader.int("num_experts")
    fields["experts_per_token"] = reader.int("top_k_experts")
    fields["moe_intermediate_size"] = reader.int("moe_intermediate_size")
    fields["shared_experts"] = 1
    fields["shared_expert_intermediate_size"] = fields["intermediate_size"]
    fields["router_scales"] = True
    fields["norms_per_layer"] = 7


def _sparse_attention_indexer(reader: _Reader, fields: dict[str, Any]) -> None:
    """DeepSeek Sparse Attention (DeepSeek-V3.2, GLM-5): the indexer's heads and head size. The
    indexer only selects which cached tokens each query attends to (``index_topk``); the MLA cache
    itself still holds every token."""
    fields["index_n_heads"] = reader.int("index_n_heads")
    fields["index_head_dim"] = reader.int("index_head_dim")


MINIMAX_M2_QK_NORM_TYPES = ("per_layer",)
"""``qk_norm_type`` values of MiniMax-M2 we size: one RMSNorm over all query heads and one over all key
heads per layer (``MiniMaxM2Attention``'s ``q_norm``/``k_norm``)."""


def _minimax_m2(config: dict, reader: _Reader) -> None:
    """Refuse the MiniMax-M2 options transformers' ``MiniMaxM2ForCausalLM`` does not build: a shared
    expert, attention without q/k norms or with another norm layout. Its ``use_routing_bias`` is a
    buffer (``e_score_correction_bias``), not a parameter; its multi-token-prediction modules
    (``num_mtp_modules``) are not part of the model transformers builds and are not counted."""
    if reader.int("shared_intermediate_size", default=0):
        raise ConfigError(f"{reader.name}: a MiniMax-M2 shared expert (shared_intermediate_size) is not modelled")
    if not reader.bool("use_qk_norm", default=True):
        raise ConfigError(f"{reader.name}: MiniMax-M2 without q/k norms (use_qk_norm false) is not modelled")
    kind = config.get("qk_norm_type", "per_layer")
    if kind not in MINIMAX_M2_QK_NORM_TYPES:
        raise ConfigError(f"{reader.name}: qk_norm_type {str(kind)[:40]!r} is not modelled; known: per_layer")


def _sliding_window(config: dict, reader: _Reader, fields: dict[str, Any], model_type: str) -> None:
    if model_type == "llama4_text":
        _chunked_attention(config, reader, fields)
        return
    window = reader.int("sliding_window", default=0)
    if not window or config.get("use_sliding_window") is False:
        return
    layers = fields["num_layers"]
    layer_types = config.get("layer_types")
    if isinstance(layer_types, list) and len(layer_types) == layers:
        sliding = sum(1 for kind in layer_types if kind == "sliding_attention")
    elif model_type in ("exaone4", "exaone4_5_text"):  # without layer_types Exaone4Config refuses to guess
        raise ConfigError(f"{reader.name}: an exaone4 config with a sliding window needs layer_types")
    elif model_type == "gemma2":
        sliding = layers // 2  # even layers slide, odd layers attend globally
    elif model_type == "gemma4_text":  # _gemma4 counted the full-attention (global) layers
        sliding = layers - fields["global_attention_layers"]
    elif model_type == "gemma3_text":
        pattern = reader.int("sliding_window_pattern", default=6)
        sliding = layers - layers // pattern
    else:
        sliding = layers
    if window < fields["max_context"] and sliding:
        fields["sliding_window"] = window
        fields["sliding_window_layers"] = sliding


def _chunked_attention(config: dict, reader: _Reader, fields: dict[str, Any]) -> None:
    """Llama 4's RoPE layers attend within chunks of ``attention_chunk_size`` tokens, so their cache
    holds at most one chunk: counted as a sliding window of that size (as vLLM allocates it).
    ``no_rope_layers`` marks them with 1; unset, every fourth layer is a global NoPE layer."""
    chunk = reader.int("attention_chunk_size", default=0)
    layers = fields["num_layers"]
    flags = _layer_list(config, reader, "no_rope_layers", 2)
    if flags is None:
        flags = [int((i + 1) % 4 != 0) for i in range(layers)]
    elif len(flags) != layers:
        raise ConfigError(f"{reader.name}: no_rope_layers has {len(flags)} entries for {layers} layers")
    chunked = sum(flags)
    if chunk and chunk < fields["max_context"] and chunked:
        fields["sliding_window"] = chunk
        fields["sliding_window_layers"] = chunked


class _Reader:
    """Typed access to config keys, trying aliases in order, with errors that name the key."""

    def __init__(self, config: dict, name: str) -> None:
        self.config, self.name = config, name

    def _first(self, keys: tuple[str, ...]) -> tuple[str, Any] | None:
        for key in keys:
            if self.config.get(key) is not None:
                return key, self.config[key]
        return None

    def int(self, *keys: str, default: int | None = None, limit: int = MAX_DIMENSION) -> int:
        found = self._first(keys)
        if found is None:
            if default is None:
                raise ConfigError(f"{self.name} has no {' / '.join(keys)}; is it a decoder LLM config?")
            return default
        key, value = found
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{self.name}: {key} must be a whole number, got {value!r:.60}")
        if value < 0:
            raise ConfigError(f"{self.name}: {key} must not be negative, got {shown_value(value)}")
        if value > limit:
            raise ConfigError(f"{self.name}: {key} must be at most {limit:,}, got {shown_value(value)}")
        return value

    def bool(self, *keys: str, default: bool) -> bool:
        found = self._first(keys)
        if found is None:
            return default
        key, value = found
        if not isinstance(value, bool):
            raise ConfigError(f"{self.name}: {key} must be true or false, got {value!r:.60}")
        return value


# --- vision towers of multimodal wrappers ---------------------------------------------------

VISION_WRAPPERS = ("gemma3", "mistral3", "qwen3_5", "llama4", "qwen3_5_moe", "gemma4", "exaone4_5", "lfm2_vl")
"""Multimodal ``model_type`` values whose vision tower and projector ``count_vision_parameters``
sizes (SigLIP + Gemma 3's projector, Pixtral + Mistral 3's patch merger and projector, Qwen3.5's
vision transformer with its merger (dense and MoE wrappers alike), Llama 4's vision encoder,
pixel-shuffle adapter and projector, Gemma 4's and EXAONE 4.5's vision encoders and projectors,
SigLIP2 NaFlex + LFM2-VL's pixel-unshuffle projector); each checked against transformers'
meta-device build of the whole model in ``tests/test_param_oracle.py``."""

DEFAULT_IMAGE_CHANNELS = 3
"""Colour channels of an image (RGB): the ``num_channels``/``in_channels`` default of
``SiglipVisionConfig``, ``PixtralVisionConfig`` and ``Qwen3_5VisionConfig``."""


def parse_vision_parameters_text(text: str | bytes, name: str = "uploaded config") -> int:
    """``count_vision_parameters`` of the text of a ``config.json``. Raises :class:`ConfigError`."""
    return count_vision_parameters(load_config_json(text, name), name)


def count_vision_parameters(config: Any, name: str = "uploaded config") -> int:
    """Parameters of a multimodal model's vision tower and its projector into the language model.

    Counted apart from ``count_parameters(spec)`` (the language model, which ``spec_from_config``
    reads from the ``text_config``): the whole checkpoint holds both. 0 for a config without a
    ``vision_config``; a vision tower of another kind raises :class:`ConfigError` naming it.
    """
    if not isinstance(config, dict):
        raise ConfigError(f"{name} must be a JSON object, got {type(config).__name__}")
    vision = config.get("vision_config")
    if vision is None:
        return 0
    wrapper = str(config.get("model_type", ""))
    if not isinstance(vision, dict) or wrapper not in VISION_WRAPPERS:
        shown = re.sub(r"[^A-Za-z0-9._-]", "", wrapper)[:60]
        raise ConfigError(
            f"{name}: the vision tower of model_type {shown!r} is not modelled; supported: {', '.join(VISION_WRAPPERS)}"
        )
    text = config.get("text_config") if isinstance(config.get("text_config"), dict) else {}
    if wrapper in ("gemma3", "llama4", "gemma4"):  # their text_config may leave the width to the config class
        text = {**CONFIG_DEFAULTS[f"{wrapper}_text"], **text}
    text_hidden = _Reader(text, f"{name} text_config").int("hidden_size")
    reader = _Reader(vision, f"{name} vision_config")
    if wrapper == "gemma3":
        return _siglip_parameters(reader) + _gemma3_projector(reader, text_hidden)
    if wrapper == "mistral3":
        return _pixtral_parameters(reader) + _mistral3_projector(config, reader, text_hidden, name)
    if wrapper == "llama4":
        return _llama4_vision_parameters(reader, text_hidden)
    if wrapper == "exaone4_5":
        return _exaone4_5_vision_parameters(reader)
    if wrapper == "gemma4":
        if config.get("audio_config") is not None:
            raise ConfigError(f"{name}: the audio tower of a Gemma 4 config (audio_config) is not modelled")
        return _gemma4_vision_parameters(reader, text_hidden)
    if wrapper == "lfm2_vl":
        return _siglip2_parameters(reader) + _lfm2_vl_projector(config, reader, text_hidden, name)
    return _qwen3_5_vision_parameters(reader)  # qwen3_5 and qwen3_5_moe: the same vision transformer


def _siglip_parameters(reader: _Reader) -> int:
    """``SiglipVisionModel`` without its pooling head: a patch convolution with bias, learned
    positions (one per patch of the square image), pre-norm layers (two LayerNorms, biased Q/K/V/O,
    a plain two-matrix MLP with biases) and a final LayerNorm."""
    if reader.bool("vision_use_head", default=True):
        raise ConfigError(f"{reader.name}: a SigLIP tower with its pooling head (vision_use_head) is not modelled")
    h, inner = reader.int("hidden_size"), reader.int("intermediate_size")
    patch, image = reader.int("patch_size"), reader.int("image_size")
    channels = reader.int("num_channels", default=DEFAULT_IMAGE_CHANNELS)
    if not patch or image % patch:
        raise ConfigError(f"{reader.name}: image_size must be a whole number of patch_size")
    embeddings = channels * patch * patch * h + h + (image // patch) ** 2 * h
    layer = 2 * 2 * h + 4 * (h * h + h) + (h * inner + inner) + (inner * h + h)
    return embeddings + reader.int("num_hidden_layers") * layer + 2 * h


def _siglip2_parameters(reader: _Reader) -> int:
    """``Siglip2VisionModel`` (NaFlex) without its pooling head: patches flattened through one biased
    linear layer, ``num_patches`` learned positions, the SigLIP layers and a final LayerNorm."""
    if reader.bool("vision_use_head", default=True):
        raise ConfigError(f"{reader.name}: a SigLIP2 tower with its pooling head (vision_use_head) is not modelled")
    h, inner, patch = reader.int("hidden_size"), reader.int("intermediate_size"), reader.int("patch_size")
    channels = reader.int("num_channels", default=DEFAULT_IMAGE_CHANNELS)
    embeddings = channels * patch * patch * h + h + reader.int("num_patches") * h
    layer = 2 * 2 * h + 4 * (h * h + h) + (h * inner + inner) + (inner * h + h)
    return embeddings + reader.int("num_hidden_layers") * layer + 2 * h


def _lfm2_vl_projector(config: dict, reader: _Reader, text_hidden: int, name: str) -> int:
    """``Lfm2VlMultiModalProjector``: ``downsample_factor``² patches unshuffled into one, an optional
    LayerNorm, then two linear layers (biases if ``projector_bias``) through ``projector_hidden_size``."""
    top = _Reader(config, name)
    merged = reader.int("hidden_size") * top.int("downsample_factor", default=2) ** 2
    width = top.int("projector_hidden_size", default=2560)
    bias = top.bool("projector_bias", default=True)
    norm = 2 * merged if top.bool("projector_use_layernorm", default=True) else 0
    return norm + merged * width + (width if bias else 0) + width * text_hidden + (text_hidden if bias else 0)


def _gemma3_projector(reader: _Reader, text_hidden: int) -> int:
    """``Gemma3MultiModalProjector``: an RMSNorm over the vision width and one vision→text matrix."""
    h = reader.int("hidden_size")
    return h * text_hidden + h


def _pixtral_parameters(reader: _Reader) -> int:
    """``PixtralVisionModel``: a patch convolution without bias, an RMSNorm, then layers of two
    RMSNorms, bias-free Q/K/V/O of the hidden width and a gated MLP."""
    h, inner = reader.int("hidden_size"), reader.int("intermediate_size")
    patch = reader.int("patch_size")
    channels = reader.int("num_channels", default=DEFAULT_IMAGE_CHANNELS)
    layer = 2 * h + 4 * h * h + 3 * h * inner
    return channels * patch * patch * h + h + reader.int("num_hidden_layers") * layer


def _mistral3_projector(config: dict, reader: _Reader, text_hidden: int, name: str) -> int:
    """``Mistral3MultiModalProjector``: an RMSNorm, the patch merger (``spatial_merge_size``² patches
    to one) and two linear layers into the text width, with biases if ``multimodal_projector_bias``."""
    h = reader.int("hidden_size")
    top = _Reader(config, name)
    merge = top.int("spatial_merge_size", default=2)
    layers = config.get("vision_feature_layer", -1)
    feature_layers = len(layers) if isinstance(layers, list) else 1
    bias = top.bool("multimodal_projector_bias", default=False)
    linear_1 = h * feature_layers * text_hidden + (text_hidden if bias else 0)
    linear_2 = text_hidden * text_hidden + (text_hidden if bias else 0)
    return h + h * merge * merge * h + linear_1 + linear_2


def _qwen3_5_vision_parameters(reader: _Reader) -> int:
    """``Qwen3_5VisionModel``: a 3-D patch convolution with bias (``temporal_patch_size`` frames),
    learned positions, ``depth`` blocks (two LayerNorms, fused biased QKV, biased output, a plain
    MLP with biases) and the patch merger (a LayerNorm, then ``spatial_merge_size``² patches through
    two biased linear layers into ``out_hidden_size``)."""
    h, inner = reader.int("hidden_size"), reader.int("intermediate_size")
    patch, frames = reader.int("patch_size"), reader.int("temporal_patch_size")
    channels = reader.int("in_channels", default=DEFAULT_IMAGE_CHANNELS)
    embeddings = channels * frames * patch * patch * h + h + reader.int("num_position_embeddings") * h
    block = 2 * 2 * h + (h * 3 * h + 3 * h) + (h * h + h) + (h * inner + inner) + (inner * h + h)
    merged = h * reader.int("spatial_merge_size") ** 2
    out = reader.int("out_hidden_size")
    merger = 2 * h + (merged * merged + merged) + (merged * out + out)
    return embeddings + reader.int("depth") * block + merger


def _llama4_vision_parameters(reader: _Reader, text_hidden: int) -> int:
    """``Llama4VisionModel`` and ``Llama4MultiModalProjector``: patches flattened through one
    bias-free linear layer, a class embedding, learned positions (one per patch plus the class
    token), two LayerNorms, pre-norm layers (two LayerNorms, biased Q/K/V/O, a biased two-matrix
    MLP), the pixel-shuffle adapter (``intermediate_size``→``projector_input_dim`` and
    ``projector_output_dim`` squared, no biases) and one bias-free ``vision_output_dim``→text matrix."""
    h, inner = reader.int("hidden_size"), reader.int("intermediate_size")
    patch, image = reader.int("patch_size"), reader.int("image_size")
    heads = reader.int("num_attention_heads")
    channels = reader.int("num_channels", default=DEFAULT_IMAGE_CHANNELS)
    if not patch or not heads or h % heads:
        raise ConfigError(f"{reader.name}: hidden_size must be a whole number of attention heads, patch_size >= 1")
    positions = (image // patch) ** 2 + 1
    embeddings = channels * patch * patch * h + h + positions * h + 2 * 2 * h
    layer = 2 * 2 * h + 4 * (h * h + h) + (h * inner + inner) + (inner * h + h)
    out = reader.int("projector_output_dim")
    adapter = inner * reader.int("projector_input_dim") + out * out
    projector = reader.int("vision_output_dim") * text_hidden
    return embeddings + reader.int("num_hidden_layers") * layer + adapter + projector


GEMMA4_PATCH_CHANNELS = 3
"""Colour channels ``Gemma4VisionPatchEmbedder`` flattens each patch over (fixed in its code: RGB)."""


def _gemma4_vision_parameters(reader: _Reader, text_hidden: int) -> int:
    """``Gemma4VisionModel`` and ``Gemma4MultimodalEmbedder``: patches flattened through one bias-free
    linear layer, two learned position tables (x and y) of ``position_embedding_size``, layers of
    bias-free Q/K/V/O (``num_attention_heads`` / ``num_key_value_heads`` x ``head_dim``), q/k norms
    over a head, a gated MLP and four norms, then one bias-free vision→text matrix (its norm has no
    scale). Clipping bounds and standardisation statistics are buffers, not parameters."""
    if reader.bool("attention_bias", default=False):
        raise ConfigError(f"{reader.name}: a Gemma 4 vision tower with attention biases is not modelled")
    h, inner = reader.int("hidden_size"), reader.int("intermediate_size")
    heads, kv_heads = reader.int("num_attention_heads"), reader.int("num_key_value_heads")
    head_dim = reader.int("head_dim")
    embeddings = (
        GEMMA4_PATCH_CHANNELS * reader.int("patch_size") ** 2 * h + 2 * reader.int("position_embedding_size") * h
    )
    attention = 2 * h * heads * head_dim + 2 * h * kv_heads * head_dim + 2 * head_dim
    layer = attention + 3 * h * inner + 4 * h
    return embeddings + reader.int("num_hidden_layers") * layer + h * text_hidden


def _exaone4_5_vision_parameters(reader: _Reader) -> int:
    """``Exaone4_5_VisionModel`` (Qwen2.5-VL's layout with grouped-query attention): a 3-D patch
    convolution without bias (``temporal_patch_size`` frames), ``depth`` blocks (two RMSNorms, fused
    biased QKV of ``num_heads`` queries and ``num_key_value_heads`` keys and values of
    ``hidden_size / num_heads``, biased output, a gated MLP with biases) and the patch merger (an
    RMSNorm, then ``spatial_merge_size``² patches through two biased linear layers into
    ``out_hidden_size``)."""
    h, inner = reader.int("hidden_size"), reader.int("intermediate_size")
    heads, kv_heads = reader.int("num_heads"), reader.int("num_key_value_heads")
    if not heads or h % heads or not kv_heads or heads % kv_heads:
        raise ConfigError(f"{reader.name}: hidden_size must be a whole number of num_heads, a multiple of the KV heads")
    channels = reader.int("in_channels", default=DEFAULT_IMAGE_CHANNELS)
    patch = channels * reader.int("temporal_patch_size") * reader.int("patch_size") ** 2 * h
    qkv = h + 2 * kv_heads * (h // heads)
    block = 2 * h + (h * qkv + qkv) + (h * h + h) + 2 * (h * inner + inner) + (inner * h + h)
    merged = h * reader.int("spatial_merge_size") ** 2
    out = reader.int("out_hidden_size")
    merger = h + (merged * merged + merged) + (merged * out + out)
    return patch + reader.int("depth") * block + merger
