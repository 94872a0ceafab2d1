"""The app in a real browser: what a user sees, clicks and shares."""

import re
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from .conftest import ARTIFACTS, metric, open_page, rerun

pytestmark = pytest.mark.browser
CONFIGS = Path(__file__).resolve().parents[1] / "configs"
PAGES = {
    "overview": "",
    "foundations": "foundations",
    "inference": "inference",
    "hardware": "hardware",
    "sources": "sources",
    "token_estimator": "token_estimator",
    "hardware_calculator": "hardware_calculator",
    "training": "training",
    "accuracy": "accuracy",
}
XSS = (
    "<script>window.__pwned=1</script>"
    '<img src=x onerror="window.__pwned=1">'
    '<iframe srcdoc="<script>parent.__pwned=1</script>"></iframe>'
    "<style>body{display:none}</style>"
)


@pytest.mark.parametrize("name", PAGES)
def test_every_page_renders_without_an_exception(page, app_url, name):
    """A user opening any page sees it drawn, not a red exception box."""
    open_page(page, f"{app_url}/{PAGES[name]}")
    assert page.locator("[data-testid='stException']").count() == 0
    expect(page.locator("h1").first).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_shared_url_reproduces_the_view(page, app_url):
    """A colleague opening a shared link sees the same model, precision, context and batch."""
    open_page(page, f"{app_url}/hardware_calculator?model=Llama+3+70B&precision=q4_k_m&context=32k&batch=4")
    expect(metric(page, "Weights")).to_have_text("40.2 GiB")
    expect(metric(page, "KV cache")).to_have_text("40.0 GiB")
    expect(page.get_by_text("Llama 3 70B · 70.6 B parameters")).to_be_visible()


def test_changing_the_batch_updates_memory_and_the_url(page, app_url):
    """Typing a new batch size changes the KV cache and is written to the URL for sharing."""
    open_page(page, f"{app_url}/hardware_calculator")
    expect(metric(page, "KV cache")).to_have_text("1.0 GiB")
    batch = page.get_by_label("Concurrent sequences (batch)")
    batch.fill("8")
    with rerun(page):
        batch.press("Enter")
    expect(metric(page, "KV cache")).to_have_text("8.0 GiB")
    expect(page).to_have_url(re.compile(r"batch=8"))


def test_uploading_a_config_recognises_the_model(page, app_url):
    """Uploading Llama-2-7B's config.json sizes that model: 6.74 B parameters, 12.6 GiB of weights."""
    open_page(page, f"{app_url}/hardware_calculator?source=config.json")
    with rerun(page):
        page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(CONFIGS / "Llama-2-7b-hf.json"))
    expect(page.get_by_text("6.74 B parameters")).to_be_visible()
    expect(metric(page, "Weights")).to_have_text("12.6 GiB")


def test_a_broken_upload_is_explained(page, app_url, tmp_path):
    """A binary file posing as config.json gets a clear message and the page keeps working."""
    bad = tmp_path / "config.json"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00 not a config")
    open_page(page, f"{app_url}/hardware_calculator?source=config.json")
    with rerun(page):
        page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(bad))
    expect(page.locator("[data-testid='stAlert']").filter(has_text="config.json")).to_be_visible()
    assert page.locator("[data-testid='stException']").count() == 0


def test_hostile_card_name_is_shown_as_text_and_runs_nothing(page, app_url):
    """Markup typed as a card name never executes: window.__pwned stays undefined."""
    payload = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>'
    open_page(page, f"{app_url}/hardware_calculator?custom_card=true&card_name={quote(payload)}")
    page.get_by_role("tab", name="Table").click()
    expect(page.locator("[data-testid='stDataFrame']").first).to_be_visible()
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("[data-testid='stException']").count() == 0


def test_garbage_query_parameters_are_ignored(page, app_url):
    """A mangled shared link falls back to defaults instead of crashing."""
    open_page(page, f"{app_url}/hardware_calculator?model=%3Cscript%3E&context=banana&batch=-7&gpus=3")
    assert page.locator("[data-testid='stException']").count() == 0
    expect(metric(page, "Weights")).to_have_text("15.0 GiB")


def test_pasting_text_updates_the_counts(page, app_url):
    """Pasting text and confirming it recounts: the word metric follows what was pasted."""
    open_page(page, f"{app_url}/token_estimator")
    area = page.get_by_label("Text", exact=True)
    area.fill("one two three four five")
    with rerun(page):
        area.press("Control+Enter")
    expect(metric(page, "Words")).to_have_text("5")
    expect(metric(page, "Rule of thumb")).to_have_text("6")  # round(5 x 1.3)
    expect(page).to_have_url(re.compile(r"text=one"))


