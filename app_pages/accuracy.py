"""Accuracy: our estimates beside published measurements, with the error of each."""

import streamlit as st

from llm_calc.accuracy import default_measurements, default_stored_held_out_estimates, evaluate, summarize
from llm_calc.catalog import CatalogError
from ui import accuracy_view as view
from ui.text import escape_markdown
from ui.url_params import read_link, report_ignored

try:
    measurements = default_measurements()
except (CatalogError, ValueError) as error:
    st.error(f"data/measurements.csv does not load: {escape_markdown(str(error))}")
    st.stop()

held_out = default_stored_held_out_estimates()  # the held-out fits as the baseline stores them: no refit
st.title("How accurate is this?")
view.opening(measurements, held_out)

link = read_link()
efficiency = view.efficiency_override()
report_ignored(link)
evaluation = evaluate(measurements, efficiency, held_out)
comparisons = evaluation.comparisons
summaries = summarize(comparisons)

view.summary_metrics(summaries)

st.subheader("Goals")
view.goals(summaries)

st.subheader("Decode speed error by engine, cards and model")
view.breakdowns(comparisons)

st.subheader("Earlier engine releases")
view.superseded_releases(comparisons)

st.subheader("Engine profiles")
view.engine_profiles()

st.subheader("Estimate against measurement")
view.estimate_against_measurement(comparisons)

st.subheader("Decode speed error by device family")
view.decode_error_by_vendor(comparisons)

view.not_yet_estimated(evaluation.not_estimated)

st.subheader("Every row")
view.every_row(comparisons)

st.subheader("What the errors mean")
view.what_the_errors_mean(summaries, comparisons)
