"""Write the rows of ``data/models.csv`` that come from ``data/hf_configs/``.

Each config in ``data/hf_configs/manifest.csv`` whose architecture ``llm_calc`` models becomes one
catalog row: the architecture columns are read from the ``config.json`` by
``llm_calc.hf_config.parse_config_text`` (no architecture figure is typed by hand), the checkpoint
format from its ``torch_dtype`` / ``dtype`` and ``quantization_config``, and the published counts,
their source and convention, the family and the release month from the manifest.

Rows typed by hand stay as they are: a row is generated when its ``hf_id`` is in the manifest and
its ``config_source`` is the manifest's. A hand row for a model that also has a config here (phi-4,
DeepSeek-V3) must have the architecture that config gives, or the script stops.

Configs not written (an architecture not modelled yet, or no published count in the manifest) are
listed on stderr with the reason.

Usage: ``python scripts/catalog_from_configs.py [--check]`` from the repository root; ``--check``
writes nothing and exits 1 when ``data/models.csv`` is not what the script would write.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from dataclasses import asdict, fields
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from llm_calc.architecture import ModelSpec  # noqa: E402
from llm_calc.catalog import DATA_DIR, MODEL_COLUMNS, CatalogError, load_models  # noqa: E402
from llm_calc.hf_config import ConfigError, checkpoint_from_config, parse_config_text  # noqa: E402

CONFIG_DIR = DATA_DIR / "hf_configs"
MODELS_CSV = DATA_DIR / "models.csv"
HUB_PAGE = "https://huggingface.co/{hf_id}"
"""A generated row's ``source``: the model's page on the Hub."""

DTYPE_FORMATS = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}
"""``torch_dtype`` / ``dtype`` of a config without ``quantization_config`` -> ``checkpoint_format``."""


def spec_columns(spec: ModelSpec) -> dict[str, str]:
    """The architecture columns of a catalog row, as the CSV spells them."""
    values = asdict(spec)
    return {
        f.name: ("true" if values[f.name] else "false") if isinstance(values[f.name], bool) else str(values[f.name])
        for f in fields(ModelSpec)
        if f.name != "name" and f.name in MODEL_COLUMNS
    }


def checkpoint_format(config: dict, name: str) -> str:
    """How the config says its weights are stored, as a ``CHECKPOINT_FORMATS`` key."""
    text = config.get("text_config") if isinstance(config.get("text_config"), dict) else {}
    quantization = checkpoint_from_config(config, name).quantization
    if quantization is None:
        dtype = next(
            (c[k] for c in (config, text) for k in ("torch_dtype", "dtype") if isinstance(c.get(k), str)), None
        )
        if dtype not in DTYPE_FORMATS:
            raise ConfigError(f"{name}: torch_dtype {dtype!r} is not one of {', '.join(DTYPE_FORMATS)}")
        return DTYPE_FORMATS[dtype]
    if quantization.method == "mxfp4":
        return "MXFP4 experts"
    experts_alone = quantization.groups == ("routed_experts_linear",)
    if experts_alone and quantization.label.startswith("compressed-tensors int4 g32"):  # Kimi K2.5
        return "int4 experts"
    if quantization.method == "fp8":
        block = config.get("quantization_config", text.get("quantization_config"))
        return "fp8 block-wise" if block.get("weight_block_size") else "fp8 per-tensor"
    raise ConfigError(f"{name}: quantization {quantization.method} has no checkpoint_format yet")


def build_rows(manifest: Path = CONFIG_DIR / "manifest.csv", models_csv: Path = MODELS_CSV) -> tuple[str, list[str]]:
    """The text ``models.csv`` should have, and one line per config left out (with the reason)."""
    with models_csv.open(newline="", encoding="utf-8") as handle:
        current = list(csv.DictReader(handle))
    with manifest.open(newline="", encoding="utf-8") as handle:
        entries = list(csv.DictReader(handle))
    by_id = {e["hf_id"]: e for e in entries}
    hand = [r for r in current if r["hf_id"] not in by_id or r["config_source"] != by_id[r["hf_id"]]["config_source"]]
    hand_specs = {m.hf_id: m.spec for m in load_models(models_csv)}
    # a column added to ModelSpec since the file was written: hand rows get the value they loaded with
    hand = [{**row, **spec_columns(hand_specs[row["hf_id"]])} for row in hand]
    generated, left_out = [], []
    for entry in entries:
        path = CONFIG_DIR / entry["config_file"]
        text = path.read_text(encoding="utf-8")
        try:
            spec = parse_config_text(text, name=entry["config_file"])
            fmt = checkpoint_format(json.loads(text), entry["config_file"])
        except ConfigError as error:
            left_out.append(f"{entry['hf_id']}: {str(error).split('; supported:')[0]}")
            continue
        hand_row = next((r for r in hand if r["hf_id"] == entry["hf_id"]), None)
        if hand_row is not None:
            expected = hand_specs[entry["hf_id"]]
            if spec.with_changes(name=expected.name) != expected:
                raise SystemExit(f"{entry['hf_id']}: the hand row's architecture differs from {entry['config_file']}")
            left_out.append(f"{entry['hf_id']}: kept the hand row (same architecture as {entry['config_file']})")
            continue
        if not (entry["total_params"] and entry["release_month"] and entry["params_source"]):
            left_out.append(f"{entry['hf_id']}: no published total, release month or source in the manifest")
            continue
        generated.append(
            {
                "hf_id": entry["hf_id"],
                "name": entry["hf_id"].split("/", 1)[1],
                "family": entry["family"],
                "released": entry["release_month"],
                "params_published": entry["total_params"],
                "active_params_published": entry["active_params"],
                "published_counts_tied_output": "false",
                **spec_columns(spec),
                "params_source": entry["params_source"],
                "source": HUB_PAGE.format(hf_id=entry["hf_id"]),
                "config_source": entry["config_source"],
                "params_convention": entry["params_convention"],
                "checkpoint_format": fmt,
            }
        )
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(MODEL_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(hand + generated)
    return out.getvalue(), left_out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if data/models.csv is out of date")
    args = parser.parse_args()
    text, left_out = build_rows()
    for line in left_out:
        print(f"not written: {line}", file=sys.stderr)
    if args.check:
        if MODELS_CSV.read_text(encoding="utf-8") != text:
            print("data/models.csv is out of date: run scripts/catalog_from_configs.py", file=sys.stderr)
            return 1
        return 0
    draft = MODELS_CSV.with_suffix(".draft.csv")
    draft.write_text(text, encoding="utf-8")
    try:
        load_models(draft)  # every row must load before models.csv is replaced
    except CatalogError as error:
        draft.unlink()
        print(f"not written: {error}", file=sys.stderr)
        return 1
    draft.replace(MODELS_CSV)
    return 0


if __name__ == "__main__":
    sys.exit(main())