def test_pasted_markup_is_shown_as_text_and_runs_nothing(page, app_url):
    """Script, img-onerror, iframe and style payloads show as text in the token view; none runs."""
    open_page(page, f"{app_url}/token_estimator")
    area = page.get_by_label("Text", exact=True)
    area.fill(XSS)
    with rerun(page):
        area.press("Control+Enter")
    expect(metric(page, "Characters")).to_have_text(f"{len(XSS):,}")
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("iframe[srcdoc]").count() == 0
    expect(page.locator("h1").first).to_be_visible()  # the <style> did not hide the page
    expect(page.get_by_text("window.__pwned=1", exact=False).first).to_be_attached()


def test_a_link_with_text_reproduces_the_counts(page, app_url):
    """A shared link carrying a short text and tokenizer choice shows the same counts."""
    open_page(page, f"{app_url}/token_estimator?text={quote('hello world')}&tokenizers=cl100k_base")
    expect(metric(page, "Words")).to_have_text("2")
    chips = page.locator("[data-testid='stMultiSelect']").first
    expect(chips.get_by_text("cl100k_base")).to_be_visible()
    expect(chips.get_by_text("o200k_base")).to_have_count(0)  # the default choice was replaced


def test_uploading_a_file_with_bad_bytes_is_reported(page, app_url, tmp_path):
    """An upload with invalid UTF-8 is counted and the bad bytes are reported, not a crash."""
    upload = tmp_path / "notes.txt"
    upload.write_bytes(b"caf\xe9 au lait \xff\xfe and more words here\n")
    open_page(page, f"{app_url}/token_estimator?input=Upload+a+file")
    with rerun(page):
        page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(upload))
    expect(page.get_by_text("were not valid UTF-8")).to_be_visible()
    expect(metric(page, "Words")).to_have_text("8")  # "caf�", "au", "lait", "��", and, more, words, here
    assert page.locator("[data-testid='stException']").count() == 0


def test_a_training_link_shows_qlora_65b_fitting_a_48_gb_card(page, app_url):
    """The QLoRA claim from the primer, opened from a shared link: 65B fits one RTX A6000."""
    targets = "&".join(
        f"targets={t}" for t in ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    )
    open_page(
        page,
        f"{app_url}/training?model=LLaMA+65B&method=qlora&rank=64&{targets}&seq=512&ckpt=true&card=NVIDIA+RTX+A6000",
    )
    expect(page.get_by_text("fits 48.0 GiB")).to_be_visible()
    expect(metric(page, "Trainable parameters")).to_have_text("800 M")


def test_token_estimator_hands_its_count_to_the_training_page(page, app_url):
    """Following "Fine-tune on these tokens" opens the training page with the count filled in."""
    open_page(page, f"{app_url}/token_estimator?text={quote('hello world')}")
    with rerun(page):
        page.get_by_text("Fine-tune on these 2 tokens").click()
    expect(page).to_have_url(re.compile(r"training\?tokens=2"))
    expect(page.get_by_role("spinbutton", name="Dataset tokens")).to_have_value("2")


def test_primer_estimate_tokens_link_carries_the_sentence(page, app_url):
    """A reader who types a sentence in the primer and follows "Estimate tokens" sees it counted."""
    open_page(page, f"{app_url}/foundations")
    sentence = page.get_by_label("Type a sentence")
    sentence.fill("one two three")
    with rerun(page):
        sentence.press("Enter")
    with rerun(page):
        page.get_by_text("Estimate tokens →").click()
    expect(page).to_have_url(re.compile(r"token_estimator\?text=one"))
    expect(metric(page, "Words")).to_have_text("3")


def test_primer_try_it_link_opens_the_calculator_with_the_size(page, app_url):
    """ "Try it in the calculator" opens the hardware calculator on a custom model of the chosen size."""
    open_page(page, f"{app_url}/foundations")
    with rerun(page):
        page.get_by_role("link", name=re.compile("Try it in the calculator")).click()
    expect(page.get_by_text(re.compile(r"Custom 70B · \d+\.?\d* B parameters"))).to_be_visible()


def test_primer_reads_in_order_with_next_links(page, app_url):
    """Next links walk Overview → foundations → inference → hardware → sources."""
    open_page(page, app_url)
    for title in ("Model foundations", "Model inference", "Hardware requirements", "Sources"):
        with rerun(page):
            page.get_by_role("link", name=f"{title} →", exact=True).click()
        expect(page.locator("h1").first).to_have_text(title)


def test_a_link_from_the_primer_replaces_text_typed_earlier_in_the_session(page, app_url):
    """A reader who used the estimator, then follows a primer link, sees the primer's sentence."""
    open_page(page, f"{app_url}/token_estimator")
    area = page.get_by_label("Text", exact=True)
    area.fill("first text typed here")
    with rerun(page):
        area.press("Control+Enter")
    expect(metric(page, "Words")).to_have_text("4")
    with rerun(page):
        page.get_by_role("link", name="Model foundations", exact=True).click()
    sentence = page.get_by_label("Type a sentence")
    sentence.fill("a b c d e f")
    with rerun(page):
        sentence.press("Enter")
    with rerun(page):
        page.get_by_text("Estimate tokens →").click()
    expect(metric(page, "Words")).to_have_text("6")
