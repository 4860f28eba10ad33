// The donate panel, in three steps: 1 the amount (suggested amounts, "Other amount", monthly,
// cover fees; the wallets when they give all the campaign needs), 2 the donor's details (the
// fields the campaign requires, marked; the live ticker's behind a disclosure), 3 pay (Stripe's
// Payment Element, or the simulated confirm; the wallets when not in step 1; attestations; "Save
// my card"). Deferred intent: the PaymentIntent, or the monthly Subscription, is created only on
// Give / on the wallet's confirm. Every button that moves on names the sum ("Give $36.36").
// On a phone a bar at the foot ("Give $25") brings the panel back while it is out of view.
// Errors: next to their field (aria-invalid, aria-describedby), brought into view, focused,
// and said in the live region [data-donate-error]; a server error naming a field goes to the
// step holding it. Everything the donor typed is shown back as text, never as HTML.
//
// API, for the page's other scripts (set when this deferred script runs; a deferred script
// after it finds it):
//   window.Pledgecast.donate = {
//     giftMinor()      the gift chosen or typed, in minor units; null while none parses
//     totalMinor()     the gift with the fee when the donor covers it; null without a gift
//     monthly()        whether "Make it monthly" is ticked
//     onChange(fn)     fn() is called, with nothing, after the amount, monthly or cover fees change
//     finish(started, attemptKey?)
//                      shows the thank-you exactly as after a Give, for the start view's JSON
//                      answer (after its payment is confirmed); attemptKey is the key the gift
//                      started with, for the thank-you's "Make it monthly" (default: the
//                      answer's attempt_key, else the last key newAttemptKey() handed out)
//     pageToken()      the page token the start view wants (page_token)
//     newAttemptKey()  a fresh attempt key (a UUID) for a new start
//     askTag()         the tag of the room's pinned ask (or the last one shown), "" for none:
//                      sent with a gift as ask_tag (the server decides whether it counts)
//   }
//   and [data-donate-returning] in step 1, right after the amounts: an empty, hidden container
//   for a returning donor's one-tap gift.
//
// The server's money rules (donations/compliance/) answer a start with what the panel offers:
// past the election's limit (400 on amount_minor with room_minor, excess_minor, election,
// next_election, consent) "Give the $X of room left" and, when the server offers it, a
// checkbox to designate the rest to the next election, sent with the SAME attempt key as
// designation {split_to, consent}; an itemized gift (400 with `requires`, `missing`) marks the
// itemized details required in step 2; a non-US address (`requires: ["us_passport_number"]`)
// shows the passport field. The thank-you says where a split gift went (`designation`).
// The live room's pinned ask (window.Pledgecast.room, engagement.js): its text in step 1, its
// amount pre-selected until the donor chooses one, and its tag sent with the gift (ask_tag);
// "room:give" (the room's "Give $27") selects it again.
(function () {
  "use strict";
  const panel = document.querySelector("[data-donate]");
  const configNode = document.getElementById("donate-config");
  if (!panel || !configNode) return;
  const config = JSON.parse(configNode.textContent);
  const messages = config.messages || {};
  const form = panel.querySelector("[data-donate-form]");
  const steps = Array.from(form.querySelectorAll("[data-donate-step]"));
  const LAST = steps.length;
  const errorBox = panel.querySelector("[data-donate-error]");
  const totalBox = panel.querySelector("[data-donate-total]");
  const nav = form.querySelector(".donate-nav");
  const nextButton = panel.querySelector("[data-donate-next]");
  const backButton = panel.querySelector("[data-donate-back]");
  const submit = panel.querySelector("[data-donate-submit]");
  const paymentBox = panel.querySelector("[data-donate-payment]");
  const expressBox = panel.querySelector("[data-donate-express]");
  const expressStep = Number(expressBox.closest("[data-donate-step]").dataset.donateStep);
  const tickerBox = panel.querySelector("[data-donate-ticker]");
  const bar = document.querySelector("[data-donate-bar]");
  const barButton = document.querySelector("[data-donate-bar-button]");
  const thanks = panel.querySelector("[data-donate-thanks]");
  const thanksHeading = panel.querySelector("[data-donate-thanks-heading]");
  const thanksText = panel.querySelector("[data-donate-thanks-text]");
  const tickerNote = panel.querySelector("[data-donate-ticker-note]");
  const referenceBox = panel.querySelector("[data-donate-reference]");
  const upsell = panel.querySelector("[data-donate-upsell]");
  const upsellButton = panel.querySelector("[data-donate-upsell-button]");
  const upsellStatus = panel.querySelector("[data-donate-upsell-status]");
  const share = panel.querySelector("[data-donate-share]");
  const shareUrl = panel.querySelector("[data-donate-share-url]");
  const shareStatus = panel.querySelector("[data-donate-share-status]");
  const shareNative = panel.querySelector("[data-donate-share-native]");
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  const refcode = new URLSearchParams(window.location.search).get("refcode") || "";
  const reducedMotion = window.matchMedia &&
    window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  // The panel sits beside the player from this width on (static/css/event.css): no bar there.
  const wide = window.matchMedia ? window.matchMedia("(min-width: 960px)") : { matches: true };
  const amountButtons = Array.from(panel.querySelectorAll("[data-amount-minor]"));
  const askBox = panel.querySelector("[data-donate-ask]");
  const limitBox = panel.querySelector("[data-donate-limit]");
  const limitRoom = panel.querySelector("[data-donate-limit-room]");
  const limitSplit = panel.querySelector("[data-donate-limit-split]");
  const limitConsentText = panel.querySelector("[data-donate-limit-consent-text]");
  const limitSplitButton = panel.querySelector("[data-donate-limit-split-button]");
  let limitOffer = null;  // the server's over-limit answer, with the attempt key it was for
  let ask = null;  // the room's pinned ask, or the last one shown: {id, text, amount, tag}
  let amountByHand = false;  // the donor chose an amount: a pinned ask no longer changes it
  let step = 1;
  let selectedMinor = null;
  let attemptKey = newKey();
  let issuedKey = null;  // the last key newAttemptKey() handed to another script
  let stripe = null;
  let elements = null;
  let awaitingTicker = null;  // {name, amount} of the gift just made, until the ticker shows it
  let lastGift = null;  // {reference, attemptKey, gift} of the one-time gift the thank-you is for
  const changeListeners = [];
  // Whether the donor ticked or unticked "Show my gift in the live ticker" by hand: until they
  // do, typing a name or a message ticks it (and the preview shows what the ticker will say).
  let tickerChosen = false;
  const MASKED_NOTE = " Some words are masked (****) by the campaign’s filter.";
  const ATTESTATIONS_MESSAGE = "Please tick each statement to confirm it.";
  const preview = panel.querySelector("[data-donate-ticker-preview]");
  const previewLead = panel.querySelector("[data-ticker-preview-lead]");
  const previewLine = panel.querySelector("[data-ticker-preview-line]");
  const previewRules = panel.querySelector("[data-ticker-preview-rules]");
  // The ticker's own format (static/js/liveroom.js), so the preview reads as the line will.
  // Whole amounts without cents, as the ticker shows them.
  let tickerMoney = null;
  let tickerWholeMoney = null;
  try {
    const code = config.currency.toUpperCase();
    tickerMoney = new Intl.NumberFormat(undefined, { style: "currency", currency: code });
    tickerWholeMoney = new Intl.NumberFormat(undefined, {
      style: "currency", currency: code, minimumFractionDigits: 0, maximumFractionDigits: 0,
    });
  } catch (e) { tickerMoney = tickerWholeMoney = null; }

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "10000000-1000-4000-8000-100000000000".replace(/[018]/g, (c) =>
      (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16));
  }

  function major(minor) {
    const whole = Math.floor(minor / 100);
    const cents = minor % 100;
    return cents ? `${whole.toLocaleString()}.${String(cents).padStart(2, "0")}` : whole.toLocaleString();
  }

  function money(minor) { return `${config.symbol}${major(minor)}`; }

  // The same gross-up as donations.services.fee_for.
  function feeFor(gift) {
    const bp = config.feePercentBp;
    const fixed = config.feeFixedMinor;
    if (!bp && !fixed) return 0;
    return Math.ceil(((gift + fixed) * 10000) / (10000 - bp)) - gift;
  }

  function parseMajor(text) {
    const clean = text.replace(/[^0-9.]/g, "");
    if (!/^\d+(\.\d{1,2})?$/.test(clean)) return null;
    const [whole, frac = ""] = clean.split(".");
    return parseInt(whole, 10) * 100 + parseInt((frac + "00").slice(0, 2), 10);
  }

  function giftMinor() {
    const custom = form.elements.custom_amount.value.trim();
    return custom ? parseMajor(custom) : selectedMinor;
  }

  function totalMinor() {
    const gift = giftMinor();
    if (!gift) return null;
    return gift + (form.elements.cover_fees.checked ? feeFor(gift) : 0);
  }

  function monthly() { return Boolean(form.elements.monthly && form.elements.monthly.checked); }

  // "$36.36", "$25 monthly", or "" before there is a sum: what the buttons name.
  function sumText() {
    const total = totalMinor();
    if (!total) return "";
    return monthly() ? `${money(total)} monthly` : money(total);
  }

  // --- errors: next to the field, in view, focused, and said in the live region ---

  function tokens(node, attr) { return (node.getAttribute(attr) || "").split(/\s+/).filter(Boolean); }

  function addToken(node, attr, token) {
    const list = tokens(node, attr);
    if (!list.includes(token)) list.push(token);
    node.setAttribute(attr, list.join(" "));
  }

  function removeToken(node, attr, token) {
    const list = tokens(node, attr).filter((t) => t !== token);
    if (list.length) node.setAttribute(attr, list.join(" "));
    else node.removeAttribute(attr);
  }

  // The field the server (or our own check) names.
  function fieldNode(name) {
    if (name === "amount_minor") return form.elements.custom_amount;
    if (name === "designation") return form.elements.split_consent;
    if (name === "attestations") {
      return form.querySelector("input[name=attestation]:not(:checked)") ||
        form.querySelector("input[name=attestation]");
    }
    const node = form.elements[name];
    return node && node.nodeType === 1 && node.type !== "hidden" ? node : null;
  }

  // The message's place: under the field, or under its group (the amounts, the statements).
  function messageSlot(node, field) {
    const id = `donate-error-${field.replace(/[^a-z0-9_]/gi, "")}`;
    let slot = document.getElementById(id);
    if (!slot) {
      slot = document.createElement("p");
      slot.className = "donate-field-error";
      slot.id = id;
      const group = field === "attestations" ? node.closest("fieldset") : null;
      const wrapper = node.closest(".donate-field");
      if (group) group.appendChild(slot);
      else if (wrapper) wrapper.appendChild(slot);  // its own grid cell, under the input
      else (node.closest(".donate-check") || node).after(slot);
    }
    return slot;
  }

  function clearErrors() {
    form.querySelectorAll("[aria-invalid=true]").forEach((node) => {
      node.removeAttribute("aria-invalid");
      if (node.dataset.errorSlot) removeToken(node, "aria-describedby", node.dataset.errorSlot);
      delete node.dataset.errorSlot;
    });
    form.querySelectorAll(".donate-field-error").forEach((slot) => slot.remove());
    errorBox.textContent = "";
    errorBox.classList.remove("donate-error-at-field");
  }

  function showError(message, field) {
    clearErrors();
    if (!message) return;
    const node = field ? fieldNode(field) : null;
    if (!node) {
      errorBox.textContent = message;
      bringIntoView(errorBox, nav);
      return;
    }
    const holder = node.closest("[data-donate-step]");
    if (holder) goTo(Number(holder.dataset.donateStep), { focus: false });
    const details = node.closest("details");
    if (details) details.open = true;
    const slot = messageSlot(node, field);
    slot.textContent = message;
    node.setAttribute("aria-invalid", "true");
    addToken(node, "aria-describedby", slot.id);
    node.dataset.errorSlot = slot.id;
    errorBox.classList.add("donate-error-at-field");
    errorBox.textContent = message;
    bringIntoView(node.closest(".donate-field, .donate-check, fieldset") || node, slot);
    node.focus({ preventScroll: true });
  }

  // What is wrong in a step, as [message, field], or null.
  function problemIn(n) {
    if (n === 1) {
      const gift = giftMinor();
      if (!gift) return ["Choose an amount.", "amount_minor"];
      if (gift < config.minMinor) return [`The minimum donation is ${money(config.minMinor)}.`, "amount_minor"];
      if (config.maxMinor && gift > config.maxMinor) {
        return [`The maximum donation is ${money(config.maxMinor)}.`, "amount_minor"];
      }
      return null;
    }
    const fields = Array.from(steps[n - 1].querySelectorAll("input[required]"));
    for (const node of fields) {
      if (node.type === "checkbox") {
        if (!node.checked) return [ATTESTATIONS_MESSAGE, "attestations"];
      } else if (!node.value.trim()) {
        return [messages[node.name] || "This field is required.", node.name];
      } else if (node.type === "email" && !node.validity.valid) {
        return [messages.email_invalid || "Enter a valid email address.", node.name];
      }
    }
    return null;
  }

  // The first problem in steps 1..upTo, shown; true when there is none.
  function checkSteps(upTo) {
    for (let n = 1; n <= upTo; n += 1) {
      const problem = problemIn(n);
      if (problem) { showError(problem[0], problem[1]); return false; }
    }
    return true;
  }

  // --- steps, and keeping them in view ---

  // The element that scrolls the panel: the side column when it has its own scroll, else none
  // (the page).
  function scroller() {
    for (let node = panel.parentElement; node && node !== document.body; node = node.parentElement) {
      const overflow = getComputedStyle(node).overflowY;
      if ((overflow === "auto" || overflow === "scroll") && node.scrollHeight > node.clientHeight) return node;
    }
    return null;
  }

  // Scroll as little as brings `top`'s top and `bottom`'s bottom into view; when both do not
  // fit, `top` goes to the top. scrollIntoView moves every scroller on the way (the side column
  // and the page).
  function bringIntoView(top, bottom, smooth) {
    const box = scroller();
    const rect = box ? box.getBoundingClientRect() : { top: 0, bottom: window.innerHeight };
    const view = { top: Math.max(0, rect.top), bottom: Math.min(window.innerHeight, rect.bottom) };
    const room = Math.min(window.innerHeight, box ? box.clientHeight : Infinity);
    const first = top.getBoundingClientRect().top;
    const last = bottom.getBoundingClientRect().bottom;
    const behavior = smooth && !reducedMotion ? "smooth" : "auto";
    const margin = 8;
    if (last - first > room - 2 * margin) top.scrollIntoView({ block: "start", behavior: behavior });
    else if (first < view.top + margin) top.scrollIntoView({ block: "start", behavior: behavior });
    else if (last > view.bottom - margin) bottom.scrollIntoView({ block: "end", behavior: behavior });
  }

  function heading(n) { return steps[n - 1].querySelector(".donate-step-title"); }

  // The step, from the panel's title when it all fits, else from the step's heading, to its button.
  function revealStep(smooth) {
    const box = scroller();
    const room = Math.min(window.innerHeight, box ? box.clientHeight : Infinity);
    const whole = nav.getBoundingClientRect().bottom - panel.getBoundingClientRect().top;
    bringIntoView(whole <= room - 16 ? panel : heading(step), nav, smooth);
  }

  function goTo(n, options) {
    step = n;
    steps.forEach((node) => { node.hidden = Number(node.dataset.donateStep) !== n; });
    backButton.hidden = n === 1;
    nextButton.hidden = n === LAST;
    submit.hidden = n !== LAST;
    refreshLabels();
    if (!options || options.focus !== false) {
      revealStep(false);
      heading(n).focus({ preventScroll: true });
    }
    refreshBar();
  }

  function next() {
    clearErrors();
    if (!checkSteps(step)) return;
    goTo(Math.min(step + 1, LAST));
  }

  nextButton.addEventListener("click", next);
  backButton.addEventListener("click", () => { clearErrors(); goTo(Math.max(step - 1, 1)); });

  function refreshLabels() {
    const sum = sumText();
    nextButton.textContent = sum ? `Continue with ${sum}` : "Continue";
    submit.textContent = sum ? `Give ${sum}` : "Give";
    if (barButton) barButton.textContent = sum ? `Give ${sum}` : "Give";
  }

  // --- the phone's bar: shown while the panel is out of view, never over the panel's button ---

  // Typing in the panel (a phone's keyboard up): the bar would only cover the form.
  function typing() {
    const node = document.activeElement;
    return Boolean(node && panel.contains(node) && node.matches("input:not([type=checkbox])"));
  }

  let barRestsUntil = 0;  // while the bar's own smooth scroll runs, it stays away

  function refreshBar() {
    if (!bar) return;
    let show = false;
    if (!wide.matches && thanks.hidden && !typing() && performance.now() >= barRestsUntil) {
      const height = window.innerHeight;
      const rect = panel.getBoundingClientRect();
      const shown = Math.max(0, Math.min(rect.bottom, height) - Math.max(rect.top, 0));
      const button = (step === LAST ? submit : nextButton).getBoundingClientRect();
      const buttonInView = button.bottom > 0 && button.top < height;
      show = !buttonInView && shown < Math.min(rect.height, height) / 2;
    }
    bar.hidden = !show;
  }

  let barQueued = false;
  function queueBar() {
    if (barQueued) return;
    barQueued = true;
    requestAnimationFrame(() => { barQueued = false; refreshBar(); });
  }
  window.addEventListener("scroll", queueBar, { passive: true });
  window.addEventListener("resize", queueBar, { passive: true });
  window.addEventListener("load", queueBar);
  // The page above the panel grows (the player, the ticker) without a scroll: watch the panel.
  if (bar && window.IntersectionObserver) {
    const watcher = new IntersectionObserver(queueBar, { threshold: [0, 0.25, 0.5, 0.75, 1] });
    [panel, nextButton, submit].forEach((node) => watcher.observe(node));
  }
  panel.addEventListener("focusin", queueBar);
  panel.addEventListener("focusout", queueBar);
  if (barButton) {
    barButton.addEventListener("click", () => {
      barRestsUntil = performance.now() + 1000;
      window.setTimeout(queueBar, 1050);
      bar.hidden = true;
      revealStep(true);
      heading(step).focus({ preventScroll: true });
    });
  }

  // --- the total, and what other scripts hear of it ---

  let savingCard = false;  // the Payment Element was told the card is kept (setupFutureUsage)

  function refreshTotal() {
    const f = form.elements;
    const gift = giftMinor();
    if (!gift) {
      totalBox.textContent = "";
    } else {
      const fee = form.elements.cover_fees.checked ? feeFor(gift) : 0;
      const each = monthly() ? " each month" : "";
      totalBox.textContent = fee
        ? `Total ${money(gift + fee)}${each} (${money(gift)} + ${money(fee)} to cover fees)`
        : `Total ${money(gift)}${each}`;
      if (elements) {
        const options = { amount: gift + fee, mode: monthly() ? "subscription" : "payment" };
        // A card kept for next time: the PaymentIntent is made with setup_future_usage too (a
        // subscription keeps its card anyway). Told only once the donor ticks the box.
        const save = f.save_card.checked && !monthly();
        if (save || savingCard) options.setupFutureUsage = save ? "off_session" : null;
        savingCard = save;
        elements.update(options);
      }
    }
    refreshLabels();
    refreshExpress();
  }

  function changed() {
    refreshTotal();
    changeListeners.slice().forEach((fn) => {
      try { fn(); } catch (e) { window.setTimeout(() => { throw e; }, 0); }
    });
  }

  function tickerAmount(minor) {
    if (!tickerMoney) return money(minor);
    return (minor % 100 === 0 ? tickerWholeMoney : tickerMoney).format(minor / 100);
  }

  // The same rules as donations.ticker.default_name and ticker_text (the server decides; the
  // profanity filter runs only there, so its masking shows after Give).
  function defaultName(first, city, region) {
    if (!first) return "";
    if (city && region) return `${first} in ${city}, ${region}`;
    if (city) return `${first} in ${city}`;
    if (region) return `${first} from ${region}`;
    return first;
  }

  function tickerLine() {
    const f = form.elements;
    const value = (name) => (f[name] ? f[name].value.trim() : "");
    const gift = giftMinor();
    const message = value("message");
    const minimum = config.tickerNameMinMinor || 0;
    const belowMinimum = Boolean(gift && minimum && gift < minimum);
    let name;
    if (belowMinimum) name = config.someoneName;
    else if (f.anonymous.checked) name = config.anonymousName;
    else name = value("display_name") ||
      defaultName(value("first_name"), value("city"), value("region")) || config.anonymousName;
    const parts = [name];
    if (gift && !f.hide_amount.checked) {
      parts.push(tickerAmount(gift + (f.cover_fees.checked ? feeFor(gift) : 0)));
    }
    if (message && !belowMinimum) parts.push(`“${message}”`);
    return { text: parts.join(" — "), belowMinimum: belowMinimum, message: message };
  }

  function refreshPreview() {
    const f = form.elements;
    const typed = Boolean(f.display_name.value.trim() || f.message.value.trim());
    const on = f.ticker_opt_in.checked;
    preview.hidden = !on && !typed;
    preview.classList.toggle("donate-ticker-off", !on);
    if (!on) {
      previewLead.textContent = "Not in the ticker:";
      previewLine.textContent = "your name and message stay private.";
      previewRules.textContent = "Tick “Show my gift in the live ticker” to show them.";
      return;
    }
    const line = tickerLine();
    previewLead.textContent = "The ticker will say:";
    previewLine.textContent = line.text;  // text, never HTML
    const rules = [];
    const minimum = config.tickerNameMinMinor || 0;
    if (minimum && line.belowMinimum) {
      rules.push(`Gifts under ${tickerAmount(minimum)} show as “${config.someoneName}”, without a name or message.`);
    }
    if (config.tickerFilter && line.message && !line.belowMinimum) {
      rules.push("Words on the campaign’s profanity list show as ****.");
    }
    previewRules.textContent = rules.join(" ");
  }

  ["display_name", "message"].forEach((name) => {
    form.elements[name].addEventListener("input", () => {
      const f = form.elements;
      if (!tickerChosen && (f.display_name.value.trim() || f.message.value.trim())) {
        f.ticker_opt_in.checked = true;
      }
      refreshPreview();
    });
  });
  form.elements.ticker_opt_in.addEventListener("change", () => { tickerChosen = true; refreshPreview(); });

  panel.querySelectorAll("[data-major]").forEach((node) => {
    node.textContent = major(parseInt(node.dataset.major, 10));
  });
  // Buttons: Enter and Space select them natively; aria-pressed says which one is chosen.
  amountButtons.forEach((button) => {
    button.addEventListener("click", () => {
      amountByHand = true;
      hideLimitOffer();
      selectedMinor = parseInt(button.dataset.amountMinor, 10);
      form.elements.custom_amount.value = "";
      amountButtons.forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
      attemptKey = newKey();
      clearErrors();
      changed();
      refreshPreview();
    });
  });
  form.elements.custom_amount.addEventListener("input", () => {
    amountByHand = true;
    amountButtons.forEach((b) => b.setAttribute("aria-pressed", "false"));
  });
  // Any change of what is being given is a new attempt; a double click is not. The consent to
  // designate the rest is not a change: the server wants it with the refused attempt's key.
  form.addEventListener("input", (event) => {
    const name = event.target.name;
    if (name === "split_consent") {
      if (event.target.getAttribute("aria-invalid") === "true") clearErrors();
      return;
    }
    attemptKey = newKey();
    hideLimitOffer();
    if (name === "custom_amount" || name === "monthly" || name === "cover_fees") changed();
    else if (name === "save_card") refreshTotal();
    else refreshLabels();
    refreshPreview();
    if (event.target.getAttribute("aria-invalid") === "true") clearErrors();
  });
  form.addEventListener("change", refreshPreview);

  // --- Stripe: the Payment Element in the last step, the wallets where they can finish ---

  function refreshExpress() {
    if (!elements) return;
    // In the first step the wallets wait for an amount to pay.
    const total = totalMinor();
    expressBox.hidden = expressStep === 1 && !(total && total >= config.minMinor);
  }

  // What a wallet cannot give (employer, occupation, the statements, an address it was not
  // asked for), checked before its payment is confirmed: the donor is taken to it.
  const WALLET_FIELDS = ["email", "first_name", "last_name"];
  const WALLET_ADDRESS = ["address_line1", "city", "postal_code", "country"];
  function walletProblem() {
    for (const node of form.querySelectorAll("input[required]")) {
      const fromWallet = WALLET_FIELDS.includes(node.name) ||
        (config.walletAddress && WALLET_ADDRESS.includes(node.name));
      if (fromWallet || (node.type === "checkbox" ? node.checked : node.value.trim())) continue;
      return node.type === "checkbox"
        ? [ATTESTATIONS_MESSAGE, "attestations"]
        : [messages[node.name] || "This field is required.", node.name];
    }
    return null;
  }

  if (!config.simulated && config.publishableKey && window.Stripe) {
    stripe = window.Stripe(config.publishableKey);
    elements = stripe.elements({
      mode: "payment",
      amount: Math.max(config.minMinor, 100),
      currency: config.currency,
    });
    elements.create("payment").mount(paymentBox);
    paymentBox.hidden = false;
    const express = elements.create("expressCheckout", {
      emailRequired: true,
      billingAddressRequired: Boolean(config.walletAddress),
    });
    express.mount(expressBox);
    refreshExpress();
    express.on("confirm", async (event) => {
      const first = problemIn(1);
      const missing = first || walletProblem();
      if (missing) {
        event.paymentFailed({ reason: "fail" });
        showError(missing[0], missing[1]);
        return;
      }
      // The wallet gives the donor's name, email (and address when asked); the panel the rest.
      const billing = event.billingDetails || {};
      const words = String(billing.name || "").trim().split(/\s+/).filter(Boolean);
      const last = words.length > 1 ? words.pop() : "";
      const address = (config.walletAddress && billing.address) || {};
      const wallet = {
        email: billing.email, first_name: words.join(" "), last_name: last,
        address_line1: address.line1, address_line2: address.line2, city: address.city,
        region: address.state, postal_code: address.postal_code, country: address.country,
      };
      // What the wallet gave replaces what was typed; what it did not leaves it.
      const given = {};
      Object.keys(wallet).forEach((name) => { if (wallet[name]) given[name] = String(wallet[name]); });
      // The wallet's sheet has no employer or occupation: the server follows them up instead.
      given.express = true;
      const ok = await give(given, 0);
      if (!ok) event.paymentFailed({ reason: "fail" });
    });
  }

  function body(gift, overrides) {
    const f = form.elements;
    const value = (name) => (f[name] ? f[name].value.trim() : "");
    return Object.assign({
      attempt_key: attemptKey,
      page_token: config.pageToken,
      amount_minor: gift,
      currency: config.currency,
      cover_fees: f.cover_fees.checked,
      monthly: monthly(),
      email: value("email"),
      first_name: value("first_name"),
      last_name: value("last_name"),
      address_line1: value("address_line1"),
      address_line2: value("address_line2"),
      city: value("city"),
      region: value("region"),
      postal_code: value("postal_code"),
      country: value("country"),
      employer: value("employer"),
      occupation: value("occupation"),
      attestations: Array.from(form.querySelectorAll("input[name=attestation]:checked"))
        .map((box) => parseInt(box.value, 10)),
      ticker_opt_in: f.ticker_opt_in.checked,
      anonymous: f.anonymous.checked,
      hide_amount: f.hide_amount.checked,
      display_name: value("display_name"),
      message: value("message"),
      save_card: f.save_card.checked,
      refcode: refcode,
      us_passport_number: value("us_passport_number"),
      ask_tag: ask ? String(ask.tag || "") : "",
    }, overrides || {});
  }

  async function postJson(url, data) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(data),
      credentials: "same-origin",
    });
    let payload = {};
    try { payload = await response.json(); } catch (e) { payload = {}; }
    return { ok: response.ok, status: response.status, data: payload };
  }

  // --- the thank-you, and the donor's own line in the live ticker ---

  function sameEntry(entry, mine) {
    const amount = typeof entry.amount === "number" ? entry.amount : null;
    return String(entry.name) === mine.name && amount === mine.amount;
  }

  function highlight(index) {
    const list = document.querySelector('[data-live="ticker"]');
    const item = list && list.children[index];
    if (!item) return;
    item.classList.add("donate-ticker-mine");
    setTimeout(() => item.classList.remove("donate-ticker-mine"), reducedMotion ? 6000 : 3000);
  }

  function onSnapshot(snapshot) {
    if (!awaitingTicker || !snapshot || !Array.isArray(snapshot.recent)) return;
    const index = snapshot.recent.findIndex((entry) => sameEntry(entry, awaitingTicker));
    if (index < 0) return;
    const mine = awaitingTicker;
    awaitingTicker = null;
    tickerNote.textContent = `You’re in the live ticker now.${mine.masked ? MASKED_NOTE : ""}`;
    // The live room renders the ticker in the same snapshot: mark it once that is done.
    setTimeout(() => highlight(index), 0);
  }

  const liveroom = window.Pledgecast && window.Pledgecast.liveroom;
  if (liveroom) liveroom.onSnapshot(onSnapshot);

  // What the server will show (its rules, the profanity filter's masking included).
  function tickerPromise(entry) {
    const parts = [String(entry.name)];
    if (typeof entry.amount === "number") parts.push(tickerAmount(entry.amount));
    if (entry.message) parts.push(`“${entry.message}”`);
    return `Your gift will appear in the live ticker as: ${parts.join(" — ")}.${entry.masked ? MASKED_NOTE : ""}`;
  }

  // The page's own address with the donor's share refcode (any other refcode replaced).
  function shareLink(code) {
    const url = new URL(window.location.href);
    url.hash = "";
    url.searchParams.set("refcode", code);
    return url.toString();
  }

  function showShare(started) {
    if (!share || !started.share_refcode) return;
    shareUrl.value = shareLink(started.share_refcode);
    shareStatus.textContent = "";
    // The phone's own share sheet, where there is one.
    const phone = window.matchMedia && window.matchMedia("(pointer: coarse)").matches;
    shareNative.hidden = !(navigator.share && phone);
    share.hidden = false;
  }

  function showUpsell(started) {
    if (!upsell) return;
    lastGift = started.interval === "month" ? null
      : { reference: started.reference, attemptKey: started.attempt_key, gift: started.gift_minor };
    upsell.hidden = !lastGift;
    upsellStatus.textContent = "";
    upsellButton.disabled = false;
    if (lastGift) upsellButton.textContent = `Make it ${money(lastGift.gift)} monthly`;
  }

  function done(started, key) {
    const name = form.elements.first_name ? form.elements.first_name.value.trim() : "";
    thanksHeading.textContent = name ? `Thank you, ${name}!` : "Thank you!";
    thanksText.textContent = started.interval === "month"
      ? `Your monthly gift of ${money(started.amount_minor)} is set up. A receipt is on its way to your inbox.`
      : `Your ${money(started.amount_minor)} gift is in. A receipt is on its way to your inbox.`;
    // A gift split between two elections (with the donor's consent) says where each part went.
    const parts = Array.isArray(started.designation) ? started.designation : [];
    if (parts.length > 1) {
      const where = parts.map((part) => `${money(part.amount_minor)} to the ${String(part.election.name)}`);
      thanksText.textContent += ` It is designated ${where.join(" and ")}.`;
    }
    referenceBox.hidden = !started.reference;
    referenceBox.querySelector("[data-donate-reference-code]").textContent = started.reference || "";
    showShare(started);
    showUpsell(Object.assign({ attempt_key: key }, started));
    awaitingTicker = started.ticker || null;
    tickerNote.hidden = !awaitingTicker;
    tickerNote.textContent = awaitingTicker ? tickerPromise(awaitingTicker) : "";
    form.hidden = true;
    thanks.hidden = false;
    if (bar) bar.hidden = true;
    bringIntoView(panel, thanksHeading);
    thanksHeading.focus({ preventScroll: true });
    const current = liveroom && liveroom.snapshot();
    if (current) onSnapshot(current);
  }

  if (share) {
    panel.querySelector("[data-donate-share-copy]").addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(shareUrl.value);
        shareStatus.textContent = "Link copied.";
      } catch (e) {
        shareUrl.select();  // no clipboard access: the donor copies the selected link
        shareStatus.textContent = "Press Ctrl+C (or Copy) to copy the selected link.";
      }
    });
    shareNative.addEventListener("click", () => {
      navigator.share({ title: document.title, url: shareUrl.value }).catch(() => {});
    });
  }

  // One tap: the same gift, monthly, with the details the donor already gave.
  async function makeMonthly() {
    if (!lastGift) return;
    upsellButton.disabled = true;
    upsellStatus.textContent = "Setting up your monthly gift…";
    try {
      const started = await postJson(upsell.dataset.upsellUrl, {
        reference: lastGift.reference,
        attempt_key: lastGift.attemptKey,
      });
      if (!started.ok) {
        upsellStatus.textContent = started.data.error || "Something went wrong. Please try again.";
        upsellButton.disabled = false;
        return;
      }
      if (started.data.provider === "simulated") {
        const confirmed = await postJson(panel.dataset.confirmUrl, {
          donation_id: started.data.donation_id,
          client_secret: started.data.client_secret,
        });
        if (!confirmed.ok) {
          upsellStatus.textContent = confirmed.data.error || "The payment failed.";
          upsellButton.disabled = false;
          return;
        }
      } else {
        // The card the donor just used is still in the Payment Element; it now pays a
        // subscription's first invoice.
        elements.update({ amount: started.data.amount_minor, mode: "subscription" });
        const submitted = await elements.submit();
        if (submitted.error) {
          upsellStatus.textContent = submitted.error.message;
          upsellButton.disabled = false;
          return;
        }
        const { error } = await stripe.confirmPayment({
          elements,
          clientSecret: started.data.client_secret,
          confirmParams: { return_url: window.location.href },
          redirect: "if_required",
        });
        if (error) { upsellStatus.textContent = error.message; upsellButton.disabled = false; return; }
      }
      done(started.data, null);
    } catch (e) {
      upsellStatus.textContent = "We could not reach the server. Check your connection and try again.";
      upsellButton.disabled = false;
    }
  }
  if (upsellButton) upsellButton.addEventListener("click", makeMonthly);

  function reset() {
    form.reset();
    hideLimitOffer();
    amountByHand = false;
    selectedMinor = null;
    attemptKey = newKey();
    awaitingTicker = null;
    lastGift = null;
    tickerChosen = false;
    tickerBox.open = false;
    amountButtons.forEach((b) => b.setAttribute("aria-pressed", "false"));
    clearErrors();
    thanks.hidden = true;
    form.hidden = false;
    goTo(1, { focus: false });
    changed();
    refreshPreview();
    (amountButtons[0] || form.elements.custom_amount).focus();
  }
  panel.querySelector("[data-donate-again]").addEventListener("click", reset);

  // --- what the money rules answer: the limit's offer, the details an itemized gift needs ---

  // The fields the server requires now (itemized details, a passport number): shown, marked.
  function markRequired(names) {
    names.forEach((name) => {
      const node = form.elements[name];
      if (!node || node.nodeType !== 1) return;
      const box = node.closest("[data-donate-passport]");
      if (box) box.hidden = false;
      if (node.required) return;
      node.required = true;
      node.setAttribute("aria-required", "true");
      const label = form.querySelector(`label[for="${node.id}"]`);
      const optional = label && label.querySelector(".donate-optional");
      const star = document.createElement("span");
      star.className = "donate-req";
      star.setAttribute("aria-hidden", "true");
      star.textContent = "*";
      if (optional) optional.replaceWith(star);
      else if (label && !label.querySelector(".donate-req")) label.append(" ", star);
    });
  }

  function hideLimitOffer() {
    limitOffer = null;
    if (!limitBox) return;
    limitBox.hidden = true;
    form.elements.split_consent.checked = false;
  }

  function showLimitOffer(data, key) {
    const room = data.room_minor;
    const excess = data.excess_minor;
    const next = data.next_election;
    const split = Boolean(next && data.consent && data.election);
    limitOffer = { room: room, key: key, next: next, consent: data.consent };
    limitRoom.hidden = !(room > 0);
    limitRoom.textContent = `Give the ${money(room)} of room left`;
    limitSplit.hidden = !split;
    form.elements.split_consent.checked = false;
    if (split) {
      limitConsentText.textContent = `Designate the remaining ${money(excess)} to the ${String(next.name)}`;
      limitSplitButton.textContent = `Give ${money(room + excess)}, ${money(excess)} of it to the ${String(next.name)}`;
    }
    limitBox.hidden = limitRoom.hidden && limitSplit.hidden;
    if (!limitBox.hidden) bringIntoView(form.elements.custom_amount.closest(".donate-field"), limitBox);
  }

  // A refused start: the server's words at its field, and what it offers or asks for.
  function refused(data, key) {
    if (Array.isArray(data.requires)) markRequired(data.requires);
    showError(data.error || "Something went wrong. Please try again.", data.field);
    if (limitBox && data.field === "amount_minor" && typeof data.room_minor === "number") {
      showLimitOffer(data, key);
    }
  }

  if (limitBox) {
    // The room left is the whole charge, fees included: the gift becomes it, without fees.
    limitRoom.addEventListener("click", () => {
      if (!limitOffer) return;
      const room = limitOffer.room;
      hideLimitOffer();
      amountByHand = true;
      form.elements.cover_fees.checked = false;
      form.elements.custom_amount.value = major(room).replace(/,/g, "");
      amountButtons.forEach((b) => b.setAttribute("aria-pressed", "false"));
      selectedMinor = null;
      attemptKey = newKey();
      changed();
      refreshPreview();
      give(null, LAST);
    });
    limitSplitButton.addEventListener("click", () => {
      if (!limitOffer) return;
      if (!form.elements.split_consent.checked) {
        showError("Tick the box to say where the rest of your gift goes, or give the room left.",
          "designation");
        return;
      }
      give({
        attempt_key: limitOffer.key,
        designation: { split_to: limitOffer.next.id, consent: limitOffer.consent },
      }, LAST);
    });
  }

  // --- the live room's pinned ask ---

  function selectAmount(minor) {
    const button = amountButtons.find((b) => parseInt(b.dataset.amountMinor, 10) === minor);
    amountButtons.forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
    selectedMinor = button ? minor : null;
    form.elements.custom_amount.value = button ? "" : major(minor).replace(/,/g, "");
    attemptKey = newKey();
    hideLimitOffer();
    changed();
    refreshPreview();
  }

  function showAsk(pinned) {
    if (pinned) ask = pinned;  // the last ask's tag still goes with a gift: the server decides
    if (!askBox) return;
    askBox.hidden = !pinned;
    askBox.textContent = pinned ? String(pinned.text) : "";  // text, never HTML
    if (pinned && !amountByHand && thanks.hidden && typeof pinned.amount === "number") {
      selectAmount(pinned.amount);
    }
  }

  // The room's "Give $27": the ask's amount, in a new gift if the last one is done.
  document.addEventListener("room:give", (event) => {
    const pinned = event.detail;
    if (!pinned || typeof pinned.amount !== "number") return;
    if (!thanks.hidden) reset();
    amountByHand = false;
    showAsk(pinned);
    clearErrors();
    goTo(1, { focus: false });
  });

  let roomHooked = false;
  function hookRoom() {
    const room = window.Pledgecast && window.Pledgecast.room;
    if (roomHooked || !room || typeof room.onAsk !== "function") return;
    roomHooked = true;
    room.onAsk(showAsk);
  }

  // One path for the Give button and the wallet: start on the server, then confirm. `upTo`:
  // the steps the panel checks first (the wallet's own details stand in for the rest).
  async function give(overrides, upTo) {
    clearErrors();
    if (!checkSteps(upTo)) return false;
    const gift = giftMinor();
    submit.disabled = true;
    try {
      if (elements) {
        const { error } = await elements.submit();
        if (error) { showError(error.message); return false; }
      }
      const started = await postJson(panel.dataset.startUrl, body(gift, overrides));
      if (!started.ok) {
        refused(started.data, body(gift, overrides).attempt_key);
        return false;
      }
      if (started.data.provider === "simulated") {
        const confirmed = await postJson(panel.dataset.confirmUrl, {
          donation_id: started.data.donation_id,
          client_secret: started.data.client_secret,
        });
        if (!confirmed.ok) { showError(confirmed.data.error || "The payment failed."); return false; }
        done(started.data, attemptKey);
        return true;
      }
      const { error } = await stripe.confirmPayment({
        elements,
        clientSecret: started.data.client_secret,
        confirmParams: { return_url: window.location.href },
        redirect: "if_required",
      });
      if (error) { showError(error.message); return false; }
      done(started.data, attemptKey);
      return true;
    } catch (e) {
      showError("We could not reach the server. Check your connection and try again.");
      return false;
    } finally {
      submit.disabled = false;
    }
  }

  // Enter in a field moves on from steps 1 and 2, and gives from the last.
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (step < LAST) next();
    else give(null, LAST);
  });

  window.Pledgecast = window.Pledgecast || {};
  window.Pledgecast.donate = {
    giftMinor: giftMinor,
    totalMinor: totalMinor,
    monthly: monthly,
    onChange: (fn) => { if (typeof fn === "function") changeListeners.push(fn); },
    finish: (started, key) => done(started, key || started.attempt_key || issuedKey),
    pageToken: () => config.pageToken,
    newAttemptKey: () => { issuedKey = newKey(); return issuedKey; },
    askTag: () => (ask ? String(ask.tag || "") : ""),
  };

  refreshTotal();
  refreshPreview();
  goTo(1, { focus: false });
  // The room's script may run after this one (both deferred): hook it once both have run.
  hookRoom();
  if (!roomHooked) document.addEventListener("DOMContentLoaded", hookRoom);
})();
