"""Every key of every stored real config.json, set to a value of the wrong kind, must give a result or
a ConfigError naming the file — never another exception (the property tests draw random mutations;
this walks all of them, so a bug like a list where a dtype name belongs cannot hide from a run)."""

import contextlib
import copy
import json
from pathlib import Path

import pytest

from llm_calc.hf_config import ConfigError, parse_checkpoint_text, parse_config_text

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = sorted([*(ROOT / "data" / "hf_configs").glob("*.json"), *(ROOT / "tests" / "configs").glob("*.json")])
WRONG_KINDS = ([], {}, ["x"], {"x": 1}, 1.5, -1, True, None, "x", 10**30)
"""A value of each JSON kind, and numbers out of any range."""


def _key_paths(config: dict, path: tuple = ()):
    for key, value in config.items():
        yield (*path, key)
        if isinstance(value, dict):
            yield from _key_paths(value, (*path, key))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_key_set_to_a_wrong_kind_is_sized_or_refused(path):
    base = json.loads(path.read_text())
    if not isinstance(base, dict):
        pytest.skip("not a JSON object")
    for keys in _key_paths(base):
        for value in WRONG_KINDS:
            config = copy.deepcopy(base)
            parent = config
            for key in keys[:-1]:
                parent = parent[key]
            parent[keys[-1]] = value
            text = json.dumps(config).encode()
            for parse in (parse_config_text, parse_checkpoint_text):
                with contextlib.suppress(ConfigError):  # a refusal by name is an answer
                    parse(text, name="config.json")
