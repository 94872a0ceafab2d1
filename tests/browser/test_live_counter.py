"""The token estimator counts as you type: the figure under the text area is computed in the
browser (no Streamlit rerun) and equals the server's count once the text is applied."""

from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from llm_calc.tokenizers import REGISTRY
from llm_calc.tokens import sample_text
from ui.live_counter import LIVE_MAX_CHARS

from .conftest import ARTIFACTS, SOCKETS, metric, open_page, rerun

pytestmark = pytest.mark.browser

LIVE = ["o200k_base", "cl100k_base", "p50k_base", "r50k_base", "mistral_tekken"]
TEXTS = {  # in this order, so that each differs from the one before (English prose is the page's default)
    # special tokens in the middle and at the end, not only at the start of the text (OpenAI's, Llama 3's)
    "special tokens mid-text": "Before <|endoftext|> after <|fim_prefix|>x<|fim_suffix|>y<|eot_id|> <|endofprompt|>",
    "English": sample_text("English prose"),
    "Chinese": sample_text("Chinese"),
    "code": sample_text("Python code"),
    "emoji with ZWJ sequences": sample_text("Emoji"),
    "special-token strings": sample_text("Special tokens"),
}
TYPED = "Hi 👩‍💻! <|endoftext|> ok"  # typed key by key: a ZWJ emoji and a special token


def live_root(page):
    return page.locator("[data-testid='live-counter']")


def live_figure(page, encoding: str):
    return live_root(page).locator(f"[data-encoding='{encoding}'] b")


def wait_counted(page, text: str) -> None:
    """Until the live counter has counted this text (its length in code points, as Python's len)."""
    root = live_root(page)
    expect(root).to_have_attribute("data-chars", str(len(text)))
    expect(root).to_have_attribute("data-status", "ready")


def record_reruns(page) -> list:
    """Every rerun request the browser sends from now on (BackMsg.rerun_script)."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    sent: list = []

    def on_frame(payload) -> None:
        if isinstance(payload, bytes) and BackMsg.FromString(payload).WhichOneof("type") == "rerun_script":
            sent.append(payload)

    SOCKETS[page][-1].on("framesent", on_frame)
    return sent


@pytest.mark.parametrize("special", [False, True], ids=["ordinary", "special"])
@pytest.mark.parametrize("encoding", LIVE)
def test_live_count_equals_the_servers_count(page, app_url, encoding, special):
    """While typing, the user sees a count that a rerun does not produce; once applied, the
    server's exact count is the same number. A mismatch would show one figure while typing and
    another after Ctrl+Enter."""
    query = {"tokenizers": encoding, "special": str(special).lower()}
    open_page(page, f"{app_url}/token_estimator?{urlencode(query)}")
    expect(page.get_by_role("switch", name="Count special tokens as special")).to_be_checked(checked=special)
    area = page.get_by_label("Text", exact=True)
    for name, text in TEXTS.items():
        reruns = record_reruns(page)
        area.fill(text)
        wait_counted(page, text)
        live = live_figure(page, encoding).inner_text()
        assert reruns == [], f"{name}: typing asked the server for a rerun"
        assert page.locator("[data-testid='stApp']").get_attribute("data-test-script-state") == "notRunning"
        with rerun(page):
            area.press("Control+Enter")
        assert reruns, "the recorder saw no rerun even when the text was applied"
        expect(metric(page, "Characters")).to_have_text(f"{len(text):,}")
        expect(metric(page, f"Tokens ({REGISTRY[encoding].label})")).to_have_text(live)
        wait_counted(page, text)  # the figure stays after the rerun
        expect(live_figure(page, encoding)).to_have_text(live)


def test_typing_updates_the_live_count_without_a_rerun(page, app_url):
    """Each keystroke updates the figure (debounced) in the browser; the server is not asked to
    rerun until the user applies. The delay from the last keystroke to the new figure is measured
    in the page and written to test-artifacts/ — a measurement, not a gate: timings belong to
    benchmarks, and on a busy 2-core machine a browser's timers slip (133 ms once, 45 ms idle)."""
    open_page(page, f"{app_url}/token_estimator?{urlencode({'tokenizers': 'o200k_base', 'special': 'true'})}")
    area = page.get_by_label("Text", exact=True)
    area.fill("")
    with rerun(page):
        area.press("Control+Enter")
    wait_counted(page, "")
    reruns = record_reruns(page)
    page.evaluate(
        """() => {
        const host = [...document.querySelectorAll('.st-key-live_counter *')].find((e) => e.shadowRoot);
        const root = host.shadowRoot.querySelector('.live-counter');
        window.__live = { keyed: 0, counted: 0 };
        document.addEventListener('input', () => { window.__live.keyed = performance.now(); }, true);
        new MutationObserver(() => {
            if (root.dataset.status === 'ready') window.__live.counted = performance.now();
        }).observe(root, { attributes: true, attributeFilter: ['data-status'] });
    }"""
    )
    area.press_sequentially(TYPED)
    wait_counted(page, TYPED)
    delay_ms = page.evaluate("() => window.__live.counted - window.__live.keyed")
    assert delay_ms > 0  # the figure was redrawn after the last keystroke
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "live_counter_delay_ms.txt").write_text(f"{delay_ms:.1f}\n")
    assert reruns == []
    expect(metric(page, "Characters")).to_have_text("0")  # the server has not seen the text yet
    live = live_figure(page, "o200k_base").inner_text()
    with rerun(page):
        area.press("Control+Enter")
    assert reruns, "the recorder saw no rerun even when the text was applied"
    expect(metric(page, "Tokens (OpenAI o200k_base)")).to_have_text(live)


