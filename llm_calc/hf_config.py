"""Read a Hugging Face ``config.json`` into a :class:`~llm_calc.architecture.ModelSpec`.

Configs name the same thing differently by family (``n_embd``, ``d_model``, ``hidden_size``);
defaults differ too (``tie_word_embeddings`` is true unless the model class says otherwise).
Each family's conventions are written once in ``FAMILY_DEFAULTS``. Anything unreadable raises
:class:`ConfigError` (a ``ValueError``) with a sentence a user can act on.

References
----------
.. [1] Hugging Face ``transformers`` configuration classes (``LlamaConfig``, ``FalconConfig``,
       ``MptConfig``, ``Gemma2Config``, ``DeepseekV3Config``, ``GptOssConfig`` ...).
"""

from __future__ import annotations

import json
import re
from typing import Any

from llm_calc.architecture import MAX_DIMENSION, ModelSpec

MAX_CONFIG_BYTES = 1_000_000
"""Real configs are a few KB; anything past 1 MB is not a config."""

FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    # transformers' PretrainedConfig ties embeddings by default; these classes override it.
    "llama": {"tie_embeddings": False},
    "mistral": {"tie_embeddings": False},
    "mixtral": {"tie_embeddings": False},
    "qwen2": {"tie_embeddings": False},
    "qwen3": {"tie_embeddings": False},
    "qwen2_moe": {"tie_embeddings": False},
    "qwen3_moe": {"tie_embeddings": False},
    "phi3": {"tie_embeddings": False},
    "gemma": {"tie_embeddings": True},
    "gemma2": {"tie_embeddings": True, "norms_per_layer": 4},
    "gemma3_text": {"tie_embeddings": True, "norms_per_layer": 4},
    "deepseek_v2": {"tie_embeddings": False},
    "deepseek_v3": {"tie_embeddings": False},
    "gpt_oss": {"tie_embeddings": False, "qkv_bias": True, "o_bias": True, "mlp_bias": True},
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
    "gpt_neox": {
        "tie_embeddings": False,
        "gated_mlp": False,
        "norm": "layernorm",
        "qkv_bias": True,
        "o_bias": True,
        "mlp_bias": True,
    },
}


class ConfigError(ValueError):
    """A config.json that cannot describe a model we can size."""


def parse_config_text(text: str | bytes, name: str = "uploaded config") -> ModelSpec:
    """Parse the text of a ``config.json``. Raises :class:`ConfigError` on any problem."""
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
    return spec_from_config(config, name)


