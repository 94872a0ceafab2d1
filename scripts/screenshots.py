"""Regenerate the README screenshots in docs/screenshots from a running app.

    .venv/bin/streamlit run app.py &   # then:
    .venv/bin/python scripts/screenshots.py http://localhost:8501
    .venv/bin/python scripts/screenshots.py http://localhost:8501 serving.png serving_phone.png  # only these

Uses Debian's chromium through Playwright, waits for each page's script run to finish, and saves
full-page PNGs at a laptop width (1400 px) and, for two pages, a phone width (390 px), plus the
first screen of each tool as a user sees it without scrolling, at 1440 × 900 and 390 × 844.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LLAMA_70B = "hardware_calculator?model=Llama+3+70B&precision=q4_k_m&context=32k&batch=4"
QLORA_65B = (
    "training?model=LLaMA+65B&method=qlora&rank=64&"
    + "&".join(f"targets={t}" for t in ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"))
    + "&seq=512&ckpt=true&card=NVIDIA+RTX+A6000"
)
TOKENS = "token_estimator?text=A%20language%20model%20reads%20text%20as%20tokens%3A%20%E4%BD%A0%E5%A5%BD%20%F0%9F%9A%80%20%3C%7Cendoftext%7C%3E&ids=true"  # noqa: E501
SERVING = "serving?model=Llama+3.1+8B&card=NVIDIA+H100+SXM&prompt=1000&output=500&user_speed=20"
TOOLS = {"token_estimator": TOKENS, "hardware_calculator": LLAMA_70B, "training": QLORA_65B}
FIRST_SCREENS = [  # (file, path, width, height): the viewport only, no scrolling
    *[(f"first_{name}_laptop.png", path, 1440, 900) for name, path in TOOLS.items()],
    *[(f"first_{name}_phone.png", path, 390, 844) for name, path in TOOLS.items()],
]
SHOTS = [  # (file, path, width, height): the whole page
    ("overview.png", "", 1400, 1000),
    ("primer_foundations.png", "foundations", 1400, 1800),
    ("primer_inference.png", "inference", 1400, 1800),
    ("primer_hardware.png", "hardware", 1400, 1800),
    ("primer_sources.png", "sources", 1400, 1600),
    ("token_estimator.png", TOKENS, 1400, 3200),
    ("token_estimator_phone.png", "token_estimator", 390, 2600),
    ("hardware_calculator.png", LLAMA_70B, 1400, 2600),
    ("hardware_calculator_phone.png", LLAMA_70B, 390, 2200),
    ("training.png", QLORA_65B, 1400, 2400),
    ("serving.png", SERVING, 1400, 1800),
    ("serving_phone.png", SERVING, 390, 2400),
    ("accuracy.png", "accuracy", 1400, 2600),
]


def main(base: str, only: list[str] | None = None) -> int:
    """Save every shot, or ``only`` the files named."""
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        shots = [(*shot, True) for shot in SHOTS] + [(*shot, False) for shot in FIRST_SCREENS]
        for name, path, width, height, full_page in shots:
            if only and name not in only:
                continue
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(f"{base.rstrip('/')}/{path}")
            page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(state="attached")
            page.wait_for_function("() => !document.querySelector('[data-testid=\"stSkeleton\"]')")
            page.wait_for_timeout(1500)  # plotly draws after the script run ends
            page.screenshot(path=str(OUT / name), full_page=full_page)
            print(name)
            page.close()
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "http://localhost:8501", sys.argv[2:]))
