"""Parameter counts checked against transformers itself: the oracle.

Every config under ``tests/configs/`` is built with ``AutoModelForCausalLM.from_config`` inside
``torch.device("meta")`` (shapes only: no memory, no initialisation) and its parameters counted
(``model.parameters()`` yields a tied matrix once). Our count from the same file must equal it
exactly. For MoE models the active count is checked too: the meta model's routed-expert tensors
(named ``.experts.``), scaled by the share of experts a token does not use, come off its total.

A multimodal wrapper (Gemma 3, Mistral 3, Qwen3.5, Llama 4) is compared twice: its language model
(the oracle builds the ``text_config``) against ``count_parameters``, and the whole model
(``AutoModelForImageTextToText``) less that language model against ``count_vision_parameters``.
Dev-only: torch and transformers come from ``requirements-dev.txt``; without them the module is
skipped with the reason.
"""

import json
from pathlib import Path

import pytest

from llm_calc.architecture import count_parameters
from llm_calc.hf_config import SUPPORTED_MODEL_TYPES, VISION_WRAPPERS, parse_config_text, parse_vision_parameters_text

torch = pytest.importorskip("torch", reason="the parameter oracle needs torch (requirements-dev.txt)")
transformers = pytest.importorskip("transformers", reason="the parameter oracle needs transformers")

CONFIGS = Path(__file__).parent / "configs"
CONFIG_FILES = sorted(CONFIGS.glob("*.json"))

# Keys that would make transformers quantize, fetch code or name a checkpoint, or that a published
# config spells in a type transformers 5 rejects (Llama 4's attn_temperature_tuning: 4 for a bool):
# none of them shapes a tensor.
NOT_SHAPE = ("quantization_config", "auto_map", "_name_or_path", "architectures", "attn_temperature_tuning")


def _text_config(path: Path) -> dict:
    config = json.loads(path.read_text())
    if isinstance(config.get("text_config"), dict):
        config = config["text_config"]
    return {key: value for key, value in config.items() if key not in NOT_SHAPE}


# model_types that ship an architecture of transformers under their own name: the class their
# config's `architectures` names is built instead (Kimi K2: DeepseekV3ForCausalLM; EXAONE 4.5's
# text_config: Exaone4ForCausalLM, as transformers' own Exaone4_5_Config maps exaone4_5_text).
ORACLE_MODEL_TYPES = {"kimi_k2": "deepseek_v3", "exaone4_5_text": "exaone4"}


def _meta_model(config: dict):
    config = {**config, "model_type": ORACLE_MODEL_TYPES.get(config["model_type"], config["model_type"])}
    hf_config = transformers.AutoConfig.for_model(**config)
    with torch.device("meta"):
        return transformers.AutoModelForCausalLM.from_config(hf_config)


@pytest.fixture(scope="module")
def meta_counts() -> dict[str, tuple[int, int]]:
    """(total, routed-expert parameters) of each config's meta-device model, built once."""
    counts = {}
    for path in CONFIG_FILES:
        model = _meta_model(_text_config(path))
        total = sum(p.numel() for p in model.parameters())
        experts = sum(p.numel() for name, p in model.named_parameters() if ".experts." in name)
        counts[path.name] = (total, experts)
    return counts


@pytest.mark.parametrize("path", CONFIG_FILES, ids=[p.name for p in CONFIG_FILES])
def test_total_parameters_equal_transformers_on_the_meta_device(path, meta_counts):
    ours = count_parameters(parse_config_text(path.read_bytes(), name=path.name))
    assert ours.total == meta_counts[path.name][0]


@pytest.mark.parametrize("path", CONFIG_FILES, ids=[p.name for p in CONFIG_FILES])
def test_active_parameters_leave_out_the_experts_a_token_skips(path, meta_counts):
    spec = parse_config_text(path.read_bytes(), name=path.name)
    total, experts = meta_counts[path.name]
    if not spec.is_moe:
        assert experts == 0
        assert count_parameters(spec).active == total
        return
    skipped, remainder = divmod(experts * (spec.num_experts - spec.experts_per_token), spec.num_experts)
    assert remainder == 0
    assert count_parameters(spec).active == total - skipped


def test_every_supported_family_has_a_config_the_oracle_builds():
    families = {_text_config(path)["model_type"] for path in CONFIG_FILES}
    assert families == set(SUPPORTED_MODEL_TYPES)


@pytest.mark.parametrize(
    ("filename", "published"),
    [
        ("phi-2.json", 2_779_683_840),  # microsoft/phi-2 model page (safetensors total)
        ("gpt-oss-120b.json", 116_829_156_672),  # issue 10: meta-device count, with the attention sinks
        ("Qwen1.5-MoE-A2.7B.json", 14_315_784_192),  # "14.3B parameters in total" (Qwen blog)
        ("DeepSeek-V3.json", 671_026_404_352),  # "671B total parameters" (DeepSeek-V3 report), MTP module apart
        ("pythia-160m.json", 162_322_944),  # Biderman et al. 2023, Pythia, Table 1 (total parameters)
        ("gemma-2b.json", 2_506_172_416),  # google/gemma-2b model page (safetensors total)
        # data/hf_configs/manifest.csv meta_params column, computed when that data set was made
        ("Qwen3-Next-80B-A3B-Thinking.json", 79_674_391_296),
        ("SmolLM3-3B.json", 3_075_098_624),  # x 2 bytes = 37,760 bytes under the two safetensors files (headers)
        ("EXAONE-4.0-32B.json", 32_003_216_384),  # less 2 x 102,400 x 5,120 embeddings = the card's 30.95B
    ],
)
def test_the_oracle_reproduces_published_counts(filename, published, meta_counts):
    """Guards the oracle itself: transformers' build of these configs is the size their authors publish."""
    assert meta_counts[filename][0] == published


VISION_FILES = [path for path in CONFIG_FILES if json.loads(path.read_text()).get("model_type") in VISION_WRAPPERS]


def _whole_config(path: Path) -> dict:
    config = {key: value for key, value in json.loads(path.read_text()).items() if key not in NOT_SHAPE}
    if isinstance(config.get("text_config"), dict):
        config["text_config"] = {k: v for k, v in config["text_config"].items() if k not in NOT_SHAPE}
    return config


def test_every_vision_wrapper_has_a_config_the_oracle_builds():
    assert {json.loads(path.read_text())["model_type"] for path in VISION_FILES} == set(VISION_WRAPPERS)


@pytest.mark.parametrize("path", VISION_FILES, ids=[p.name for p in VISION_FILES])
def test_vision_tower_and_projector_equal_transformers_on_the_meta_device(path, meta_counts):
    """The whole multimodal model built on the meta device, less its language model (built alone
    above): what is left is the vision tower and the projector."""
    hf_config = transformers.AutoConfig.for_model(**_whole_config(path))
    with torch.device("meta"):
        whole = transformers.AutoModelForImageTextToText.from_config(hf_config)
    vision = sum(p.numel() for p in whole.parameters()) - meta_counts[path.name][0]
    assert parse_vision_parameters_text(path.read_bytes(), name=path.name) == vision
