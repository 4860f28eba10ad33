"""The donate panel as a donor walks it, for every browser test that gives: step 1 the amount,
step 2 the details (the live ticker's fields behind their disclosure), step 3 pay. One place
for the steps, so the tests that give all go through the panel the same way."""

from __future__ import annotations

import time
from typing import Any

THANKS_OR_ERROR = "[data-donate-thanks]:visible, [data-donate-error]:not(:empty)"


def current_step(page: Any) -> int:
    return int(page.get_attribute("[data-donate-step]:not([hidden])", "data-donate-step"))


def choose(
    page: Any,
    *,
    amount_minor: int | None = 2_500,
    custom: str | None = None,
    cover_fees: bool = False,
    monthly: bool = False,
) -> None:
    """Step 1: a suggested amount (or `custom` typed into "Other amount"), and the options."""
    if custom is not None:
        page.fill("input[name=custom_amount]", custom)
    elif amount_minor is not None:
        page.click(f"button[data-amount-minor='{amount_minor}']")
    if cover_fees:
        page.check("input[name=cover_fees]")
    if monthly:
        page.check("input[name=monthly]")


def next_step(page: Any) -> int:
    """Continue, and wait for the next step to show; returns its number."""
    step = current_step(page)
    page.click("[data-donate-next]")
    page.wait_for_selector(f"[data-donate-step='{step + 1}']:not([hidden])")
    return step + 1


def fill_details(
    page: Any,
    *,
    email: str = "ada@example.com",
    first: str = "Ada",
    last: str = "Lovelace",
    **fields: str,
) -> None:
    """Step 2: email, name and any other field by its name (address_line1=…, city=…)."""
    page.fill("input[name=email]", email)
    page.fill("input[name=first_name]", first)
    page.fill("input[name=last_name]", last)
    for name, value in fields.items():
        page.fill(f"input[name={name}]", value)


def open_ticker(page: Any) -> None:
    """Step 2's disclosure "Add your name and a message to the live ticker"."""
    if not page.evaluate("() => document.querySelector('[data-donate-ticker]').open"):
        page.click("[data-donate-ticker] summary")
    page.wait_for_selector("input[name=display_name]:visible")


def pay(page: Any) -> float:
    """On to step 3 if not there yet, tick the campaign's statements, Give, and wait for the
    thank-you; returns when it showed (monotonic time). Fails on an error in the panel."""
    while current_step(page) < 3:
        next_step(page)
    for box in page.query_selector_all("input[name=attestation]"):
        box.check()
    page.click("[data-donate-submit]")
    page.wait_for_selector(THANKS_OR_ERROR, timeout=10_000)
    given = time.monotonic()
    assert page.text_content("[data-donate-error]") == ""
    return given


def give(
    page: Any,
    *,
    amount_minor: int = 2_500,
    email: str = "ada@example.com",
    first: str = "Ada",
    last: str = "Lovelace",
    display_name: str | None = None,
    **fields: str,
) -> float:
    """The whole walk with a suggested amount; `display_name` opts in to the ticker with it."""
    choose(page, amount_minor=amount_minor)
    next_step(page)
    fill_details(page, email=email, first=first, last=last, **fields)
    if display_name is not None:
        open_ticker(page)
        page.check("input[name=ticker_opt_in]")
        page.fill("input[name=display_name]", display_name)
    return pay(page)