def test_encodings_without_a_browser_tokenizer_are_named(page, app_url):
    """Mistral's tokenizers are counted on apply only, and the live line says so."""
    open_page(page, f"{app_url}/token_estimator?{urlencode({'tokenizers': 'mistral_v1'})}")
    expect(live_root(page)).to_contain_text("Mistral v1 (SentencePiece): counted when you apply")


def test_a_text_over_the_live_limit_is_counted_on_apply(page, app_url):
    """A very long paste does not freeze the page with a count per keystroke: the live line says
    it pauses, and the server's count follows on apply as before."""
    open_page(page, f"{app_url}/token_estimator?{urlencode({'tokenizers': 'o200k_base'})}")
    text = "word " * (LIVE_MAX_CHARS // 5 + 1)  # 5 characters a repeat: one repeat over the limit
    area = page.get_by_label("Text", exact=True)
    area.fill(text)
    expect(live_root(page)).to_have_attribute("data-status", "paused")
    expect(live_root(page)).to_contain_text(f"Live counting pauses above {LIVE_MAX_CHARS:,} characters")
    with rerun(page):
        area.press("Control+Enter")
    expect(metric(page, "Characters")).to_have_text(f"{len(text):,}")


NO_WORKERS = "window.Worker = class { constructor() { throw new Error('workers are forbidden here'); } };"
"""A browser where starting a worker throws (a page policy forbidding blob: workers does this)."""
FAILING_WORKER = """{
  const Real = window.Worker;
  window.Worker = class extends Real {
    constructor(url, options) {
      const broken = new Blob(["throw new Error('the worker broke')"], { type: "text/javascript" });
      super(URL.createObjectURL(broken), options);
    }
  };
}"""
"""A worker that starts and then fails as its script runs."""


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        (NO_WORKERS, "the counting worker could not start: workers are forbidden here"),
        (FAILING_WORKER, "the counting worker failed"),
    ],
    ids=["cannot-start", "fails"],
)
def test_without_a_working_worker_the_line_says_why_and_apply_still_counts(page, app_url, script, reason):
    """The live line answers with the reason instead of waiting for ever, the page keeps working,
    and the server's count follows on apply."""
    page.add_init_script(script)
    open_page(page, f"{app_url}/token_estimator?{urlencode({'tokenizers': 'o200k_base'})}")
    root = live_root(page)
    expect(root).to_have_attribute("data-status", "error")
    expect(root).to_contain_text(f"OpenAI o200k_base cannot count here ({reason}")
    expect(root).to_contain_text("its count follows when you apply")
    text = "Counted on the server instead."
    area = page.get_by_label("Text", exact=True)
    area.fill(text)
    expect(root).to_have_attribute("data-chars", str(len(text)))
    expect(root).to_have_attribute("data-status", "error")
    with rerun(page):
        area.press("Control+Enter")
    expect(metric(page, "Characters")).to_have_text(f"{len(text):,}")
    expect(metric(page, "Tokens (OpenAI o200k_base)")).to_have_text("7")  # Count|ed| on| the| server| instead|.
