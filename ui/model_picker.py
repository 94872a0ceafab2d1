"""The model chooser shared by the hardware and training pages: a catalog preset, an uploaded
config.json, or a custom size whose architecture is derived from the nearest real model and can
be edited. Every choice except the upload is bound to the URL."""

from __future__ import annotations

import streamlit as st

from llm_calc.architecture import ModelSpec, scale_architecture
from llm_calc.catalog import CatalogModel, default_models, nearest_dense_model
from llm_calc.hf_config import ConfigError, parse_config_text
from ui.text import escape_markdown

CUSTOM_SIZES_B = (0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 4, 5, 7, 8, 10, 13, 15, 20, 30, 34, 40, 50, 70, 100,
                  130, 175, 200, 300, 400, 500, 700, 1000, 1500, 2000)  # fmt: skip
ARCH_FIELDS = {  # widget key -> (ModelSpec field, label)
    "arch_layers": ("num_layers", "Layers"),
    "arch_hidden": ("hidden_size", "Hidden size"),
    "arch_heads": ("num_attention_heads", "Attention heads"),
    "arch_kv_heads": ("num_kv_heads", "KV heads"),
    "arch_ffn": ("intermediate_size", "MLP size"),
    "arch_vocab": ("vocab_size", "Vocabulary"),
}


def derived_architecture(billions: float) -> tuple[CatalogModel, ModelSpec]:
    """The custom model's starting architecture: the nearest real dense model, scaled."""
    base = nearest_dense_model(billions * 1e9)
    return base, scale_architecture(base.spec, billions * 1e9, name=f"Custom {billions:g}B")


def _reset_custom_architecture() -> None:
    """When the size slider moves, the editable fields follow the new derived architecture."""
    _, spec = derived_architecture(st.session_state["custom_size"])
    for key, (field, _) in ARCH_FIELDS.items():
        st.session_state[key] = getattr(spec, field)


def training_context(spec: ModelSpec) -> int | None:
    """The context ``spec`` was trained for [tokens], or None for a custom size: a model that was
    never trained has no such limit, and the one of the real model it was scaled from would mislead."""
    return None if st.session_state.get("source") == "Custom size" else spec.max_context


def pick_model(default: str = "Llama 3.1 8B", allow_upload: bool = True) -> tuple[ModelSpec, CatalogModel | None]:
    """Draw the chooser; return the spec and, for a preset, its catalog row. Stops the page with
    a message when no valid model is chosen yet."""
    models = {m.name: m for m in default_models()}
    sources = ["Catalog", "config.json", "Custom size"] if allow_upload else ["Catalog", "Custom size"]
    source = st.radio("Model from", sources, key="source", bind="query-params", horizontal=True)
    if source == "Catalog":
        name = st.selectbox("Model", list(models), index=list(models).index(default), key="model", bind="query-params")
        chosen = models[name]
        st.caption(f"[{chosen.hf_id}]({chosen.source})")
        return chosen.spec, chosen
    if source == "config.json":
        upload = st.file_uploader(
            "Hugging Face config.json",
            type=["json"],
            key="config_upload",
            help="The config.json from a model repository on the Hub.",
        )
        if upload is None:
            st.info("Upload a model's `config.json` to size it.")
            st.stop()
        try:
            spec = parse_config_text(upload.getvalue(), name=upload.name)
        except ConfigError as error:
            st.error(escape_markdown(str(error)))
            st.stop()
        st.caption(f"Read **{escape_markdown(spec.name)}** from the upload.")
        return spec, None
    billions = st.select_slider(
        "Parameters (billions)",
        CUSTOM_SIZES_B,
        value=8,
        key="custom_size",
        bind="query-params",
        on_change=_reset_custom_architecture,
    )
    base, derived = derived_architecture(billions)
    with st.expander("Architecture (editable)"):
        st.caption(
            f"Derived by scaling **{base.name}** to {billions:g} B parameters. A custom model has no "
            "training context, so no context is flagged as too long."
        )
        for key, (field, _) in ARCH_FIELDS.items():
            st.session_state.setdefault(key, getattr(derived, field))
        edits = {
            field: st.number_input(label, min_value=1, max_value=1_000_000, step=1, key=key, bind="query-params")
            for key, (field, label) in ARCH_FIELDS.items()
        }
    if edits["hidden_size"] % edits["num_attention_heads"]:
        st.error(
            f"That architecture is not valid: the hidden size ({edits['hidden_size']:,}) must be a whole "
            f"multiple of the attention heads ({edits['num_attention_heads']:,}), so that every head gets "
            "the same whole number of dimensions."
        )
        st.stop()
    try:
        spec = derived.with_changes(head_dim=edits["hidden_size"] // edits["num_attention_heads"], **edits)
    except ValueError as error:
        st.error(f"That architecture is not valid: {escape_markdown(str(error))}")
        st.stop()
    return spec, None
