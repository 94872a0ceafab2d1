"""The shipped catalogs are complete and sourced; broken copies fail with file, row and column."""

import shutil

import pytest

from llm_calc.catalog import DATA_DIR, CatalogError, default_gpus, default_models, load_gpus, load_models


def test_model_catalog_has_the_families_the_issue_names():
    models = default_models()
    assert len(models) >= 25
    ids = {m.hf_id for m in models}
    for needed in (
        "meta-llama/Llama-2-7b-hf",
        "meta-llama/Llama-2-13b-hf",
        "meta-llama/Llama-2-70b-hf",
        "meta-llama/Meta-Llama-3-8B",
        "meta-llama/Meta-Llama-3-70B",
        "meta-llama/Llama-3.1-405B",
        "mistralai/Mistral-7B-v0.1",
        "mistralai/Mixtral-8x7B-v0.1",
        "tiiuae/falcon-7b",
        "tiiuae/falcon-40b",
        "tiiuae/falcon-180B",
        "mosaicml/mpt-7b",
        "mosaicml/mpt-30b",
        "openai/gpt-3-175b",
        "deepseek-ai/DeepSeek-V3",
    ):
        assert needed in ids
    assert all(m.source and m.params_source for m in models)


def test_gpu_catalog_spans_vendors_and_classes():
    gpus = default_gpus()
    assert len(gpus) >= 30
    names = {g.name for g in gpus}
    for needed in (
        "NVIDIA T4",
        "NVIDIA B200",
        "AMD Instinct MI250X",
        "AMD Instinct MI300X",
        "AMD Instinct MI325X",
        "NVIDIA RTX 3090",
        "NVIDIA RTX 4090",
        "NVIDIA RTX 5090",
    ):
        assert needed in names
    assert {g.gpu_class for g in gpus} == {"datacenter", "workstation", "consumer", "apple"}
    assert all(g.source for g in gpus)
    assert all(g.price_source for g in gpus if g.price_per_hour_usd)


def test_h100_row_matches_its_datasheet():
    h100 = next(g for g in default_gpus() if g.name == "NVIDIA H100 SXM")
    assert (h100.memory_bytes, h100.bandwidth_gbs, h100.tflops_16bit) == (80 * 2**30, 3350, 989)


def _broken_copy(tmp_path, name, old, new):
    path = tmp_path / name
    shutil.copy(DATA_DIR / name, path)
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return path


def test_bad_number_names_file_row_and_column(tmp_path):
    path = _broken_copy(
        tmp_path,
        "gpus.csv",
        "NVIDIA V100 SXM2 32GB,NVIDIA,datacenter,32,900",
        "NVIDIA V100 SXM2 32GB,NVIDIA,datacenter,32,fast",
    )
    with pytest.raises(CatalogError, match=r"gpus\.csv row 3, column bandwidth_gbs: expected a number, got 'fast'"):
        load_gpus(path)


def test_negative_memory_is_rejected(tmp_path):
    path = _broken_copy(tmp_path, "gpus.csv", "NVIDIA T4,NVIDIA,datacenter,16", "NVIDIA T4,NVIDIA,datacenter,-16")
    with pytest.raises(CatalogError, match=r"row 2, column memory_gib: expected a positive"):
        load_gpus(path)


def test_unknown_class_is_rejected(tmp_path):
    path = _broken_copy(tmp_path, "gpus.csv", "NVIDIA T4,NVIDIA,datacenter", "NVIDIA T4,NVIDIA,gaming")
    with pytest.raises(CatalogError, match=r"row 2, column class: expected one of"):
        load_gpus(path)


def test_missing_source_is_rejected(tmp_path):
    path = tmp_path / "gpus.csv"
    lines = (DATA_DIR / "gpus.csv").read_text().splitlines()
    header, first = lines[0], lines[1]
    path.write_text(header + "\n" + first[: first.rindex(",")] + ",\n")
    with pytest.raises(CatalogError, match=r"row 2, column source: expected text"):
        load_gpus(path)


def test_duplicate_model_id_is_rejected(tmp_path):
    path = tmp_path / "models.csv"
    lines = (DATA_DIR / "models.csv").read_text().splitlines()
    path.write_text("\n".join([lines[0], lines[1], lines[1]]) + "\n")
    with pytest.raises(CatalogError, match=r"models\.csv row 3, column hf_id: duplicate"):
        load_models(path)


def test_impossible_architecture_is_rejected_with_its_row(tmp_path):
    path = _broken_copy(tmp_path, "models.csv", "32000,4096,32,32,32,128,11008", "32000,4096,32,32,64,128,11008")
    with pytest.raises(CatalogError, match=r"models\.csv row 4: num_kv_heads \(64\) cannot exceed"):
        load_models(path)


def test_missing_column_is_named(tmp_path):
    path = tmp_path / "gpus.csv"
    text = (DATA_DIR / "gpus.csv").read_text().replace("bandwidth_gbs", "bandwidth", 1)
    path.write_text(text)
    with pytest.raises(CatalogError, match="missing column"):
        load_gpus(path)


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(CatalogError, match="cannot open"):
        load_gpus(tmp_path / "nope.csv")
