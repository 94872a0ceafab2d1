"""LoRA trainable parameters checked against PEFT itself: the oracle.

For one real config of every family in ``SUPPORTED_MODEL_TYPES`` (``tests/configs/``, at full size:
the meta device holds shapes only), transformers builds the model inside ``torch.device("meta")``
and ``peft.get_peft_model(model, LoraConfig(r=8, target_modules=[...]), low_cpu_mem_usage=True)``
wraps every module named like one of ``LORA_TARGETS`` (the names the model has). The trainable
parameters PEFT creates, grouped by the module name they wrap, must equal
``lora_trainable_params`` target by target. Hybrid layers are where this bites: Mamba, Gated
DeltaNet and short-convolution layers have no ``q_proj``, Nemotron-H's MLP-free layers no
``up_proj``, Qwen3-Next's ``q_proj`` is twice as wide (output gate), Gemma 4's global layers have
their own head size and no ``v_proj``.

Routed experts are left out on both sides: transformers 5 stores them fused, and what PEFT does
with them depends on the family (``llm_calc.training.LORA_ROUTED_EXPERTS`` says what we count).
For the families transformers converts from a v4 layout (DeepSeek, GLM-4.5/5, Qwen-MoE, Qwen3-Next:
``transformers.conversion_mapping``), PEFT 0.21 rewrites ``gate_proj``/``up_proj``/``down_proj`` into
targets on the fused experts' parameters and then wraps no dense MLP or shared expert of that name
(``peft.utils.transformers_weight_conversion._convert_peft_config_moe``); the test turns that
rewrite off, so what it checks is what ``target_modules`` wraps as ``nn.Linear``, as PEFT does for
every other family.
A family that spells a role otherwise (LFM2, Phi) or fuses it (Phi-3, Falcon, GPT-2 ...) has no
module of the Llama name; ``RENAMED_OR_FUSED`` lists them, and for the others a role PEFT does
not find must have no matrix in our count either.

Dev-only: torch, transformers and peft come from ``requirements-dev.txt``; without them the module
is skipped with the reason.
"""

import json
import re
from pathlib import Path

import pytest

from llm_calc.hf_config import SUPPORTED_MODEL_TYPES, parse_config_text
from llm_calc.training import LORA_ROUTED_EXPERTS, LORA_TARGETS, lora_matrices, lora_trainable_params

torch = pytest.importorskip("torch", reason="the LoRA oracle needs torch (requirements-dev.txt)")
transformers = pytest.importorskip("transformers", reason="the LoRA oracle needs transformers")
peft = pytest.importorskip("peft", reason="the LoRA oracle needs peft (requirements-dev.txt)")

from test_param_oracle import CONFIG_FILES, _meta_model, _text_config  # noqa: E402

RANK = 8

# One real (not reduced) config per family, the first in name order.
FAMILY_FILES: dict[str, Path] = {}
for _path in CONFIG_FILES:
    if not _path.name.startswith("reduced-"):
        FAMILY_FILES.setdefault(_text_config(_path)["model_type"], _path)

RENAMED_OR_FUSED = {
    "lfm2": "attention output is out_proj, the MLP w1/w3/w2",
    "phi": "attention output is dense, the MLP fc1/fc2",
    "phi3": "qkv_proj and gate_up_proj are fused",
    "falcon": "query_key_value, dense, dense_h_to_4h, dense_4h_to_h",
    "gpt2": "c_attn (fused), c_proj, c_fc",
    "gpt_bigcode": "c_attn (fused), c_proj, c_fc",
    "gpt_neox": "query_key_value (fused), dense, dense_h_to_4h, dense_4h_to_h",
    "mpt": "Wqkv (fused), out_proj, up_proj/down_proj",
    "granitemoehybrid": "the MLP is input_linear (gate and up fused) and output_linear",
    "mixtral": "experts only (w1/w2/w3, fused in transformers 5)",
    "minimax_m2": "experts only (w1/w2/w3, fused in transformers 5)",
}
"""Families whose modules are not all named like ``LORA_TARGETS`` (transformers' modeling files)."""


def test_every_supported_family_has_a_config():
    assert set(FAMILY_FILES) == set(SUPPORTED_MODEL_TYPES)


def _linear_names(model) -> set[str]:
    return {name.rsplit(".", 1)[-1] for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)}


def _peft_trainable_by_target(model, targets: list[str]) -> dict[str, int]:
    """Trainable parameters PEFT adds, by the name of the module they wrap, routed experts aside."""
    wrapped = peft.get_peft_model(model, peft.LoraConfig(r=RANK, target_modules=targets), low_cpu_mem_usage=True)
    counts: dict[str, int] = {}
    for name, parameter in wrapped.named_parameters():
        if not parameter.requires_grad or ".experts." in name:
            continue
        module = name.split(".lora_")[0].rsplit(".", 1)[-1]
        counts[module] = counts.get(module, 0) + parameter.numel()
    return counts


