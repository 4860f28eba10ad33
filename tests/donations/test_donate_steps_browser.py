"""The donate panel's steps in headless Chromium, with the simulated provider: a new donor on a
phone gives from page load with less than one screen of scrolling (the bar brings the panel,
every control is on screen when tapped, the bar never covers the panel's button, the buttons
name the sum); a keyboard alone completes a gift on a laptop where each step fits beside the
player, and errors (the panel's own and the server's) are marked at their field, in view,
focused and announced; window.Pledgecast.donate serves another script's one-tap gift. axe-core
checks the panel in each step and the thank-you."""

from __future__ import annotations

import json

import pytest

from donations.models import Donation, MonthlyGift
from events.models import Attestation
from tests.axe import assert_accessible
from tests.browser import PHONE
from tests.donations import panel
from tests.factories import CampaignFactory, EventFactory

pytestmark = pytest.mark.browser

LAPTOP_768 = {"viewport": {"width": 1366, "height": 768}}
PANEL = ".event-side"  # the donate column: the panel and its phone bar

# The page's own scrolling from now on, summed whatever moved it (the donor or the panel).
TRACK_SCROLL = """() => {
    window.pcScrolled = 0;
    let last = window.scrollY;
    window.addEventListener("scroll", () => {
        window.pcScrolled += Math.abs(window.scrollY - last);
        last = window.scrollY;
    }, { passive: true });
}"""

# Wholly on screen and not covered by anything (the bar included): a tap needs no scrolling.
ON_SCREEN = """(selector) => {
    const node = document.querySelector(selector);
    const r = node.getBoundingClientRect();
    if (!r.height || r.top < 0 || r.left < 0 || r.bottom > innerHeight || r.right > innerWidth) {
        return false;
    }
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return hit !== null && (hit === node || node.contains(hit));
}"""


def on_screen(page, selector: str) -> bool:
    return page.evaluate(ON_SCREEN, selector)


def tap(page, selector: str) -> None:
    """A tap on what the donor sees now: fails rather than let the browser scroll to it."""
    assert on_screen(page, selector), f"{selector} is not on screen"
    page.click(selector)


def type_into(page, selector: str, text: str) -> None:
    assert on_screen(page, selector), f"{selector} is not on screen"
    page.fill(selector, text)


def focused(page) -> str:
    """The focused element's id (a step's heading), or its name (a field)."""
    return page.evaluate("() => document.activeElement.id || document.activeElement.name || ''")


def focused_field(page) -> str:
    return page.evaluate("() => document.activeElement.name || ''")


