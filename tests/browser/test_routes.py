"""Addresses a user may type or share: each opens its page, and a link the page cannot follow says so."""

import pytest
from playwright.sync_api import expect

from .conftest import open_page

pytestmark = pytest.mark.browser


def test_overview_opens_by_its_name(page, app_url):
    """/overview, the overview's name in the sidebar's URL scheme, opened "Page not found" on main."""
    open_page(page, f"{app_url}/overview")
    expect(page.locator("h1").first).to_have_text("LLM Primer")
    expect(page.get_by_text("Page not found")).to_have_count(0)


def test_a_link_with_garbage_names_what_was_ignored(page, app_url):
    """?batch=abc&model=Nope showed the defaults without a word on main; now one warning names both."""
    open_page(page, f"{app_url}/hardware_calculator?batch=abc&model=Nope&gpus=2")
    warning = page.locator("[data-testid='stAlertContentWarning']", has_text="The link had values")
    expect(warning).to_contain_text("batch = “abc” (using 1)")
    expect(warning).to_contain_text("model = “Nope” (using Llama 3.1 8B)")
    expect(warning).not_to_contain_text("gpus")
