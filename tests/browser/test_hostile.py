"""Hostile and broken input in a real browser: markup never runs, uploads never crash a page."""

import json
import re
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from .conftest import metric, open_page, rerun

pytestmark = pytest.mark.browser

PAYLOADS = [
    "<script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=1">',
    '<iframe srcdoc="<script>parent.__pwned=1</script>"></iframe>',
    "<style>body,h1{display:none !important}</style>",
    '[click](javascript:window.__pwned=1) ![x](x" onerror="window.__pwned=1) $\\\\alpha$ :red[red]',
]


def assert_intact(page, payload: str = "") -> None:
    """Nothing ran, nothing was injected, and the page still shows its title."""
    assert page.evaluate("() => window.__pwned") is None, payload
    assert page.locator("iframe[srcdoc]").count() == 0, payload
    assert page.locator("[data-testid='stException']").count() == 0, payload
    expect(page.locator("h1").first, payload or None).to_be_visible()
    assert page.locator("a[href^='javascript']").count() == 0, payload


@pytest.mark.parametrize(
    ("path", "label", "confirm"),
    [
        ("token_estimator", "Text", "Control+Enter"),
        ("foundations", "Type a sentence", "Enter"),
        ("inference", "System message", "Enter"),
        ("inference", "Your message", "Enter"),
    ],
)
def test_payloads_typed_into_text_inputs_run_nothing(page, app_url, path, label, confirm):
    """Whatever a user pastes is shown as text: no script, handler, iframe or style takes effect.
    The payloads are typed one after another into one open page, each checked after its own run."""
    open_page(page, f"{app_url}/{path}")
    field = page.get_by_label(label, exact=True)
    for payload in PAYLOADS:
        field.fill(payload)
        with rerun(page):
            field.press(confirm)
        assert_intact(page, payload)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payloads_as_a_card_name_run_nothing(page, app_url, payload):
    """A hostile custom card name (from a shared link) is stripped to harmless characters."""
    open_page(page, f"{app_url}/hardware_calculator?custom_card=true&card_name={quote(payload)}")
    assert_intact(page)


def upload(page, app_url, path, tmp_path, name, data: bytes):
    file = tmp_path / name
    file.write_bytes(data)
    open_page(page, f"{app_url}/{path}")
    with rerun(page):
        page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(file))


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "config.json",
            json.dumps({"model_type": "llama", "_name_or_path": PAYLOADS[1], "hidden_size": 4096}).encode(),
            "num_attention_heads",
        ),
        ("config.json", b"[" * 50_000 + b"]" * 50_000, "nested too deeply"),
        (
            "config.json",
            json.dumps(
                {
                    "model_type": "llama",
                    "hidden_size": 10**40,
                    "num_hidden_layers": 2,
                    "num_attention_heads": 2,
                    "vocab_size": 10,
                }
            ).encode(),
            "at most",
        ),
        (
            "config.json",
            json.dumps(
                {
                    "model_type": "llama",
                    "hidden_size": -1,
                    "num_hidden_layers": 2,
                    "num_attention_heads": 2,
                    "vocab_size": 10,
                }
            ).encode(),
            "must not be negative",
        ),
        (
            "config.json",
            json.dumps(
                {
                    "model_type": "llama",
                    "hidden_size": "big",
                    "num_hidden_layers": 2,
                    "num_attention_heads": 2,
                    "vocab_size": 10,
                }
            ).encode(),
            "whole number",
        ),
        ("config.json", b"", "not valid JSON"),
        ("config.json", json.dumps({"hidden_size": 4096}).encode(), "has no model_type"),
    ],
)
def test_hostile_configs_are_explained(page, app_url, tmp_path, name, data, message):
    """Broken or hostile config.json uploads give one clear message; the page keeps working."""
    upload(page, app_url, "hardware_calculator?source=config.json", tmp_path, name, data)
    expect(page.locator("[data-testid='stAlert']").filter(has_text=message)).to_be_visible()
    assert_intact(page)


def test_a_config_with_a_hostile_name_is_sized_safely(page, app_url, tmp_path):
    """A valid config whose name is markup is sized, and its name is shown stripped."""
    config = {
        "_name_or_path": PAYLOADS[0] + PAYLOADS[1],
        "model_type": "llama",
        "hidden_size": 256,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 512,
        "vocab_size": 1000,
    }
    upload(
        page, app_url, "hardware_calculator?source=config.json", tmp_path, "config.json", json.dumps(config).encode()
    )
    expect(metric(page, "Weights")).to_be_visible()
    assert_intact(page)


@pytest.mark.parametrize(
    ("name", "data", "expected_words"),
    [
        ("empty.txt", b"", "0"),
        ("binary.txt", bytes(range(256)) * 40, None),
        ("page.html", ("<html><body>" + "".join(PAYLOADS) + "</body></html>").encode(), None),
    ],
)
def test_odd_text_uploads_are_counted(page, app_url, tmp_path, name, data, expected_words):
    """Empty, binary and markup files are counted or explained; nothing in them runs."""
    upload(page, app_url, "token_estimator?input=Upload+a+file", tmp_path, name, data)
    if expected_words is not None:
        expect(metric(page, "Words")).to_have_text(expected_words)
    assert_intact(page)


def test_a_50_mb_upload_is_counted(page, app_url, tmp_path):
    """The largest allowed upload (50 MB) is counted in full and the page stays usable."""
    line = "The quick brown fox jumps over the lazy dog while the model counts every token.\n"
    data = (line * (50_000_000 // len(line))).encode()
    upload(page, app_url, "token_estimator?input=Upload+a+file", tmp_path, "big.txt", data)
    expect(metric(page, "Characters")).to_have_text(f"{len(data):,}")
    assert_intact(page)


@pytest.mark.parametrize(
    "query",
    [
        "hardware_calculator?model=%3Cscript%3E&context=banana&batch=-7&gpus=3&precision=fp12&kv=x&efficiency=9",
        "token_estimator?tokenizers=gpt9&completion=-1&special=maybe&input=%00",
        "training?method=dpo&n_gpus=3&zero=7&tokens=-5&rank=0&card=GTX+480&seq=1",
        "foundations?primer_size=abc",
        "accuracy?accuracy_efficiency=nan",
    ],
)
def test_garbage_query_parameters_fall_back_to_defaults(page, app_url, query):
    """Mangled links never crash a page; invalid values are dropped."""
    open_page(page, f"{app_url}/{query}")
    assert_intact(page)


def test_dragging_the_context_slider_changes_memory_and_the_fitting_cards(page, app_url):
    """Moving the context slider with the keyboard grows the KV cache and the needed cards."""
    open_page(page, f"{app_url}/hardware_calculator?model=Llama+3+70B&precision=q4_k_m")
    before = metric(page, "KV cache").inner_text()
    slider = page.get_by_role("slider", name=re.compile("Context window"))
    slider.focus()
    with rerun(page):
        for _ in range(3):
            slider.press("ArrowRight")
    expect(metric(page, "KV cache")).not_to_have_text(before)
    expect(page).to_have_url(re.compile(r"context=64k"))