def tab_to(page, selector: str, *, limit: int = 60) -> None:
    """Tab (only the keyboard) until `selector` has the focus."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def open_page(browser, url: str, device: dict):
    page = browser.new_page(**device)
    page.goto(url)
    page.wait_for_function("() => window.Pledgecast && window.Pledgecast.donate")
    return page


def test_a_new_donor_on_a_phone_gives_with_less_than_a_screen_of_scrolling(
    live_server, simulated_settings, browser, screenshot
):
    about = "\n\n".join(["An evening with the campaign, and what it is for."] * 30)
    event = EventFactory(status="live", suggested_amounts=[2_500, 3_500, 5_000], description=about)
    page = open_page(browser, f"{live_server.url}{event.get_absolute_url()}", PHONE)
    page.evaluate(TRACK_SCROLL)
    height = page.evaluate("() => innerHeight")

    # The panel starts below the fold: the bar brings it, its first step whole on screen.
    assert page.is_visible("[data-donate-bar]")
    assert page.text_content("[data-donate-bar-button]") == "Give"
    assert not on_screen(page, "[data-donate-next]")
    screenshot(page, "phone-load-with-the-bar", full_page=False)
    assert_accessible(page, include=PANEL)
    tap(page, "[data-donate-bar-button]")
    page.wait_for_function(f"() => ({ON_SCREEN})('[data-donate-next]')")
    assert focused(page) == "donate-step-1"
    assert page.is_hidden("[data-donate-bar]")
    assert page.get_by_role("heading", name="Step 1 of 3: Choose an amount").is_visible()
    assert_accessible(page, include=PANEL)

    tap(page, "button[data-amount-minor='3500']")
    tap(page, "input[name=cover_fees]")
    assert page.get_attribute("button[data-amount-minor='3500']", "aria-pressed") == "true"
    assert page.text_content("[data-donate-next]") == "Continue with $36.36"
    screenshot(page, "phone-step-1", full_page=False)
    tap(page, "[data-donate-next]")

    assert focused(page) == "donate-step-2"
    assert page.get_by_role("heading", name="Step 2 of 3: Your details").is_visible()
    required = page.eval_on_selector_all(
        "[data-donate-step='2'] input[required]",
        "nodes => nodes.map((n) => [n.name, n.getAttribute('aria-required'),"
        " n.labels[0].textContent.includes('*')])",
    )
    assert required == [["email", "true", True], ["first_name", "true", True],
                        ["last_name", "true", True]]  # fmt: skip
    assert page.is_hidden("input[name=display_name]")  # behind its disclosure
    assert_accessible(page, include=PANEL)
    type_into(page, "input[name=email]", "ada@example.com")
    type_into(page, "input[name=first_name]", "Ada")
    type_into(page, "input[name=last_name]", "Lovelace")
    screenshot(page, "phone-step-2", full_page=False)
    tap(page, "[data-donate-next]")

    assert focused(page) == "donate-step-3"
    assert page.text_content("[data-donate-submit]") == "Give $36.36"
    assert_accessible(page, include=PANEL)
    screenshot(page, "phone-step-3", full_page=False)
    tap(page, "[data-donate-submit]")
    page.wait_for_selector(panel.THANKS_OR_ERROR, timeout=10_000)

    assert page.text_content("[data-donate-error]") == ""
    assert page.evaluate("() => document.activeElement.matches('[data-donate-thanks-heading]')")
    assert page.evaluate("() => window.pcScrolled") <= height  # at most one screen, bar included
    assert_accessible(page, include=PANEL)
    donation = Donation.objects.get()
    assert (donation.status, donation.amount_minor) == ("succeeded", 3_636)

    # Scrolled away with a sum chosen: the bar names it and brings the panel back.
    page.click("[data-donate-again]")
    page.click("button[data-amount-minor='2500']")
    page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    page.wait_for_selector("[data-donate-bar]:visible")
    assert page.text_content("[data-donate-bar-button]") == "Give $25"
    assert not on_screen(page, "[data-donate] h2")
    tap(page, "[data-donate-bar-button]")
    page.wait_for_function(f"() => ({ON_SCREEN})('[data-donate-next]')")
    assert focused(page) == "donate-step-1"
    page.wait_for_selector("[data-donate-bar]", state="hidden")


def test_a_keyboard_completes_a_gift_and_errors_are_marked_in_view_and_announced(
    live_server, simulated_settings, browser, screenshot
):
    campaign = CampaignFactory(require_address=True, require_employer=True, require_occupation=True)
    Attestation.objects.create(
        campaign=campaign, text="I am a U.S. citizen or lawfully admitted permanent resident."
    )
    Attestation.objects.create(
        campaign=campaign, text="This contribution is made from my own funds.", position=1
    )
    event = EventFactory(campaign=campaign, status="live")
    page = open_page(browser, f"{live_server.url}{event.get_absolute_url()}", LAPTOP_768)

    def step_fits_beside_the_player(button: str) -> None:
        """No scroll inside the side column, and the step's button on screen."""
        assert page.evaluate(
            "() => { const s = document.querySelector('.event-side');"
            " return s.scrollHeight <= s.clientHeight; }"
        )
        assert on_screen(page, button)

    def error_at(field: str, message: str) -> None:
        """Marked, its message next to it and on screen, focused, and said by the live region."""
        selector = f"input[name={field}]"
        page.wait_for_function(
            "(s) => document.querySelector(s).getAttribute('aria-invalid') === 'true'",
            arg=selector,
        )
        slot = "#" + page.get_attribute(selector, "aria-describedby").split()[-1]
        assert page.text_content(slot) == message
        assert on_screen(page, slot)
        assert on_screen(page, selector)
        assert focused_field(page) == field
        assert page.get_attribute("[data-donate-error]", "role") == "alert"
        assert page.text_content("[data-donate-error]") == message

    tab_to(page, "button[data-amount-minor='2500']")  # from the top of the page
    page.keyboard.press("Enter")
    assert page.get_attribute("button[data-amount-minor='2500']", "aria-pressed") == "true"
    step_fits_beside_the_player("[data-donate-next]")
    assert_accessible(page, include=PANEL)
    tab_to(page, "[data-donate-next]")
    page.keyboard.press("Enter")

    assert focused(page) == "donate-step-2"
    step_fits_beside_the_player("[data-donate-next]")
    assert page.eval_on_selector_all(
        "[data-donate-step='2'] input[required]", "nodes => nodes.map((n) => n.name)"
    ) == ["email", "first_name", "last_name", "address_line1", "city", "postal_code",
          "country", "employer", "occupation"]  # fmt: skip
    typed = {
        "email": "ada@example",  # the browser's check passes it; the server's refuses it
        "last_name": "Lovelace",
        "address_line1": "1 Main St",
        "city": "Columbus",
        "region": "OH",
        "postal_code": "43215",
        "employer": "None",
        "occupation": "Writer",
    }
    for name, text in typed.items():
        tab_to(page, f"input[name={name}]")
        page.keyboard.type(text)
    page.keyboard.press("Enter")  # in a field: moves on, or says what is missing

    error_at("first_name", "Your first and last name are required.")
    assert page.get_attribute("input[name=last_name]", "aria-invalid") is None
    screenshot(page, "laptop-missing-name", full_page=False)
    assert_accessible(page, include=PANEL)
    page.keyboard.type("Ada")
    assert page.get_attribute("input[name=first_name]", "aria-invalid") is None
    page.keyboard.press("Enter")

    assert focused(page) == "donate-step-3"
    step_fits_beside_the_player("[data-donate-submit]")
    assert_accessible(page, include=PANEL)
    tab_to(page, "[data-donate-submit]")
    page.keyboard.press("Enter")
    error_at("attestation", "Please tick each statement to confirm it.")
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    tab_to(page, "input[name=save_card]")
    page.keyboard.press("Space")
    tab_to(page, "[data-donate-submit]")
    page.keyboard.press("Enter")

    # The server names the email: the panel goes back to the step that holds it.
    error_at("email", "Enter a valid email address.")
    assert panel.current_step(page) == 2
    assert Donation.objects.count() == 0
    page.keyboard.press("End")
    page.keyboard.type(".com")
    page.keyboard.press("Enter")
    assert focused(page) == "donate-step-3"
    tab_to(page, "[data-donate-submit]")
    assert page.text_content("[data-donate-submit]") == "Give $25"
    with page.expect_request("**/start/") as started:
        page.keyboard.press("Enter")
    page.wait_for_selector(panel.THANKS_OR_ERROR, timeout=10_000)

    assert page.text_content("[data-donate-error]") == ""
    assert page.evaluate("() => document.activeElement.matches('[data-donate-thanks-heading]')")
    body = json.loads(started.value.post_data)
    assert body["save_card"] is True
    assert sorted(body["attestations"]) == sorted(
        campaign.attestations.values_list("pk", flat=True)
    )
    donation = Donation.objects.get()
    assert (donation.status, donation.email, donation.first_name, donation.employer) == (
        "succeeded", "ada@example.com", "Ada", "None"
    )  # fmt: skip
    screenshot(page, "laptop-thank-you", full_page=False)
    assert_accessible(page, include=PANEL)


