"""The model chooser shared by the hardware, serving and training pages: a catalog preset, an
uploaded config.json, any Hugging Face id, a GGUF header (hardware calculator only), or a custom size
whose architecture is derived from the nearest real model and can be edited. Every choice except the
uploads is bound to the URL. The pages that serve a model (hardware calculator, serving) draw the
chooser and the weight precision as one block, :func:`pick_served_model`, so they stay in step.

A config.json (uploaded, read from the Hub, or stored for a catalog model that ships quantized)
also says how its checkpoint is stored (``quantization_config``): :func:`pick_precision` then
offers "auto" (as shipped) and makes it the default when the checkpoint is quantized, so
DeepSeek-V3 is sized in fp8 and gpt-oss in MXFP4."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

import streamlit as st

from llm_calc.architecture import ModelSpec, scale_architecture
from llm_calc.catalog import CatalogModel, default_models, nearest_dense_model, shipped_checkpoint
from llm_calc.gguf import GgufHeader, combine_split, gguf_model_spec, parse_gguf_header
from llm_calc.gguf import storage_plan as gguf_storage_plan
from llm_calc.hf_config import ConfigError, parse_checkpoint_text, parse_config_text
from llm_calc.hub import (
    GGUF_SCHEME,
    MAX_REPO_PART_CHARS,
    HubError,
    HubGguf,
    HubModel,
    HubSettings,
    fetch_gguf_split,
    fetch_model,
    split_gguf_uri,
    token_from_env,
)
from llm_calc.memory import InferenceSettings
from llm_calc.precision import AS_SHIPPED, WEIGHT_FORMATS, WEIGHT_PRECISIONS, weight_format
from llm_calc.quantization import Checkpoint, StoragePlan, storage_plan
from ui.text import escape_markdown

CATALOG, UPLOAD, HUB, GGUF, CUSTOM = "Catalog", "config.json", "Hugging Face id", "GGUF header", "Custom size"
"""The model sources, as the "Model from" radio shows them (and the URL carries them)."""
ALL_FAMILIES = "All"
"""The family filter's first option (and default): the whole catalog, so that a link naming only a
model opens it whatever its family."""
HUB_ID_MAX_CHARS = 2 * MAX_REPO_PART_CHARS + 1
"""ORG/NAME: each part at most ``llm_calc.hub.MAX_REPO_PART_CHARS`` characters."""
GGUF_HUB_PATH_MAX_CHARS = HUB_ID_MAX_CHARS + 1 + 512
"""ORG/NAME/PATH/FILE.gguf: the id, then a path inside the repository of up to 512 characters (a
folder or two, such as ``Q4_K_M/``, and a file name; each part at most 255, ``llm_calc.hub``'s rule)."""
PLAIN_DEFAULT = "bf16"
"""The precision of a model whose checkpoint we do not know or that is not quantized."""

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
    return None if st.session_state.get("source") == CUSTOM else spec.max_context


@dataclass(frozen=True)
class ModelChoice:
    """What the chooser gives a page: the architecture and, by source, what else is known of it."""

    spec: ModelSpec | None
    """None only for a GGUF header whose architecture is not modelled (``not_modelled`` says why)."""
    catalog: CatalogModel | None = None
    checkpoint: Checkpoint | None = None
    """How a config.json's weights are stored (uploaded or from the Hub); None for other sources."""
    hub: HubModel | None = None
    gguf: GgufHeader | None = None
    not_modelled: str | None = None


def catalog_order(models: list[CatalogModel]) -> list[CatalogModel]:
    """The catalog grouped by family, the family with the newest release first, and newest first
    within a family (``released`` is ``YYYY-MM``, so text order is date order)."""
    newest: dict[str, str] = {}
    for model in models:
        newest[model.family] = max(newest.get(model.family, ""), model.released)
    return sorted(models, key=lambda m: (_descending(newest[m.family]), m.family, _descending(m.released), m.name))


def catalog_families(models: list[CatalogModel]) -> list[str]:
    """The families of ``models``, the one with the newest release first."""
    return list(dict.fromkeys(m.family for m in catalog_order(models)))


def family_models(models: list[CatalogModel], family: str) -> list[CatalogModel]:
    """The models of ``family`` (every model for ``ALL_FAMILIES``), in :func:`catalog_order`."""
    return [m for m in catalog_order(models) if family in (ALL_FAMILIES, m.family)]


def _first_of_family() -> None:
    """A new family shows its newest model, not an empty box (the model chosen before is in
    another family)."""
    shown = family_models(list(default_models()), st.session_state["family"])
    if st.session_state.get("model") not in {m.name for m in shown}:
        st.session_state["model"] = shown[0].name


def _catalog_model(default: str) -> CatalogModel:
    """A family filter above a model box (type in it to search by name), both bound to the URL.
    Every family by default, so an old link that names only a model (``?model=Llama+3+70B``) opens it.
    Stacked, not side by side: in the sidebar two columns cut names such as
    "Qwen3-Next-80B-A3B-Thinking" after a dozen characters."""
    models = list(default_models())
    families = [ALL_FAMILIES, *catalog_families(models)]
    family = st.selectbox(
        "Family",
        families,
        key="family",
        bind="query-params",
        on_change=_first_of_family,
        help="Newest family first.",
    )
    shown = {m.name: m for m in family_models(models, family or ALL_FAMILIES)}
    names = list(shown)
    held = "model" in st.session_state  # the session's value (a family change sets it): index would warn
    name = st.selectbox(
        "Model",
        names,
        index=None if held else names.index(default) if default in shown else 0,
        key="model",
        bind="query-params",
        help="Newest first; type to search by name.",
    )
    return shown[name or names[0]]


def _descending(text: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in text)


def _stop(notices: Any, kind: str, text: str) -> NoReturn:
    """Say why there is no result yet (``kind``: "info" or "error") where the page's results would
    be — the sidebar is folded away on a phone — and end the run."""
    getattr(notices or st, kind)(text)
    st.stop()


@st.cache_data(ttl="1h", show_spinner=False)
def _hub_model(repo_id: str, settings: HubSettings) -> HubModel:
    """``fetch_model``, kept an hour per id and settings (endpoint, cache folders): a failure raises
    and is not kept, so the next try asks again."""
    return fetch_model(repo_id, settings)


@st.cache_resource(max_entries=8, show_spinner=False)
def _gguf_header(file_id: str, _data: bytes) -> GgufHeader:
    """The upload's header, parsed once per uploaded file (``file_id``) rather than at every rerun."""
    return parse_gguf_header(_data)


def pick_model(
    default: str = "Llama 3.1 8B", allow_upload: bool = True, allow_gguf: bool = False, notices: Any = None
) -> ModelChoice:
    """Draw the chooser; return the chosen model. Stops the page with a message (in ``notices``, a
    container of the page's main area, else where the chooser is) when no valid model is chosen yet."""
    sources = [CATALOG, *([UPLOAD] if allow_upload else []), HUB, *([GGUF] if allow_gguf else []), CUSTOM]
    source = st.radio("Model from", sources, key="source", bind="query-params", horizontal=True)
    if source == CATALOG:
        chosen = _catalog_model(default)
        st.caption(f"[{chosen.hf_id}]({chosen.source}) · {escape_markdown(chosen.family)}, {chosen.released}")
        return ModelChoice(chosen.spec, checkpoint=shipped_checkpoint(chosen.hf_id), catalog=chosen)
    if source == UPLOAD:
        return _uploaded_config(notices)
    if source == HUB:
        return _hub_id(notices)
    if source == GGUF:
        return _gguf_upload(notices)
    return ModelChoice(_custom_size(notices))


def _uploaded_config(notices: Any) -> ModelChoice:
    upload = st.file_uploader(
        "Hugging Face config.json",
        type=["json"],
        key="config_upload",
        help="The config.json from a model repository on the Hub.",
    )
    if upload is None:
        _stop(notices, "info", "Upload a model's `config.json` to size it.")
    try:
        spec = parse_config_text(upload.getvalue(), name=upload.name)
        checkpoint = parse_checkpoint_text(upload.getvalue(), name=upload.name)
    except ConfigError as error:
        _stop(notices, "error", escape_markdown(str(error)))
    st.caption(f"Read **{escape_markdown(spec.name)}** from the upload.")
    return ModelChoice(spec, checkpoint=checkpoint)


def _hub_id(notices: Any) -> ModelChoice:
    repo_id = st.text_input(
        "Hugging Face model id",
        key="hf_id",
        bind="query-params",
        max_chars=HUB_ID_MAX_CHARS,
        placeholder="ORG/NAME, e.g. Qwen/Qwen3-8B",
        help="Any model repository on the Hub: its config.json is read, and the safetensors headers "
        "for the checkpoint's stored size (never the weights).",
    ).strip()
    if not repo_id:
        _stop(notices, "info", "Type a model's Hugging Face id (ORG/NAME) to size it.")
    try:
        settings = HubSettings.from_env(token=token_from_env(shared_deployment=True))
        with st.spinner(f"Reading {repo_id} from the Hub…"):
            hub = _hub_model(repo_id, settings)
        checkpoint = parse_checkpoint_text(hub.config.path.read_bytes(), name=hub.repo_id)
    except (HubError, ConfigError) as error:
        _stop(notices, "error", escape_markdown(str(error)))
    st.caption(
        f"Read [{escape_markdown(hub.repo_id)}]({settings.endpoint}/{hub.repo_id}) at commit `{hub.commit[:12]}`."
    )
    return ModelChoice(hub.spec, checkpoint=checkpoint, hub=hub)


@st.cache_data(ttl="1h", show_spinner=False)
def _hub_gguf(repo_id: str, filename: str, settings: HubSettings) -> tuple[HubGguf, ...]:
    """``fetch_gguf_split`` (every shard of a split file), kept an hour per file and settings: a
    failure raises and is not kept."""
    return fetch_gguf_split(repo_id, filename, settings)


def _gguf_upload(notices: Any) -> ModelChoice:
    upload = st.file_uploader(
        "GGUF header (first 32 MB)",
        type=["gguf"],
        key="gguf_upload",
        help="head -c 32M model.gguf > header.gguf — the header lists every tensor; the weights are not needed.",
    )
    hub_path = st.text_input(
        "…or a GGUF on the Hugging Face Hub",
        key="gguf_hub",
        bind="query-params",
        max_chars=GGUF_HUB_PATH_MAX_CHARS,
        placeholder="ORG/NAME/FILE.gguf, e.g. Qwen/Qwen3-8B-GGUF/Qwen3-8B-Q4_K_M.gguf",
        help="Only the file's header is read (ranged reads of its first megabytes), never its weights.",
    ).strip()
    if hub_path:
        try:
            repo_id, filename = split_gguf_uri(GGUF_SCHEME + hub_path.removeprefix(GGUF_SCHEME))
            settings = HubSettings.from_env(token=token_from_env(shared_deployment=True))
            with st.spinner(f"Reading the header of {hub_path} from the Hub…"):
                shards = _hub_gguf(repo_id, filename, settings)
            header = combine_split([shard.header for shard in shards])
        except (HubError, ValueError) as error:  # ValueError: shards that do not make one split
            _stop(notices, "error", escape_markdown(str(error)))
        name = header.name or filename
        others = len(shards) - 1
        several = f" and its {others:,} other shard{'s' if others > 1 else ''}" if others else ""
        where = (
            f" from [{escape_markdown(repo_id)}]({settings.endpoint}/{repo_id}) "
            f"`{escape_markdown(filename)}`{several} at commit `{shards[0].commit[:12]}`"
        )
    else:
        if upload is None:
            _stop(
                notices,
                "info",
                "Upload the start of a `.gguf` file: `head -c 32M model.gguf > header.gguf`, "
                "or name a GGUF on the Hub as ORG/NAME/FILE.gguf.",
            )
        try:
            header = _gguf_header(upload.file_id, upload.getvalue())
        except ValueError as error:  # GgufTruncatedError included: it says how much more to upload
            _stop(notices, "error", escape_markdown(str(error)))
        name, where = header.name or upload.name, ""
    if not header.tensors:
        _stop(notices, "error", "This GGUF lists no tensors (a vocabulary-only file?): nothing to size.")
    st.caption(
        f"Read **{escape_markdown(name)}**{where}: {escape_markdown(header.architecture or 'no architecture')}, "
        f"{escape_markdown(header.file_type or 'no file type')}, {len(header.tensors):,} tensors"
    )
    try:
        return ModelChoice(gguf_model_spec(header, name=name), gguf=header)
    except ValueError as error:  # the weights are still exact: the page shows them and the refusal
        return ModelChoice(None, gguf=header, not_modelled=str(error))


def _custom_size(notices: Any) -> ModelSpec:
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
        _stop(
            notices,
            "error",
            f"That architecture is not valid: the hidden size ({edits['hidden_size']:,}) must be a whole "
            f"multiple of the attention heads ({edits['num_attention_heads']:,}), so that every head gets "
            "the same whole number of dimensions.",
        )
    try:
        return derived.with_changes(head_dim=edits["hidden_size"] // edits["num_attention_heads"], **edits)
    except ValueError as error:
        _stop(notices, "error", f"That architecture is not valid: {escape_markdown(str(error))}")


def pick_precision(choice: ModelChoice, notices: Any = None) -> tuple[str, StoragePlan | None]:
    """Draw the weight precision; return it and, as shipped (``"auto"``), the checkpoint's storage plan.

    "auto" is offered when the model comes with its checkpoint (a config.json, a Hub id, a catalog
    model that ships quantized) and is the default when that checkpoint is quantized; other
    catalog models have no checkpoint on record, so it is not offered there. A GGUF file's
    tensors carry their own types: no choice.
    When the model changes to one with another default, the precision follows it, so a quantized
    checkpoint is never shown in bf16 because a bf16 model was chosen before it.
    """
    if choice.gguf is not None:
        plan = gguf_storage_plan(choice.gguf)
        st.caption(f"Weights {escape_markdown(plan.label)}: each tensor at its own type, to the byte.")
        return AS_SHIPPED, plan
    checkpoint = choice.checkpoint
    options = list(WEIGHT_PRECISIONS if checkpoint is not None else WEIGHT_FORMATS)
    quantized = checkpoint is not None and checkpoint.quantization is not None
    stand_in = choice.catalog.shipped_weight_format if choice.catalog and checkpoint is None else None
    default = AS_SHIPPED if quantized else stand_in or PLAIN_DEFAULT
    held = "precision" in st.session_state
    if held and (st.session_state.get("_precision_default") != default or st.session_state["precision"] not in options):
        st.session_state["precision"] = default
    st.session_state["_precision_default"] = default
    precision = st.selectbox(
        "Weight precision",
        options,
        index=None if held else options.index(default),  # held: the session's value (index would warn)
        key="precision",
        bind="query-params",
        help="auto: as shipped, each parameter group as the checkpoint stores it (its quantization_config)"
        if checkpoint is not None
        else None,
    )
    if precision is None:  # not reachable from the widget (every option is valid); guards the types
        precision = default
    if precision == AS_SHIPPED and checkpoint is not None and choice.spec is not None:
        try:
            plan = storage_plan(choice.spec, checkpoint)
        except ValueError as error:
            _stop(notices, "error", f"Cannot size this checkpoint as shipped: {escape_markdown(str(error))}")
        st.caption(escape_markdown(plan.label))
        return AS_SHIPPED, plan
    fmt = weight_format(precision)
    st.caption(f"{fmt.label}: {fmt.bits:.4g} bits per weight ({fmt.note}).")
    if stand_in is not None and precision == stand_in:
        st.caption(
            f"It ships as {escape_markdown(choice.catalog.checkpoint_kind)}; its config.json is not stored to size "
            f"it to the byte, so {fmt.label} stands in."
        )
    return precision, None


@dataclass(frozen=True)
class ServedModel:
    """The "Model" block of the pages that serve a model: the model and how its weights are stored."""

    choice: ModelChoice
    precision: str
    """A weight format's name, or ``"auto"`` (``llm_calc.precision.AS_SHIPPED``) with ``storage``."""
    storage: StoragePlan | None
    """The checkpoint's storage by parameter group when the precision is "auto" (or a GGUF file's)."""

    @property
    def spec(self) -> ModelSpec | None:
        """The architecture (None only for a GGUF header whose architecture is not modelled)."""
        return self.choice.spec

    def inference_settings(self, **serving: Any) -> InferenceSettings:
        """``llm_calc.memory.InferenceSettings`` with these weights (precision, storage, a multimodal
        checkpoint's vision tower) and the page's serving choices (``kv_format``, ``context_tokens``,
        ...); raises ``ValueError`` as ``InferenceSettings`` does."""
        checkpoint = self.choice.checkpoint
        return InferenceSettings(
            weight_format=self.precision,
            storage=self.storage,
            vision_params=checkpoint.vision_params if checkpoint else 0,
            **serving,
        )


def pick_served_model(notices: Any = None, allow_gguf: bool = False) -> ServedModel:
    """Draw the "Model" block of the hardware calculator and the serving page: the header, the
    chooser and the weight precision, with the same widget keys on both (a link's ``model``,
    ``source``, ``precision``... open the same model on either). Stops the page with a message in
    ``notices`` when no valid model is chosen yet."""
    st.header("Model")
    choice = pick_model(allow_gguf=allow_gguf, notices=notices)
    precision, storage = pick_precision(choice, notices)
    return ServedModel(choice, precision, storage)


def warn_beyond_training_context(spec: ModelSpec, what: str, tokens: int) -> None:
    """Warn when ``tokens`` (``what``: "a context", "a request") is longer than the context ``spec``
    was trained for (never for a custom size: :func:`training_context`)."""
    trained_for = training_context(spec)
    if trained_for is not None and tokens > trained_for:
        st.warning(
            f"{spec.name} was trained for {trained_for:,} tokens; {what} of {tokens:,} tokens needs RoPE "
            "scaling or another extension. The estimates of memory and speed still hold."
        )
