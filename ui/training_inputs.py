"""The training page's sidebar below the model: method, batch, GPUs, data and cost, every widget bound
to the URL with plain option values (``?method=qlora&optimizer=sgd``). :func:`training_inputs` draws
them and returns what was chosen; :meth:`TrainingInputs.setup` turns it into the
``llm_calc.training.TrainingSetup`` the package takes."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from llm_calc.catalog import Gpu
from llm_calc.training import (
    DEFAULT_MFU,
    DEFAULT_OPTIMIZER_IMPL,
    DEFAULT_WEIGHTS_PRECISION,
    LORA_TARGETS,
    METHODS,
    OPTIMIZER_IMPLS,
    OPTIMIZERS,
    WEIGHTS_PRECISIONS,
    TrainingSetup,
)
from llm_calc.units import format_count
from ui.training_view import IMPL_LABELS, METHOD_LABELS, OPTIMIZER_LABELS, PRECISION_LABELS

GPU_COUNTS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
"""GPU counts offered, and the counts the "Time and cost" tab plots."""
SEQ_LENS = (256, 512, 1024, 2048, 4096, 8192, 16384, 32768)
"""Sequence lengths offered. [tokens]"""
RANKS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
"""LoRA ranks offered."""
DEFAULT_CARD = "NVIDIA A100 80GB SXM"
"""The card the page opens on: the one the worked examples' runs were priced on."""
DEFAULT_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]
"""The LoRA target modules the page opens on: every attention projection."""


@dataclass(frozen=True)
class TrainingInputs:
    """What the sidebar chose, as typed (checked by ``TrainingSetup`` when :meth:`setup` builds it)."""

    method: str
    optimizer: str
    weights_precision: str
    optimizer_impl: str
    lora_rank: int
    lora_alpha: int
    lora_targets: list[str]
    """As chosen; may be empty (the setup then trains q_proj, and the page says so)."""
    seq_len: int
    micro_batch: int
    checkpointing: bool
    flash_attention: bool
    gpu: Gpu
    gpus: int
    zero_stage: int
    tensor_parallel: int
    """As chosen; may exceed ``gpus`` (the setup then uses ``gpus``, and the page says so)."""
    dataset_tokens: int
    epochs: int
    mfu: float
    price_override_usd: float
    """Price per GPU-hour typed in the sidebar; 0 for the catalog's. [$]"""
    attention_flops: bool

    @property
    def tokens(self) -> float:
        """Tokens trained on: the dataset once per epoch."""
        return float(self.dataset_tokens) * self.epochs

    @property
    def price_per_hour_usd(self) -> float | None:
        """The typed price per GPU-hour, else the catalog's (None: the catalog has none). [$]"""
        return self.price_override_usd or self.gpu.price_per_hour_usd

    def setup(self) -> TrainingSetup:
        """The ``TrainingSetup`` of these choices; raises ``ValueError`` as it does."""
        return TrainingSetup(
            method=self.method,
            optimizer=self.optimizer,
            weights_precision=self.weights_precision,
            optimizer_impl=self.optimizer_impl,
            seq_len=self.seq_len,
            micro_batch=self.micro_batch,
            checkpointing=self.checkpointing,
            flash_attention=self.flash_attention,
            gpus=self.gpus,
            zero_stage=self.zero_stage,
            tensor_parallel=min(self.tensor_parallel, self.gpus),
            lora_rank=self.lora_rank,
            lora_alpha=self.lora_alpha,
            lora_targets=tuple(self.lora_targets) or ("q_proj",),
        )


