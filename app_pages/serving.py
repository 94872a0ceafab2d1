"""Serving: how fast each user is served, and how many at once, on one deployment, and at what cost."""

import streamlit as st

from llm_calc.catalog import CatalogError, default_gpus
from llm_calc.hardware import serving_curve
from ui.charts import serving_figure
from ui.engine_view import request_overhead_text
from ui.model_picker import pick_served_model, warn_beyond_training_context
from ui.serving_view import (
    DEFAULT_USER_SPEED,
    USER_SPEED_RANGE,
    curve_table,
    engine_note,
    pick_deployment,
    serving_metrics,
)
from ui.text import escape_markdown
from ui.url_params import read_link, report_ignored

try:
    GPUS = default_gpus()
except CatalogError as error:
    st.error(f"The data files do not load: {escape_markdown(str(error))}")
    st.stop()

st.title("Serving")
st.write(
    "One deployment under load: as users are added, each gets fewer tokens per second while all of "
    "them together get more, until the KV cache fills the memory. Share the URL to share the view."
)

# --- inputs -----------------------------------------------------------------------------------
link = read_link()
notices = st.container()  # the link's ignored values and why there is no result yet
with st.sidebar:
    model = pick_served_model(notices)
    st.header("Deployment")
    deployment = pick_deployment(GPUS)
min_speed = st.slider(
    "Speed each user must get (tokens/s)", *USER_SPEED_RANGE, DEFAULT_USER_SPEED, key="user_speed", bind="query-params"
)
report_ignored(link, notices)

# --- results ----------------------------------------------------------------------------------
spec = model.spec
try:
    settings = model.inference_settings(kv_format=deployment.kv_format)
    curve = serving_curve(
        spec,
        settings,
        deployment.gpu,
        deployment.cards,
        deployment.prompt_tokens,
        deployment.output_tokens,
        engine=deployment.engine,
        parallel=deployment.parallel,
        min_per_user_tokens_per_s=min_speed,
    )
except ValueError as error:
    st.error(f"Cannot serve this: {escape_markdown(str(error))}")
    st.stop()

st.subheader(f"{spec.name} on {curve.cards} × {curve.gpu.name} with {curve.engine}")
engine_note(curve, spec)
warn_beyond_training_context(spec, "a request", deployment.prompt_tokens + deployment.output_tokens)

point = curve.busiest_point(min_speed)
serving_metrics(curve, point, min_speed)
st.plotly_chart(serving_figure(curve, point, min_speed), key="serving_chart")
curve_table(curve)

with st.expander("Assumptions"):
    st.markdown(
        "- Every user's request holds its prompt plus its whole answer in the KV cache; a decode step reads "
        "it at its average depth, the prompt plus half the answer.\n"
        "- Users are added by doubling up to the most the engine's KV memory holds (vLLM and SGLang "
        "reserve a share of each card, TensorRT-LLM a share of what the weights leave).\n"
        "- Time to first token is prefill plus one decode step with nobody queued ahead"
        + request_overhead_text(curve.profile)
        + "; prompts arriving while others decode slow both down, which this view does not model.\n"
        "- Cost is the catalog's hourly rental price of all the cards over the output tokens of all users."
    )
