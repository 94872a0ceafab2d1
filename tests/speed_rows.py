"""Speed measurements built by hand for the fit's tests, in the file's own row type."""

from llm_calc.measurements import Measurement


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