def test_another_script_reads_the_amount_hears_changes_and_shows_the_thank_you(
    live_server, simulated_settings, browser
):
    event = EventFactory(status="live", campaign=CampaignFactory(monthly_enabled=True))
    page = open_page(browser, f"{live_server.url}{event.get_absolute_url()}", LAPTOP_768)
    page.evaluate(
        "() => { window.pcChanges = 0;"
        " window.Pledgecast.donate.onChange(() => { window.pcChanges += 1; }); }"
    )
    # The one-tap slot sits right after the amounts (returning.js offers an emailed code there to
    # a browser without a saved card).
    page.wait_for_selector("[data-donate-returning] [data-returning-open]", state="visible")
    assert page.evaluate(
        "() => document.querySelector('[data-donate-returning]').previousElementSibling"
        ".matches('.donate-amounts')"
    )

    panel.choose(page, amount_minor=5_000, cover_fees=True, monthly=True)
    state = (
        "() => { const d = window.Pledgecast.donate;"
        " return [d.giftMinor(), d.totalMinor(), d.monthly(), window.pcChanges]; }"
    )
    assert page.evaluate(state) == [5_000, 5_181, True, 3]
    page.uncheck("input[name=monthly]")
    page.uncheck("input[name=cover_fees]")
    assert page.evaluate(state) == [5_000, 5_000, False, 5]

    # A one-tap gift started and confirmed by another script, then thanked by the panel.
    started = page.evaluate(
        """async () => {
            const d = window.Pledgecast.donate;
            const panel = document.querySelector("[data-donate]");
            const csrf = panel.querySelector("input[name=csrfmiddlewaretoken]").value;
            const post = (url, body) => fetch(url, {
                method: "POST", body: JSON.stringify(body),
                headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
            }).then((r) => r.json());
            const started = await post(panel.dataset.startUrl, {
                attempt_key: d.newAttemptKey(), page_token: d.pageToken(),
                amount_minor: d.giftMinor(), currency: "usd", email: "grace@example.com",
                first_name: "Grace", last_name: "Hopper", attestations: [],
            });
            await post(panel.dataset.confirmUrl,
                       { donation_id: started.donation_id, client_secret: started.client_secret });
            d.finish(started);
            return started;
        }"""
    )

    assert page.text_content("[data-donate-thanks-text]") == (
        "Your $50 gift is in. A receipt is on its way to your inbox."
    )
    assert page.text_content("[data-donate-reference-code]") == started["reference"]
    assert page.evaluate("() => document.activeElement.matches('[data-donate-thanks-heading]')")
    assert page.is_hidden("[data-donate-form]")
    page.click("[data-donate-upsell-button]")  # needs the attempt key the gift started with
    page.wait_for_function(
        "() => document.querySelector('[data-donate-thanks-text]').textContent"
        ".startsWith('Your monthly gift of $50 is set up.')",
        timeout=10_000,
    )
    gift = MonthlyGift.objects.get()
    assert (gift.status, gift.first_donation.email) == ("active", "grace@example.com")


