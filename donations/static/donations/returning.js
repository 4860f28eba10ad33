// Returning donors, in the donate panel's amount step: "Give $25 with Visa •• 4242" in one tap
// for a browser that saved its card (or unlocked it with an emailed code), "Not you? Forget
// this device", and "Given before? Get a code by email". Built on window.Pledgecast.donate
// (donate.js): the amount, the page token, and the thank-you. The saved card's cookie is
// HttpOnly: this script never sees it; the server answers from it.
(function () {
  "use strict";
  const api = window.Pledgecast && window.Pledgecast.donate;
  const slot = document.querySelector("[data-donate-returning]");
  const template = document.querySelector("template[data-returning-template]");
  const panel = document.querySelector("[data-donate]");
  const configNode = document.getElementById("donate-config");
  if (!api || !slot || !template || !panel || !configNode) return;
  const config = JSON.parse(configNode.textContent);
  const urls = template.dataset;
  const csrfInput = panel.querySelector("input[name=csrfmiddlewaretoken]");
  const csrf = csrfInput ? csrfInput.value : "";
  const refcode = new URLSearchParams(window.location.search).get("refcode") || "";

  slot.appendChild(template.content.cloneNode(true));
  const $ = (name) => slot.querySelector(`[data-returning-${name}]`);
  const known = $("known");
  const unknown = $("unknown");
  const welcome = $("welcome");
  const give = $("give");
  const confirmBox = $("confirm");
  const opener = $("open");
  const codeBox = $("code");
  const emailInput = $("email");
  const enterBox = $("enter");
  const codeInput = $("code-input");
  const statusBox = $("status");
  const errorBox = $("error");
  let card = null;  // "Visa •• 4242" while this browser may give with a saved card
  let attemptKey = api.newAttemptKey();
  let busy = false;
  let stripe = null;

  function money(minor) {
    const whole = Math.floor(minor / 100);
    const cents = minor % 100;
    const text = cents ? `${whole.toLocaleString()}.${String(cents).padStart(2, "0")}` : whole.toLocaleString();
    return `${config.symbol}${text}`;
  }

  function say(status, error) {
    statusBox.textContent = status || "";
    errorBox.textContent = error || "";
  }

  async function post(url, data) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(data || {}),
      credentials: "same-origin",
    });
    let payload = {};
    try { payload = await response.json(); } catch (e) { payload = {}; }
    return { ok: response.ok, status: response.status, data: payload };
  }

  // The button names the sum, as the panel's own does.
  function refresh() {
    if (!card) return;
    const total = api.totalMinor();
    const each = api.monthly() ? " monthly" : "";
    give.textContent = total ? `Give ${money(total)}${each} with ${card}` : `Give with ${card}`;
  }

  // The campaign's statements, confirmed for this gift as on the form.
  function copyStatements() {
    const statements = Array.from(panel.querySelectorAll("input[name=attestation]"));
    confirmBox.hidden = statements.length === 0;
    statements.forEach((original) => {
      const label = document.createElement("label");
      label.className = "donate-check";
      const box = document.createElement("input");
      box.type = "checkbox";
      box.value = original.value;
      box.dataset.returningStatement = "";
      label.append(box, ` ${original.closest("label").textContent.trim()}`);
      confirmBox.appendChild(label);
    });
  }

  function showKnown(saved) {
    card = saved.card;
    welcome.textContent = saved.first_name ? `Welcome back, ${saved.first_name}.` : "Welcome back.";
    known.hidden = false;
    unknown.hidden = true;
    refresh();
  }

  function showUnknown() {
    card = null;
    known.hidden = true;
    unknown.hidden = false;
  }

  async function giveOneTap() {
    if (busy) return;
    const gift = api.giftMinor();
    if (!gift) {
      say("", "Choose an amount first.");
      const first = panel.querySelector("[data-amount-minor]");
      if (first) first.focus();
      return;
    }
    busy = true;
    give.disabled = true;
    say("Giving…", "");
    const key = attemptKey;
    try {
      const started = await post(urls.oneTapUrl, {
        page_token: api.pageToken(),
        attempt_key: key,
        amount_minor: gift,
        cover_fees: api.totalMinor() > gift,
        monthly: api.monthly(),
        attestations: Array.from(confirmBox.querySelectorAll("input:checked"))
          .map((box) => parseInt(box.value, 10)),
        refcode: refcode,
        ask_tag: api.askTag ? api.askTag() : "",
      });
      if (!started.ok) {
        say("", started.data.error || "Something went wrong. Please try again.");
        if (started.data.field === "saved_card") showUnknown();
        return;
      }
      if (started.data.provider === "simulated") {
        const confirmed = await post(panel.dataset.confirmUrl, {
          donation_id: started.data.donation_id,
          client_secret: started.data.client_secret,
        });
        if (!confirmed.ok) { say("", confirmed.data.error || "The payment failed."); return; }
      } else {
        // The saved card pays; Stripe asks the bank for 3-D Secure here when it wants it.
        stripe = stripe || window.Stripe(started.data.publishable_key);
        const { error } = await stripe.confirmPayment({
          clientSecret: started.data.client_secret,
          confirmParams: { payment_method: started.data.payment_method, return_url: window.location.href },
          redirect: "if_required",
        });
        if (error) { say("", error.message); return; }
      }
      say("", "");
      attemptKey = api.newAttemptKey();
      api.finish(Object.assign({ attempt_key: key }, started.data));
    } catch (e) {
      say("", "We could not reach the server. Check your connection and try again.");
    } finally {
      busy = false;
      give.disabled = false;
    }
  }

  async function forget() {
    try {
      await post(urls.forgetUrl);
      showUnknown();
      say("This device no longer remembers a card.", "");
      opener.focus();
    } catch (e) {
      say("", "We could not reach the server. Check your connection and try again.");
    }
  }

  async function sendCode() {
    const email = emailInput.value.trim();
    if (!email) { say("", "Enter your email address."); emailInput.focus(); return; }
    try {
      const sent = await post(urls.codeUrl, { email: email });
      if (!sent.ok) { say("", sent.data.error || "Something went wrong. Please try again."); return; }
      enterBox.hidden = false;
      say(sent.data.message, "");
      codeInput.focus();
    } catch (e) {
      say("", "We could not reach the server. Check your connection and try again.");
    }
  }

  async function checkCode() {
    try {
      const checked = await post(urls.checkUrl, {
        email: emailInput.value.trim(),
        code: codeInput.value.trim(),
      });
      if (!checked.ok) {
        say("", checked.data.error || "Something went wrong. Please try again.");
        codeInput.focus();
        return;
      }
      codeInput.value = "";
      showKnown(checked.data);
      say(`You can give with ${checked.data.card} now.`, "");
      give.focus();
    } catch (e) {
      say("", "We could not reach the server. Check your connection and try again.");
    }
  }

  give.addEventListener("click", giveOneTap);
  $("forget").addEventListener("click", forget);
  $("send").addEventListener("click", sendCode);
  $("check").addEventListener("click", checkCode);
  opener.addEventListener("click", () => {
    const open = codeBox.hidden;
    codeBox.hidden = !open;
    opener.setAttribute("aria-expanded", String(open));
    if (open) emailInput.focus();
  });
  // These fields sit inside the panel's form: Enter acts here, never submits the form.
  [[emailInput, sendCode], [codeInput, checkCode]].forEach(([input, action]) => {
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") { event.preventDefault(); action(); }
    });
  });
  api.onChange(() => { attemptKey = api.newAttemptKey(); refresh(); });
  copyStatements();

  fetch(urls.savedUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(async (response) => {
      if (response.status === 200) showKnown(await response.json());
      else showUnknown();
    })
    .catch(showUnknown)
    .finally(() => { slot.hidden = false; });
})();
