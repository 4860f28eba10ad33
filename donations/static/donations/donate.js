// The donate panel: amount, monthly, fees, donor fields, then Stripe's Payment Element and
// Express Checkout Element (deferred intent: the PaymentIntent, or the monthly Subscription,
// is created only on Donate / on the wallet's confirm) or the simulated confirm step.
// Everything the donor typed is shown back as text, never as HTML.
(function () {
  "use strict";
  const panel = document.querySelector("[data-donate]");
  const configNode = document.getElementById("donate-config");
  if (!panel || !configNode) return;
  const config = JSON.parse(configNode.textContent);
  const form = panel.querySelector("[data-donate-form]");
  const errorBox = panel.querySelector("[data-donate-error]");
  const totalBox = panel.querySelector("[data-donate-total]");
  const submit = panel.querySelector("[data-donate-submit]");
  const paymentBox = panel.querySelector("[data-donate-payment]");
  const expressBox = panel.querySelector("[data-donate-express]");
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
  const amountButtons = Array.from(panel.querySelectorAll("[data-amount-minor]"));
  let selectedMinor = null;
  let attemptKey = newKey();
  let stripe = null;
  let elements = null;
  let awaitingTicker = null;
  let lastGift = null;  // {reference, attemptKey, gift} of the one-time gift the thank-you is for  // {name, amount} of the gift just made, until the ticker shows it
  // Whether the donor ticked or unticked "Show my gift in the live ticker" by hand: until they
  // do, typing a name or a message ticks it (and the preview shows what the ticker will say).
  let tickerChosen = false;
  const MASKED_NOTE = " Some words are masked (****) by the campaign’s filter.";
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

  function monthly() { return Boolean(form.elements.monthly && form.elements.monthly.checked); }

  // The field the server (or our own check) names: marked invalid and tied to the message.
  function fieldNode(name) {
    if (name === "amount_minor") return form.elements.custom_amount;
    if (name === "attestations") return form.querySelector("input[name=attestation]:not(:checked)");
    const node = form.elements[name];
    return node && node.nodeType === 1 ? node : null;
  }

  function clearInvalid() {
    form.querySelectorAll("[aria-invalid=true]").forEach((node) => {
      node.removeAttribute("aria-invalid");
      node.removeAttribute("aria-describedby");
    });
  }

  function showError(message, field) {
    clearInvalid();
    errorBox.textContent = message || "";
    const node = message && field ? fieldNode(field) : null;
    if (node) {
      node.setAttribute("aria-invalid", "true");
      node.setAttribute("aria-describedby", errorBox.id);
      node.focus();
    }
  }

  const changeListeners = [];  // window.Pledgecast.donate.onChange (returning.js)
  let savingCard = false;  // the Payment Element was told the card is kept (setupFutureUsage)

  function totalMinor() {
    const gift = giftMinor();
    return gift ? gift + (form.elements.cover_fees.checked ? feeFor(gift) : 0) : null;
  }

  function refreshTotal() {
    changeListeners.forEach((fn) => fn());
    const gift = giftMinor();
    if (!gift) { totalBox.textContent = ""; return; }
    const fee = form.elements.cover_fees.checked ? feeFor(gift) : 0;
    const each = monthly() ? " each month" : "";
    totalBox.textContent = fee
      ? `Total ${money(gift + fee)}${each} (${money(gift)} + ${money(fee)} to cover fees)`
      : `Total ${money(gift)}${each}`;
    if (elements) {
      const options = { amount: gift + fee, mode: monthly() ? "subscription" : "payment" };
      // A card kept for next time: the PaymentIntent is made with setup_future_usage too (a
      // subscription keeps its card anyway). Set only once the donor ticks the box.
      const save = Boolean(form.elements.save_card && form.elements.save_card.checked) && !monthly();
      if (save || savingCard) options.setupFutureUsage = save ? "off_session" : null;
      savingCard = save;
      elements.update(options);
    }
  }

  function tickerAmount(minor) {
    if (!tickerMoney) return money(minor);
    return (minor % 100 === 0 ? tickerWholeMoney : tickerMoney).format(minor / 100);
  }

  // The same rules as donations.ticker.default_name and ticker_text (the server decides; the
  // profanity filter runs only there, so its masking shows after Donate).
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
      selectedMinor = parseInt(button.dataset.amountMinor, 10);
      form.elements.custom_amount.value = "";
      amountButtons.forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
      attemptKey = newKey();
      showError("");
      refreshTotal();
      refreshPreview();
    });
  });
  form.elements.custom_amount.addEventListener("input", () => {
    amountButtons.forEach((b) => b.setAttribute("aria-pressed", "false"));
  });
  // Any change of what is being given is a new attempt; a double click is not.
  form.addEventListener("input", () => {
    attemptKey = newKey(); refreshTotal(); refreshPreview(); showError("");
  });
  form.addEventListener("change", refreshPreview);

  if (!config.simulated && config.publishableKey && window.Stripe) {
    stripe = window.Stripe(config.publishableKey);
    elements = stripe.elements({
      mode: "payment",
      amount: Math.max(config.minMinor, 100),
      currency: config.currency,
    });
    elements.create("payment").mount(paymentBox);
    paymentBox.hidden = false;
    const express = elements.create("expressCheckout", { emailRequired: true });
    express.mount(expressBox);
    expressBox.hidden = false;
    express.on("confirm", async (event) => {
      // The wallet gives the donor's name and email; the panel gives the rest.
      const billing = event.billingDetails || {};
      const words = String(billing.name || "").trim().split(/\s+/).filter(Boolean);
      const last = words.length > 1 ? words.pop() : "";
      const ok = await give({ email: billing.email || "", first_name: words.join(" "), last_name: last });
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
      refcode: refcode,
      save_card: Boolean(f.save_card && f.save_card.checked),
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
    referenceBox.hidden = !started.reference;
    referenceBox.querySelector("[data-donate-reference-code]").textContent = started.reference || "";
    showShare(started);
    showUpsell(Object.assign({ attempt_key: key }, started));
    awaitingTicker = started.ticker || null;
    tickerNote.hidden = !awaitingTicker;
    tickerNote.textContent = awaitingTicker ? tickerPromise(awaitingTicker) : "";
    form.hidden = true;
    expressBox.hidden = true;
    thanks.hidden = false;
    thanksHeading.focus();
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
    selectedMinor = null;
    attemptKey = newKey();
    awaitingTicker = null;
    lastGift = null;
    tickerChosen = false;
    amountButtons.forEach((b) => b.setAttribute("aria-pressed", "false"));
    showError("");
    refreshTotal();
    refreshPreview();
    thanks.hidden = true;
    form.hidden = false;
    expressBox.hidden = !elements;
    (amountButtons[0] || form.elements.custom_amount).focus();
  }
  panel.querySelector("[data-donate-again]").addEventListener("click", reset);

  // One path for the Donate button and the wallet: start on the server, then confirm.
  async function give(overrides) {
    showError("");
    const gift = giftMinor();
    if (!gift) { showError("Choose an amount.", "amount_minor"); return false; }
    if (gift < config.minMinor) {
      showError(`The minimum donation is ${money(config.minMinor)}.`, "amount_minor");
      return false;
    }
    submit.disabled = true;
    try {
      if (elements) {
        const { error } = await elements.submit();
        if (error) { showError(error.message); return false; }
      }
      const started = await postJson(panel.dataset.startUrl, body(gift, overrides));
      if (!started.ok) {
        showError(started.data.error || "Something went wrong. Please try again.", started.data.field);
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

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    give(null);
  });

  // For returning.js (the one-tap button in the amount step).
  window.Pledgecast = window.Pledgecast || {};
  window.Pledgecast.donate = {
    giftMinor: giftMinor,
    totalMinor: totalMinor,
    monthly: monthly,
    onChange: (fn) => { changeListeners.push(fn); },
    finish: (started) => done(started, started.attempt_key || null),
    pageToken: () => config.pageToken,
    newAttemptKey: newKey,
  };
  refreshTotal();
  refreshPreview();
})();