def _ours(spec, target: str) -> int:
    return sum(
        RANK * (fan_in + fan_out) * count
        for kind, fan_in, fan_out, count in lora_matrices(spec, target)
        if kind != LORA_ROUTED_EXPERTS
    )


@pytest.mark.parametrize("family", sorted(FAMILY_FILES))
def test_lora_parameters_equal_peft_on_the_meta_device(family, monkeypatch):
    monkeypatch.setattr(
        "peft.utils.transformers_weight_conversion.convert_peft_config_for_transformers", lambda *args, **kw: None
    )
    path = FAMILY_FILES[family]
    model = _meta_model(_text_config(path))
    present = [target for target in LORA_TARGETS if target in _linear_names(model)]
    spec = parse_config_text(path.read_bytes(), name=path.name)
    if not present:
        assert family in RENAMED_OR_FUSED, f"{family} has none of {LORA_TARGETS}"
        pytest.skip(f"{family} has no module named like LORA_TARGETS: {RENAMED_OR_FUSED[family]}")
    peft_counts = _peft_trainable_by_target(model, present)
    ours = {target: _ours(spec, target) for target in present}
    assert ours == {target: peft_counts.get(target, 0) for target in present}
    absent = [target for target in LORA_TARGETS if target not in present and _ours(spec, target)]
    if family not in RENAMED_OR_FUSED:
        assert absent == [], f"we count {absent} in {family}, which has no module of that name"


def _spec(filename: str):
    return parse_config_text((Path(__file__).parent / "configs" / filename).read_bytes(), name=filename)


def test_hybrid_attention_targets_are_counted_in_attention_layers_only():
    """Hand-derived from the real configs, independently of PEFT.

    Nemotron-3-Nano-30B-A3B: 52 blocks, of which 6 attention (hybrid_override_pattern's '*'),
    32 heads x 128 = 4,096 query width, hidden 2,688: q_proj 6 x 8 x (2,688 + 4,096) = 325,632.
    Qwen3-Next-80B-A3B: 48 layers, every 4th full attention (12), 16 heads x 256 = 4,096 query
    width doubled by the output gate, hidden 2,048: q_proj 12 x 8 x (2,048 + 8,192) = 983,040.
    """
    nemotron = _spec("NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.json")
    assert lora_trainable_params(nemotron, 8, ("q_proj",)) == 6 * 8 * (2_688 + 4_096) == 325_632
    qwen3_next = _spec("Qwen3-Next-80B-A3B-Thinking.json")
    assert lora_trainable_params(qwen3_next, 8, ("q_proj",)) == 12 * 8 * (2_048 + 2 * 4_096) == 983_040


def test_config_family_names_are_known():
    """Guards ``RENAMED_OR_FUSED`` against typos: every key is a family we support."""
    assert set(RENAMED_OR_FUSED) <= set(SUPPORTED_MODEL_TYPES)
    assert all(json.loads(path.read_text()) for path in FAMILY_FILES.values())


FAMILY_NAMES = {
    "lfm2": {
        "o_proj": "self_attn.out_proj",
        "gate_proj": "feed_forward.w1",
        "up_proj": "feed_forward.w3",
        "down_proj": "feed_forward.w2",
    },
    "phi": {"o_proj": "self_attn.dense", "up_proj": "mlp.fc1", "down_proj": "mlp.fc2"},
}
"""Families that spell a role otherwise, the module each Llama name stands for (transformers'
``Lfm2Attention``/``Lfm2MLP``, ``PhiAttention``/``PhiMLP``). LFM2's short-convolution layers also
have an ``out_proj``: the pattern names the attention one."""


@pytest.mark.parametrize("family", sorted(FAMILY_NAMES))
def test_a_renamed_role_counts_what_peft_trains_on_the_familys_own_module(family, monkeypatch):
    """What ``lora_matrices`` means for a family without the Llama name: the same-shaped module,
    which PEFT wraps when given the family's name (as a pattern over module paths)."""
    monkeypatch.setattr(
        "peft.utils.transformers_weight_conversion.convert_peft_config_for_transformers", lambda *args, **kw: None
    )
    path = FAMILY_FILES[family]
    names = FAMILY_NAMES[family]
    pattern = "|".join(r".*\." + re.escape(module) for module in names.values())
    wrapped = peft.get_peft_model(
        _meta_model(_text_config(path)), peft.LoraConfig(r=RANK, target_modules=pattern), low_cpu_mem_usage=True
    )
    counts: dict[str, int] = {}
    for name, parameter in wrapped.named_parameters():
        if parameter.requires_grad:
            module = ".".join(name.split(".lora_")[0].rsplit(".", 2)[-2:])
            counts[module] = counts.get(module, 0) + parameter.numel()
    spec = parse_config_text(path.read_bytes(), name=path.name)
    assert {role: _ours(spec, role) for role in names} == {role: counts[module] for role, module in names.items()}
