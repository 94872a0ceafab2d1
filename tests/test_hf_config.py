"""Reading Hugging Face config.json files, real and hostile."""

import json
from pathlib import Path

import pytest

from llm_calc.architecture import count_parameters
from llm_calc.catalog import find_model
from llm_calc.hf_config import ConfigError, parse_config_text

CONFIGS = Path(__file__).parent / "configs"

# Real config.json files as published on the Hub, and the catalog row each must reproduce.
REAL = {
    "Llama-2-7b-hf.json": "meta-llama/Llama-2-7b-hf",
    "Meta-Llama-3-8B.json": "meta-llama/Meta-Llama-3-8B",
    "Mistral-7B-v0.1.json": "mistralai/Mistral-7B-v0.1",
    "Mixtral-8x7B-v0.1.json": "mistralai/Mixtral-8x7B-v0.1",
    "DeepSeek-V3.json": "deepseek-ai/DeepSeek-V3",
    "falcon-7b.json": "tiiuae/falcon-7b",
    "gemma-2-9b.json": "google/gemma-2-9b",
    "gpt2.json": "openai-community/gpt2",
    "mpt-7b.json": "mosaicml/mpt-7b",
    "Qwen2.5-7B.json": "Qwen/Qwen2.5-7B",
}


@pytest.mark.parametrize(("filename", "hf_id"), REAL.items())
def test_real_configs_give_the_catalog_architecture(filename, hf_id):
    spec = parse_config_text((CONFIGS / filename).read_bytes(), name=filename)
    expected = find_model(hf_id).spec
    assert spec.with_changes(name=expected.name) == expected
    assert count_parameters(spec).total == count_parameters(expected).total


def test_llama2_config_gives_the_published_count():
    spec = parse_config_text((CONFIGS / "Llama-2-7b-hf.json").read_text())
    assert count_parameters(spec).total == 6_738_415_616


def test_multimodal_wrapper_reads_its_text_config():
    inner = json.loads((CONFIGS / "Meta-Llama-3-8B.json").read_text())
    wrapped = {"model_type": "llava", "text_config": inner, "vision_config": {"hidden_size": 1024}}
    assert count_parameters(parse_config_text(json.dumps(wrapped))).total == 8_030_261_248


def _llama(**changes):
    config = json.loads((CONFIGS / "Llama-2-7b-hf.json").read_text())
    config.update(changes)
    return json.dumps(config)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not valid JSON"),
        ("{not json", "not valid JSON"),
        ("[1, 2, 3]", "must be a JSON object"),
        ('"hello"', "must be a JSON object"),
        ("{}", "no hidden_size"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply|not valid JSON|larger|bytes"),
        (_llama(hidden_size=-4096), "hidden_size must not be negative"),
        (_llama(hidden_size="4096"), "hidden_size must be a whole number"),
        (_llama(num_hidden_layers=1e300), "num_hidden_layers"),
        (_llama(vocab_size=10**30), "vocab_size"),
        (_llama(num_attention_heads=0), "num_attention_heads"),
        (_llama(num_key_value_heads=64), "num_kv_heads"),
        (_llama(tie_word_embeddings="yes"), "tie_word_embeddings must be true or false"),
        (_llama(hidden_size=True), "whole number"),
        ("{" + '"a": 1,' * 200_000 + '"b": 2}', "bytes"),
    ],
)
def test_hostile_or_broken_configs_raise_a_clear_config_error(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_config_text(text)


def test_binary_upload_is_reported_not_crashed():
    with pytest.raises(ConfigError, match="UTF-8|JSON"):
        parse_config_text(b"\xff\xfe\x00\x81garbage")


def test_model_name_from_a_config_keeps_only_hub_id_characters():
    spec = parse_config_text(_llama(_name_or_path="[x](javascript:alert(1)) <script>$y$"))
    assert spec.name == "xjavascriptalert1 scripty"
