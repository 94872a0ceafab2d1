"""Primer 4 — sources: where every figure in the primer and the tools comes from."""

import pandas as pd
import streamlit as st

from llm_calc.catalog import default_gpus, default_models
from llm_calc.tokenizers import REGISTRY
from llm_calc.tokens import api_models
from ui.primer import primer_footer

REFERENCES = [
    ("Vaswani et al. 2017, “Attention Is All You Need”", "the Transformer"),
    ("Brown et al. 2020, “Language Models are Few-Shot Learners” (GPT-3), Tables 2.1 and D.1",
     "GPT-3 175B, 2,048-token context, 3.14e23 training FLOPs"),
    ("Touvron et al. 2023, “LLaMA: Open and Efficient Foundation Language Models”, section 2.4",
     "LLaMA sizes; 65B trained on 1.4 T tokens, 2,048 A100-80GB, ~380 tokens/s/GPU, ~21 days"),
    ("Gao et al. 2020, “The Pile: An 800GB Dataset of Diverse Text for Language Modeling”",
     "The Pile: 825 GiB, 22 sources"),
    ("Köpf et al. 2023, “OpenAssistant Conversations”", "161,443 human-written messages"),
    ("Common Crawl (commoncrawl.org)", "monthly public web snapshots"),
    ("Kaplan et al. 2020, “Scaling Laws for Neural Language Models”", "≈ 6 FLOPs per parameter per training token"),
    ("Hoffmann et al. 2022, “Training Compute-Optimal Large Language Models”", "≈ 20 tokens per parameter"),
    ("Chowdhery et al. 2022, “PaLM”, appendix B", "attention FLOPs term; model-FLOPs utilisation (46.2 %)"),
    ("Korthikanti et al. 2022, “Reducing Activation Recomputation in Large Transformer Models”", "activation memory"),
    ("Rajbhandari et al. 2020, “ZeRO”", "16 bytes per parameter for mixed-precision Adam; ZeRO stages"),
    ("Hu et al. 2021, “LoRA”; Dettmers et al. 2023, “QLoRA”", "adapters; NF4; 65B on one 48 GB GPU"),
    ("Dao 2023, “FlashAttention-2”", "attention without the n × n matrix; 50–73 % of peak"),
    ("Kwon et al. 2023, “PagedAttention” (vLLM)", "KV cache per token"),
    ("Ainslie et al. 2023, “GQA”; DeepSeek-AI 2024, “DeepSeek-V2/V3”", "grouped-query and latent attention"),
    ("OpenAI Help Center, “What are tokens and how to count them?”", "≈ ¾ word per token (≈ 1.3 tokens per word)"),
    ("OpenAI Cookbook, “How to count tokens with tiktoken”", "chat-format overhead"),
    ("llama.cpp tools/quantize/README.md", "GGUF bits per weight and file sizes"),
    ("Lambda Labs 2020, “OpenAI's GPT-3 Language Model: A Technical Overview”", "GPT-3 ≈ $4.6M on V100 cloud"),
    ("MosaicML 2022, “Mosaic LLMs (Part 2): GPT-3 quality for <$500k”", "GPT-3-quality training under $500k"),
    ("Holtzman et al. 2020, “The Curious Case of Neural Text Degeneration”", "temperature sampling"),
]  # fmt: skip

st.title("Sources")
st.write(
    "Where every figure comes from. Papers and documents first; then each catalog row with its own source, "
    "exactly as the tools use them."
)

st.header("Papers and documents")
st.dataframe(pd.DataFrame(REFERENCES, columns=["source", "what we take from it"]), hide_index=True, width="stretch")

st.header("Models (data/models.csv)")
st.dataframe(
    pd.DataFrame(
        [
            {
                "model": m.name,
                "Hugging Face id": m.hf_id,
                "parameters (published)": m.params_published,
                "published in": m.params_source,
                "architecture from": m.source,
            }
            for m in default_models()
        ]
    ),
    hide_index=True,
    width="stretch",
    column_config={"parameters (published)": st.column_config.NumberColumn(format="localized")},
)

st.header("GPUs (data/gpus.csv)")
st.dataframe(
    pd.DataFrame(
        [
            {
                "card": g.name,
                "specifications from": g.source,
                "price ($/h)": g.price_per_hour_usd,
                "price from": g.price_source,
                "link from": g.interconnect_source,
                "weight streaming (GB/s)": g.weight_stream_gbs,
                "weight streaming from": g.weight_stream_source,
            }
            for g in default_gpus()
        ]
    ),
    hide_index=True,
    width="stretch",
    column_config={"weight streaming (GB/s)": st.column_config.NumberColumn(format="localized")},
)

st.header("Context windows and prices (data/api_models.csv)")
st.dataframe(
    pd.DataFrame(
        [
            {
                "model": m.model,
                "window (tokens)": m.context_tokens,
                "window from": m.context_source,
                "price as of": m.price_as_of,
                "price from": m.price_source,
            }
            for m in api_models()
        ]
    ),
    hide_index=True,
    width="stretch",
    column_config={"window (tokens)": st.column_config.NumberColumn(format="localized")},
)

st.header("Tokenizers")
st.dataframe(
    pd.DataFrame([{"tokenizer": i.label, "used by": i.models, "file": i.source} for i in REGISTRY.values()]),
    hide_index=True,
    width="stretch",
)

primer_footer("app_pages/primer_sources.py")
