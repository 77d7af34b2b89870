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

// Logging out with answers still waiting in this browser (the annotate page's outbox, kept in
// localStorage per project and person) asks first; when the person goes on, the waiting answers
// and the tab's task are removed, so nothing of theirs stays on a shared machine.
(() => {
  function waitingAnswers(user) {
    const keys = [];
    let count = 0;
    for (let i = 0; i < localStorage.length; i++) {
      const name = localStorage.key(i);
      if (name && name.startsWith("labelloop:") && name.endsWith(`:${user}:outbox`)) {
        keys.push(name);
        try {
          const list = JSON.parse(localStorage.getItem(name) || "[]");
          count += Array.isArray(list) ? list.length : 0;
        } catch (_err) {
          // an unreadable outbox counts as empty; it is removed all the same
        }
      }
    }
    return { keys, count };
  }

  document.addEventListener("submit", (ev) => {
    const form = ev.target;
    if (!(form instanceof HTMLFormElement) || form.getAttribute("action") !== "/logout") return;
    let found = { keys: [], count: 0 };
    try {
      found = waitingAnswers(form.dataset.user || "");
    } catch (_err) {
      return; // storage switched off: nothing of ours is in it
    }
    if (found.count > 0) {
      const what = found.count === 1 ? "1 answer is" : `${found.count} answers are`;
      const question = `${what} still waiting to be sent from this browser. Log out anyway? They will be removed from this browser.`;
      if (!window.confirm(question)) {
        ev.preventDefault();
        return;
      }
    }
    for (const name of found.keys) localStorage.removeItem(name);
    try {
      sessionStorage.clear();
    } catch (_err) {
      // nothing to clear
    }
  });
})();