# Stripe.js stands in for itself in the browser (js.stripe.com is out of reach here): it records
# what the panel asks of it, keeps the wallet's handlers, and confirms every payment.
FAKE_STRIPE_JS = """
window.pcStripe = { calls: [], handlers: {} };
window.Stripe = (key) => ({
    elements: (options) => {
        window.pcStripe.calls.push(["elements", options]);
        return {
            create: (type, options) => {
                window.pcStripe.calls.push(["create", type, options]);
                return {
                    mount: (node) => {
                        node.dataset.mounted = type;
                        const shown = document.createElement("p");
                        shown.textContent = type;
                        node.append(shown);
                    },
                    on: (name, fn) => { window.pcStripe.handlers[`${type}:${name}`] = fn; },
                };
            },
            update: (options) => window.pcStripe.calls.push(["update", options]),
            submit: async () => ({}),
        };
    },
    confirmPayment: async (options) => {
        window.pcStripe.calls.push(["confirmPayment", options.clientSecret]);
        return {};
    },
});
"""

# The wallet's sheet confirmed with these billing details; resolves to what it was told.
WALLET_CONFIRMS = """async (billing) => {
    let failed = null;
    await window.pcStripe.handlers["expressCheckout:confirm"]({
        billingDetails: billing, paymentFailed: (reason) => { failed = reason; },
    });
    return failed;
}"""


def test_a_wallet_in_the_first_step_gives_and_what_it_lacks_is_asked_in_its_step(
    live_server, stripe_settings, browser
):
    event = EventFactory(status="live", campaign=CampaignFactory(require_address=True))
    page = browser.new_page(**LAPTOP_768)
    page.route("https://js.stripe.com/**", lambda route: route.fulfill(body="", status=200))
    page.add_init_script(FAKE_STRIPE_JS)
    page.goto(f"{live_server.url}{event.get_absolute_url()}")
    page.wait_for_function("() => window.Pledgecast && window.Pledgecast.donate")

    assert page.get_attribute("[data-donate-payment]", "data-mounted") == "payment"
    assert page.is_hidden("[data-donate-express]")  # until there is an amount to pay
    panel.choose(page, amount_minor=5_000)
    assert page.is_visible("[data-donate-step='1'] [data-donate-express]")
    calls = page.evaluate("() => window.pcStripe.calls")
    assert [
        "create",
        "expressCheckout",
        {"emailRequired": True, "billingAddressRequired": True},
    ] in (calls)
    assert calls[-1] == ["update", {"amount": 5_000, "mode": "payment"}]

    # A wallet that gave no address: refused by the server, asked for in step 2.
    failed = page.evaluate(
        WALLET_CONFIRMS, {"name": "Grace Brewster Hopper", "email": "grace@example.com"}
    )
    assert failed == {"reason": "fail"}
    assert panel.current_step(page) == 2
    assert page.get_attribute("input[name=address_line1]", "aria-invalid") == "true"
    assert page.text_content("[data-donate-error]") == "Your postal address is required."
    assert focused_field(page) == "address_line1"

    page.click("[data-donate-back]")
    address = {"line1": "1 Main St", "city": "Columbus", "state": "OH",
               "postal_code": "43215", "country": "US"}  # fmt: skip
    failed = page.evaluate(
        WALLET_CONFIRMS,
        {"name": "Grace Brewster Hopper", "email": "grace@example.com", "address": address},
    )

    assert failed is None
    assert page.text_content("[data-donate-thanks-text]") == (
        "Your $50 gift is in. A receipt is on its way to your inbox."
    )
    donation = Donation.objects.get()
    assert (donation.first_name, donation.last_name, donation.email, donation.city) == (
        "Grace Brewster", "Hopper", "grace@example.com", "Columbus"
    )  # fmt: skip
    assert page.evaluate("() => window.pcStripe.calls.at(-1)") == [
        "confirmPayment",
        f"{donation.payment_id}_secret_fake",
    ]