def training_inputs(catalog: tuple[Gpu, ...]) -> TrainingInputs:
    """Draw the "Method", "Batch", "GPUs" and "Data and cost" blocks (Apple cards are not offered for
    training); return what they chose."""
    st.header("Method")
    # plain option values (no format_func) keep shared links readable: ?method=qlora&optimizer=sgd
    method = st.radio("Method", METHODS, captions=list(METHOD_LABELS.values()), key="method", bind="query-params")
    # the optimizer keeps states for whatever is trained: every weight, or only the LoRA adapters
    optimizer = st.selectbox(
        "Optimizer",
        OPTIMIZERS,
        key="optimizer",
        bind="query-params",
        help="; ".join(f"{name}: {label}" for name, label in OPTIMIZER_LABELS.items()),
    )
    weights_precision = st.radio(
        "Weights precision",
        WEIGHTS_PRECISIONS,
        index=WEIGHTS_PRECISIONS.index(DEFAULT_WEIGHTS_PRECISION),
        captions=[PRECISION_LABELS[p] for p in WEIGHTS_PRECISIONS],
        key="weights_precision",
        bind="query-params",
    )
    optimizer_impl = st.radio(
        "Optimizer implementation",
        OPTIMIZER_IMPLS,
        index=OPTIMIZER_IMPLS.index(DEFAULT_OPTIMIZER_IMPL),
        captions=[IMPL_LABELS[i] for i in OPTIMIZER_IMPLS],
        horizontal=True,
        key="optimizer_impl",
        bind="query-params",
        help="torch.optim's foreach/fused flags. Transformers' Trainer asks for fused (adamw_torch_fused).",
    )
    full = method == "full"  # LoRA's settings are shown but greyed out
    rank = st.select_slider("LoRA rank", RANKS, value=16, key="rank", bind="query-params", disabled=full)
    alpha = st.number_input(
        "LoRA alpha", 1, 4096, 32, key="alpha", bind="query-params", disabled=full,
        help="Scales the update by alpha / rank; no effect on memory.",
    )  # fmt: skip
    targets = st.multiselect(
        "LoRA target modules", LORA_TARGETS, default=DEFAULT_TARGETS,
        key="targets", bind="query-params", disabled=full,
    )  # fmt: skip

    st.header("Batch")
    seq_len = st.select_slider("Sequence length (tokens)", SEQ_LENS, value=2048, key="seq", bind="query-params")
    micro_batch = st.number_input("Micro-batch (sequences per GPU)", 1, 1024, 1, key="micro", bind="query-params")
    # a fixed default (not one that follows the method): a link reproduces whatever path led to it
    checkpointing = st.toggle("Gradient checkpointing", value=False, key="ckpt", bind="query-params")
    flash = st.toggle("FlashAttention", value=True, key="flash_train", bind="query-params")

    st.header("GPUs")
    names = [g.name for g in catalog if not g.is_apple]
    gpu_name = st.selectbox("Card", names, index=names.index(DEFAULT_CARD), key="card", bind="query-params")
    gpus = st.select_slider("Number of GPUs", GPU_COUNTS, value=1, key="n_gpus", bind="query-params")
    zero = st.radio(
        "ZeRO / FSDP stage", (0, 1, 2, 3), horizontal=True, key="zero", bind="query-params",
        help="1 shards optimizer states, 2 also gradients, 3 (FSDP full shard) also weights.",
    )  # fmt: skip
    tensor_parallel = st.select_slider("Tensor parallel", (1, 2, 4, 8), value=1, key="tp", bind="query-params")

    st.header("Data and cost")
    dataset_tokens = st.number_input(
        "Dataset tokens", 1, 10**15, 100_000_000, step=1_000_000, key="tokens", bind="query-params",
        help="Tokens in the training data. The token estimator links here with its count.",
    )  # fmt: skip
    st.caption(f"= {format_count(dataset_tokens)} tokens")
    epochs = st.number_input("Epochs", 1, 1000, 1, key="epochs", bind="query-params")
    mfu = st.slider("Model-FLOPs utilisation", 0.05, 0.8, DEFAULT_MFU, 0.01, key="train_mfu", bind="query-params")
    price_override = st.number_input(
        "Price per GPU-hour ($, 0 = catalog price)", 0.0, 1000.0, 0.0, key="gpu_price", bind="query-params"
    )
    attention_flops = st.toggle("Count attention FLOPs", key="attn_flops", bind="query-params")
    return TrainingInputs(
        method=method,
        optimizer=optimizer,
        weights_precision=weights_precision,
        optimizer_impl=optimizer_impl,
        lora_rank=rank,
        lora_alpha=int(alpha),
        lora_targets=targets,
        seq_len=seq_len,
        micro_batch=int(micro_batch),
        checkpointing=checkpointing,
        flash_attention=flash,
        gpu=next(g for g in catalog if g.name == gpu_name),
        gpus=gpus,
        zero_stage=zero,
        tensor_parallel=tensor_parallel,
        dataset_tokens=dataset_tokens,
        epochs=epochs,
        mfu=mfu,
        price_override_usd=price_override,
        attention_flops=attention_flops,
    )
