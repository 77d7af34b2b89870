// labelloop web app: what every page shares. No inline scripts anywhere (see the CSP).
"use strict";

const labelloop = (() => {
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrf = meta ? meta.getAttribute("content") : "";

  /** fetch() against the JSON API with the session cookie and the CSRF header; JSON in and out. */
  async function api(method, url, body) {
    const init = { method, credentials: "same-origin", headers: { "X-CSRF-Token": csrf, Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    let data = null;
    const type = response.headers.get("content-type") || "";
    if (response.status !== 204 && type.includes("json")) data = await response.json();
    return { status: response.status, ok: response.ok, data };
  }

  /** Put text into an element safely (never as HTML). */
  function text(el, value) {
    if (el) el.textContent = value === null || value === undefined ? "" : String(value);
  }

  return { api, text, csrf };
})();
window.labelloop = labelloop;
