"""Accuracy: our estimates beside published measurements, with the error of each."""

import pandas as pd
import streamlit as st

from llm_calc.accuracy import (
    DECODE_ERROR_TARGET,
    MEMORY_ERROR_TARGET,
    PREFILL_ERROR_TARGET,
    compare,
    default_measurements,
    fitted_efficiency,
    summarize,
)
from llm_calc.catalog import CatalogError, find_gpu
from llm_calc.hardware import DECODE_BANDWIDTH_EFFICIENCY
from ui.charts import error_by_group_figure, predicted_vs_measured_figure
from ui.text import escape_markdown

KIND_LABELS = {
    "weights_file": "Weight file size",
    "decode": "Decode speed",
    "prefill": "Prompt processing",
    "peak_memory": "Peak GPU memory",
    "training_fits": "Fits on one GPU (training)",
}

try:
    measurements = default_measurements()
except (CatalogError, ValueError) as error:
    st.error(f"data/measurements.csv does not load: {escape_markdown(str(error))}")
    st.stop()

st.title("How accurate is this?")
st.write(
    "Every estimate in this dashboard checked against a published measurement: GGUF file sizes from llama.cpp, "
    "decode speeds from llama.cpp benchmark tables, peak GPU memory from Hugging Face's optimization guide, and the "
    "QLoRA paper's “fits on one GPU”. Each row links to its source; CI fails if a change makes the errors worse "
    "than the figures below."
)

efficiency = st.slider(
    "Decode bandwidth efficiency used for the speed rows",
    0.2,
    1.0,
    DECODE_BANDWIDTH_EFFICIENCY,
    0.01,
    key="accuracy_efficiency",
    help="The app's default was fitted on the rows marked 'fit'; move it to see the trade-off.",
)
comparisons = compare(measurements, efficiency)
summaries = {s.kind: s for s in summarize(comparisons)}

columns = st.columns(len(KIND_LABELS))
for column, (kind, label) in zip(columns, KIND_LABELS.items(), strict=True):
    summary = summaries[kind]
    value = "—" if summary.held_out_median_abs_error is None else f"{summary.held_out_median_abs_error:.1%}"
    column.metric(label, value, help=f"median absolute error over {summary.held_out_rows} held-out rows")
st.caption(
    f"Targets: memory and file sizes within {MEMORY_ERROR_TARGET:.0%} median, decode speed within "
    f"{DECODE_ERROR_TARGET:.0%} median, prompt processing within {PREFILL_ERROR_TARGET:.0%} median, "
    "no row off by more than 2× without an explanation in its note."
)

st.subheader("Estimate against measurement")
st.plotly_chart(
    predicted_vs_measured_figure(
        [c.measurement.id for c in comparisons],
        [c.measurement.measured for c in comparisons],
        [c.predicted for c in comparisons],
        [KIND_LABELS[c.measurement.kind] for c in comparisons],
    ),
    width="stretch",
)

st.subheader("Decode speed error by device family")
decode = [c for c in comparisons if c.measurement.kind == "decode"]
st.plotly_chart(
    error_by_group_figure(
        [find_gpu(c.measurement.gpu).vendor for c in decode],
        [c.error for c in decode],
        [c.measurement.id for c in decode],
    ),
    width="stretch",
)

st.subheader("Every row")
table = pd.DataFrame(
    [
        {
            "what": KIND_LABELS[c.measurement.kind],
            "model": c.measurement.hf_id,
            "precision": c.measurement.precision,
            "device": c.measurement.gpu,
            "context": c.measurement.context_tokens,
            "measured": c.measurement.measured,
            "ours": round(c.predicted, 3),
            "unit": c.measurement.unit + (" (at most)" if c.measurement.bound == "at_most" else ""),
            "error (%)": 100 * c.error,
            "role": "fit" if c.measurement.used_for_fit else "held out",
            "engine": c.measurement.engine,
            "note": c.measurement.note,
            "source": c.measurement.source,
        }
        for c in comparisons
    ]
)
st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    column_config={
        "error (%)": st.column_config.NumberColumn(format="%+.1f"),
        "source": st.column_config.LinkColumn(),
    },
)
st.download_button("Download CSV", table.to_csv(index=False).encode(), "llm_primer_accuracy.csv", "text/csv")

st.subheader("What the errors mean")
fit = fitted_efficiency(measurements)
st.markdown(
    "- **Memory and file sizes** are arithmetic on the architecture, so they land within about 1 % for weights; "
    "peak memory is within a few percent. The 4-bit row is low by about 10 %: that run loaded the model without "
    "`torch_dtype`, so its unquantized embeddings stayed 32-bit while we assume 16-bit.\n"
    f"- **Decode speed** is a roofline with one efficiency constant, fitted to the two rows marked *fit* "
    f"(median measured ÷ roofline = {fit:.2f}; the app uses {DECODE_BANDWIDTH_EFFICIENCY:.2f}). Expect ±10–40 % "
    "for one card: Q4_0 on Apple GPUs is slower than its bandwidth allows (dequantizing costs compute), while "
    "reading a long KV cache with FlashAttention is more efficient than reading quantized weights.\n"
    "- **Prompt processing** (pp512) is a compute roofline at 50 % of dense 16-bit TFLOPS, not fitted. On "
    "GeForce cards llama.cpp's kernels accumulate in FP16, which runs at twice the FP32-accumulate rate we "
    "list, so we under-estimate them.\n"
    "- **Training fits** checks the QLoRA paper's claims: a 65B model on one 48 GB GPU and a 33B model on one "
    "24 GB GPU. We stay under 48 GB for the 65B; for the 33B we come out a few percent over 24 GB, i.e. our "
    "estimate errs on the safe side there.\n"
    "- The GGUF bits per weight come from llama.cpp's Llama-3.1-8B table; those rows are marked *fit* and are "
    "excluded from the figures above."
)
