"""Speed measurements built by hand for the fit's tests, in the file's own row type."""

from pathlib import Path

from llm_calc.measurements import COLUMNS, Measurement


def speed_row(
    id: str,
    kind: str,
    hf_id: str,
    precision: str,
    engine: str,
    backend: str,
    gpu: str,
    gpu_count: int,
    parallelism: str,
    concurrency: int,
    prompt_tokens: int,
    output_tokens: int,
    context_tokens: int,
    measured: float,
    unit: str,
    source: str,
    **more: str,
) -> Measurement:
    """A speed row from the fields the fit reads; the others as a published row without them
    leaves them (no version, no note), several cards linked by NVLink."""
    return Measurement(
        id=id,
        kind=kind,
        hf_id=hf_id,
        precision=precision,
        engine=engine,
        engine_version="",
        backend=backend,
        gpu=gpu,
        gpu_count=gpu_count,
        interconnect="nvlink" if gpu_count > 1 else "",
        parallelism=parallelism,
        concurrency=concurrency,
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
        context_tokens=context_tokens,
        measured=measured,
        unit=unit,
        bound="exact",
        used_for_fit=False,
        date=more.pop("date", "2026-01"),
        source=source,
        note="",
        driver="",
        library_versions="",
        **more,
    )


def one_row_file(path: Path, **cells: str) -> Path:
    """``path`` written as a measurements file of one row: ``cells`` by column, the others empty."""
    row = dict.fromkeys(COLUMNS, "") | cells
    path.write_text(",".join(COLUMNS) + "\n" + ",".join(row[c] for c in COLUMNS) + "\n", encoding="utf-8")
    return path