def spec_from_config(config: Any, name: str = "uploaded config") -> ModelSpec:
    """Build a spec from a parsed ``config.json`` dictionary."""
    if not isinstance(config, dict):
        raise ConfigError(f"{name} must be a JSON object, got {type(config).__name__}")
    if isinstance(config.get("text_config"), dict):  # multimodal wrappers (Gemma 3, Llama 4)
        config = {**config, **config["text_config"]}
    model_type = str(config.get("model_type", ""))
    family = FAMILY_DEFAULTS.get(model_type, {})
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
        ),
        "gated_mlp": family.get("gated_mlp", True),
        "tie_embeddings": reader.bool("tie_word_embeddings", default=family.get("tie_embeddings", True)),
        "qkv_bias": reader.bool("attention_bias", "qkv_bias", "bias", default=family.get("qkv_bias", False)),
        "norm": family.get("norm", "rmsnorm"),
        "norms_per_layer": family.get("norms_per_layer", 2),
    }
    fields["o_bias"] = family.get("o_bias", fields["qkv_bias"] and model_type == "falcon")
    fields["mlp_bias"] = reader.bool("mlp_bias", default=family.get("mlp_bias", False))
    if model_type == "qwen2":  # Qwen2 has q/k/v biases and no o bias, not stated in the config
        fields["qkv_bias"], fields["o_bias"] = True, False

    head_dim = reader.int("head_dim", default=0) or (hidden // heads if heads else 0)
    kv_heads = reader.int("num_key_value_heads", "num_kv_heads", "n_head_kv", default=heads)
    intermediate = reader.int("intermediate_size", "ffn_hidden_size", "n_inner", default=0)
    if model_type == "falcon":
        _falcon(config, reader, fields)
        kv_heads = fields.pop("num_kv_heads")
    elif model_type == "mpt":
        attn = config.get("attn_config") if isinstance(config.get("attn_config"), dict) else {}
        kv_heads = _Reader(attn, name).int("kv_n_heads", default=heads)
        intermediate = hidden * reader.int("expansion_ratio", default=4)
        fields["tie_embeddings"] = True
        fields["qkv_bias"] = fields["o_bias"] = fields["mlp_bias"] = not reader.bool("no_bias", default=True)
        fields["norm"] = "layernorm_nobias" if reader.bool("no_bias", default=True) else "layernorm"
    elif model_type in ("gpt2", "gpt_bigcode"):
        fields["learned_positions"] = fields["max_context"]
        if model_type == "gpt_bigcode" and reader.bool("multi_query", default=True):
            kv_heads = 1
    fields["head_dim"] = head_dim
    fields["num_kv_heads"] = kv_heads
    fields["intermediate_size"] = intermediate or 4 * hidden

    _moe(reader, fields)
    _latent_attention(reader, fields)
    _sliding_window(config, reader, fields, model_type)
    try:
        return ModelSpec(**fields)
    except ValueError as error:
        raise ConfigError(f"{name}: {error}") from None


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
        fields["norms_per_layer"] = 2  # ln_attn and ln_mlp
    else:
        multi_query = reader.bool("multi_query", default=True)
        fields["num_kv_heads"] = 1 if multi_query else heads
        fields["norms_per_layer"] = 1 if reader.bool("parallel_attn", default=True) else 2


def _moe(reader: _Reader, fields: dict[str, Any]) -> None:
    experts = reader.int("num_local_experts", "n_routed_experts", "num_experts", default=0)
    if not experts:
        return
    fields["num_experts"] = experts
    fields["experts_per_token"] = reader.int("num_experts_per_tok", "experts_per_token", "moe_topk", default=2)
    fields["moe_intermediate_size"] = reader.int("moe_intermediate_size", default=0)
    fields["shared_experts"] = reader.int("n_shared_experts", default=0)
    fields["dense_layers"] = reader.int("first_k_dense_replace", default=0)


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


def _sliding_window(config: dict, reader: _Reader, fields: dict[str, Any], model_type: str) -> None:
    window = reader.int("sliding_window", default=0)
    if not window or config.get("use_sliding_window") is False:
        return
    layers = fields["num_layers"]
    layer_types = config.get("layer_types")
    if isinstance(layer_types, list) and len(layer_types) == layers:
        sliding = sum(1 for kind in layer_types if kind == "sliding_attention")
    elif model_type == "gemma2":
        sliding = layers // 2  # even layers slide, odd layers attend globally
    elif model_type == "gemma3_text":
        pattern = reader.int("sliding_window_pattern", default=6)
        sliding = layers - layers // pattern
    else:
        sliding = layers
    if window < fields["max_context"] and sliding:
        fields["sliding_window"] = window
        fields["sliding_window_layers"] = sliding


class _Reader:
    """Typed access to config keys, trying aliases in order, with errors that name the key."""

    def __init__(self, config: dict, name: str) -> None:
        self.config, self.name = config, name

    def _first(self, keys: tuple[str, ...]) -> tuple[str, Any] | None:
        for key in keys:
            if self.config.get(key) is not None:
                return key, self.config[key]
        return None

    def int(self, *keys: str, default: int | None = None) -> int:
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
            raise ConfigError(f"{self.name}: {key} must not be negative, got {value:.3g}")
        if value > MAX_DIMENSION:
            raise ConfigError(f"{self.name}: {key} must be at most {MAX_DIMENSION:,}, got {value:.3g}")
        return value

    def bool(self, *keys: str, default: bool) -> bool:
        found = self._first(keys)
        if found is None:
            return default
        key, value = found
        if not isinstance(value, bool):
            raise ConfigError(f"{self.name}: {key} must be true or false, got {value!r:.60}")
        return value
