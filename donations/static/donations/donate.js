// The donate panel: amount, fees, donor fields, then Stripe's Payment Element (deferred
// intent: the PaymentIntent is created only on Donate) or the simulated confirm step.
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
  const thanks = panel.querySelector("[data-donate-thanks]");
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  const refcode = new URLSearchParams(window.location.search).get("refcode") || "";
  let selectedMinor = null;
  let attemptKey = newKey();
  let stripe = null;
  let elements = null;

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

  function showError(message) { errorBox.textContent = message || ""; }

  function refreshTotal() {
    const gift = giftMinor();
    if (!gift) { totalBox.textContent = ""; return; }
    const fee = form.elements.cover_fees.checked ? feeFor(gift) : 0;
    totalBox.textContent = fee
      ? `Total ${money(gift + fee)} (${money(gift)} + ${money(fee)} to cover fees)`
      : `Total ${money(gift)}`;
    if (elements) elements.update({ amount: gift + fee });
  }

  panel.querySelectorAll("[data-major]").forEach((node) => {
    node.textContent = major(parseInt(node.dataset.major, 10));
  });
  panel.querySelectorAll("[data-amount-minor]").forEach((button) => {
    button.addEventListener("click", () => {
      selectedMinor = parseInt(button.dataset.amountMinor, 10);
      form.elements.custom_amount.value = "";
      panel.querySelectorAll("[data-amount-minor]").forEach((b) =>
        b.setAttribute("aria-pressed", String(b === button)));
      attemptKey = newKey();
      refreshTotal();
    });
  });
  // Any change of what is being given is a new attempt; a double click is not.
  form.addEventListener("input", () => { attemptKey = newKey(); refreshTotal(); showError(""); });

  if (!config.simulated && config.publishableKey && window.Stripe) {
    stripe = window.Stripe(config.publishableKey);
    elements = stripe.elements({
      mode: "payment",
      amount: Math.max(config.minMinor, 100),
      currency: config.currency,
    });
    elements.create("payment").mount(paymentBox);
    paymentBox.hidden = false;
  }

  function body(gift) {
    const f = form.elements;
    const value = (name) => (f[name] ? f[name].value.trim() : "");
    return {
      attempt_key: attemptKey,
      page_token: config.pageToken,
      amount_minor: gift,
      currency: config.currency,
      cover_fees: f.cover_fees.checked,
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
    };
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

  function done() {
    form.hidden = true;
    thanks.hidden = false;
    thanks.focus();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError("");
    const gift = giftMinor();
    if (!gift) { showError("Choose an amount."); return; }
    if (gift < config.minMinor) { showError(`The minimum donation is ${money(config.minMinor)}.`); return; }
    submit.disabled = true;
    try {
      if (elements) {
        const { error } = await elements.submit();
        if (error) { showError(error.message); return; }
      }
      const started = await postJson(panel.dataset.startUrl, body(gift));
      if (!started.ok) {
        showError(started.data.error || "Something went wrong. Please try again.");
        return;
      }
      if (started.data.provider === "simulated") {
        const confirmed = await postJson(panel.dataset.confirmUrl, {
          donation_id: started.data.donation_id,
          client_secret: started.data.client_secret,
        });
        if (!confirmed.ok) { showError(confirmed.data.error || "The payment failed."); return; }
        done();
        return;
      }
      const { error } = await stripe.confirmPayment({
        elements,
        clientSecret: started.data.client_secret,
        confirmParams: { return_url: window.location.href },
        redirect: "if_required",
      });
      if (error) { showError(error.message); return; }
      done();
    } catch (e) {
      showError("We could not reach the server. Check your connection and try again.");
    } finally {
      submit.disabled = false;
    }
  });
  refreshTotal();
})();
