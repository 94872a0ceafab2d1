"""The tables the hardware and training pages build from results (ui/calculator_view.py,
ui/training_view.py), checked on hand-made inputs so that each expected cell is known in advance."""

from dataclasses import replace

from llm_calc.architecture import ParameterCount
from llm_calc.catalog import find_model
from llm_calc.training import TrainingMemory
from ui.calculator_view import architecture_table, parameter_table
from ui.training_view import memory_parts_table

GIB = 2**30
LLAMA_3_70B = find_model("meta-llama/Meta-Llama-3-70B").spec


def test_the_architecture_table_shows_config_values_with_separators():
    """Llama 3 70B's config.json (https://huggingface.co/meta-llama/Meta-Llama-3-70B/blob/main/config.json):
    hidden_size 8192, intermediate_size 28672, max_position_embeddings 8192. A reader who saw "8192"
    or "28672" would miscount digits."""
    table = dict(architecture_table(LLAMA_3_70B, trained_for=8192).values.tolist())
    assert (table["hidden_size"], table["intermediate_size"], table["max_context"]) == ("8,192", "28,672", "8,192")


def test_a_custom_model_has_no_training_context():
    """A custom size was never trained: its table says so rather than showing the context of the
    real model it was scaled from."""
    table = dict(architecture_table(replace(LLAMA_3_70B, name="Custom 70B"), trained_for=None).values.tolist())
    assert table["max_context"] == "none (custom model)"


def test_the_parameter_table_lists_the_parts_in_order():
    """Six rows, the total among them; counts with thousands separators."""
    count = ParameterCount(embedding=1_000, attention=2_000, mlp=3_000, norms=40, total=6_040, active=6_040)
    table = parameter_table(count)
    assert table["part"].tolist() == ["embeddings", "attention", "MLP / experts", "norms", "total", "active per token"]
    assert table["parameters"].tolist() == ["1,000", "2,000", "3,000", "40", "6,040", "6,040"]


def test_the_memory_table_marks_the_smaller_transient_part_as_not_in_the_peak():
    """The optimizer step runs after backward has freed the activations, so only the larger of
    activations (here 1 GiB) and step temporaries (here 3 GiB) is in the peak: 4 + 0 + 2 + 1 + 3 = 10 GiB."""
    memory = TrainingMemory(
        weights_bytes=4 * GIB,
        gradients_bytes=0,
        optimizer_bytes=2 * GIB,
        activations_bytes=1 * GIB,
        overhead_bytes=1 * GIB,
        step_temporaries_bytes=3 * GIB,
    )
    table = memory_parts_table(memory, "lora").set_index("part")
    assert table.loc["activations", "in the peak"] == "no (the smaller)"
    assert table.loc["optimizer step temporaries", "in the peak"] == "yes"
    assert table.loc["peak per GPU", "per GPU"] == "10.0 GiB"
    assert "adapters with their optimizer" in table.index

    swapped = memory_parts_table(replace(memory, activations_bytes=5 * GIB), "full").set_index("part")
    assert swapped.loc["activations", "in the peak"] == "yes"
    assert swapped.loc["optimizer step temporaries", "in the peak"] == "no (the smaller)"
    assert "optimizer states" in swapped.index


def test_the_training_sidebar_s_choices_become_a_setup_with_its_corrections():
    """The page shows tensor parallel 8 on 2 GPUs as 2 and trains q_proj when no LoRA target is chosen
    (and says so); a typed price replaces the catalog's, 0 keeps whatever data/gpus.csv lists."""
    from llm_calc.catalog import find_gpu
    from ui.training_inputs import TrainingInputs

    a100 = find_gpu("NVIDIA A100 80GB SXM")
    chosen = TrainingInputs(
        method="lora", optimizer="adamw", weights_precision="mixed", optimizer_impl="foreach", lora_rank=16,
        lora_alpha=32, lora_targets=[], seq_len=2048, micro_batch=1, checkpointing=False, flash_attention=True,
        gpu=a100, gpus=2, zero_stage=0, tensor_parallel=8, dataset_tokens=1_000, epochs=3, mfu=0.4,
        price_override_usd=0.0, attention_flops=False,
    )  # fmt: skip
    setup = chosen.setup()
    assert (setup.tensor_parallel, setup.lora_targets, setup.gpus) == (2, ("q_proj",), 2)
    assert chosen.tokens == 3_000
    assert chosen.price_per_hour_usd == a100.price_per_hour_usd
    assert replace(chosen, price_override_usd=2.5).price_per_hour_usd == 2.5
