"""Count the parameters of every vendored config by building the model on PyTorch's meta device.

    python scripts/meta_param_counts.py                      # every data/hf_configs/*.json, CSV on stdout
    python scripts/meta_param_counts.py google__gemma-3-27b-it.json

Dev-only oracle for ``data/hf_configs/manifest.csv`` (columns ``meta_device_params``, from
``meta_text_params``, and ``meta_device_params_with_vision``, from ``meta_full_params``): no weights are
downloaded or allocated, transformers builds the module tree from the config alone
(``with torch.device("meta"): AutoModelForCausalLM.from_config(config)``) and we sum
``p.numel()`` over ``model.parameters()``. Tied weights are counted once (``parameters()`` deduplicates
shared tensors). ``trust_remote_code`` is never used: a model type that transformers does not know is
reported as ``unsupported`` instead of counted.

For a multimodal wrapper (a config with ``text_config``) the language model is built from
``text_config`` alone (``meta_text_params``) and, where transformers can, the whole wrapper with its
vision tower and projector (``meta_full_params``). ``quantization_config`` is dropped before building:
a meta build never quantizes, so the count is the logical (unpacked) parameter count.

Models are built one at a time in this process, at low CPU priority, each under a time limit (SIGALRM, so
Unix only); a build over the limit is reported as ``timeout``.
Requires ``torch`` and ``transformers`` (``requirements-dev.txt``); they are imported lazily.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gc
import json
import os
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / "data" / "hf_configs"
TIMEOUT_S = 90  # a meta build of the largest MoE (hundreds of experts x 60 layers) takes well under this
FIELDS = ["config_file", "model_type", "status", "meta_text_params", "meta_full_params", "build_s", "detail"]


def _count(model) -> int:  # model: a torch.nn.Module (torch is imported lazily)
    return sum(p.numel() for p in model.parameters())


def count_one(path: Path) -> dict[str, object]:
    """Build one config on the meta device and return the counts ."""
    # dev-only dependencies (requirements-dev.txt), imported here so the module imports without them
    import torch
    import transformers
    from transformers import AutoConfig, AutoModelForCausalLM

    raw = json.loads(path.read_text())
    raw.pop("quantization_config", None)
    row: dict[str, object] = {"config_file": path.name, "model_type": raw.get("model_type", "")}
    started = time.perf_counter()
    text_raw = raw.get("text_config")
    try:
        if text_raw is not None:
            text_raw = dict(text_raw)
            text_raw.pop("quantization_config", None)
            text_config = AutoConfig.for_model(**text_raw)
        else:
            text_config = AutoConfig.for_model(**raw)
        with torch.device("meta"):
            row["meta_text_params"] = _count(AutoModelForCausalLM.from_config(text_config))
    except (ValueError, KeyError, TypeError, AttributeError, ImportError) as exc:
        row.update(status="unsupported", detail=f"{type(exc).__name__}: {exc}"[:200])
        return row
    row["status"] = "ok"
    if text_raw is not None:  # the whole wrapper: vision tower + projector + language model
        try:
            config = AutoConfig.for_model(**raw)
            cls = getattr(transformers, "AutoModelForImageTextToText", None) or transformers.AutoModel
            with torch.device("meta"):
                row["meta_full_params"] = _count(cls.from_config(config))
        except (ValueError, KeyError, TypeError, AttributeError, ImportError) as exc:
            row["detail"] = f"wrapper not built: {type(exc).__name__}: {exc}"[:200]
    else:
        row["meta_full_params"] = row["meta_text_params"]
    row["build_s"] = round(time.perf_counter() - started, 1)
    return row


def _on_alarm(signum: int, frame: object) -> None:
    raise TimeoutError(f"build took over {TIMEOUT_S} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="config file names in data/hf_configs (default: all)")
    args = parser.parse_args()
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    with contextlib.suppress(OSError):  # be gentle with a shared machine
        os.nice(10)
    paths = [CONFIG_DIR / f for f in args.files] if args.files else sorted(CONFIG_DIR.glob("*.json"))
    writer = csv.DictWriter(sys.stdout, fieldnames=FIELDS)
    writer.writeheader()
    signal.signal(signal.SIGALRM, _on_alarm)
    for path in paths:  # one model at a time, in this process (transformers is imported once)
        signal.alarm(TIMEOUT_S)
        try:
            row = count_one(path)
        except TimeoutError as exc:
            row = {"config_file": path.name, "status": "timeout", "detail": str(exc)}
        finally:
            signal.alarm(0)
        writer.writerow({k: row.get(k, "") for k in FIELDS})
        sys.stdout.flush()
        gc.collect()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
