// labelloop annotate page: the first request for a task, sent as soon as this small script arrives.
// It is a classic script at the top of <head> (not deferred, not async): it runs before the page is
// parsed and before annotate.js (deferred) runs, which on a first visit saves the time the browser
// takes to parse the page and start the big script. It asks only when nothing waits to be sent and
// this tab shows no task; otherwise annotate.js decides (answers waiting are sent first).
// annotate.js takes the answer from window.labelloopFirstTask, and sets window.labelloopBootSkip so
// that this script, should it ever run late, does nothing. No inline scripts (see the CSP).
"use strict";

(() => {
  // Should it run after annotate.js started, annotate.js has asked already and this one must not
  // lease a second task (scripts run one at a time: the flag cannot change before the request).
  performance.mark("labelloop:boot");
  if (window.labelloopBootSkip) return;
  const me = document.currentScript;
  const project = (me && me.dataset.project) || "";
  const user = (me && me.dataset.user) || "";
  if (!project) return;
  const key = (name) => `labelloop:${project}:${user}:${name}`;
  try {
    const box = JSON.parse(localStorage.getItem(key("outbox")) || "[]");
    if ((Array.isArray(box) && box.length) || sessionStorage.getItem(key("current"))) return;
  } catch (_err) {
    return; // storage unreadable: annotate.js decides
  }
  const meta = document.querySelector('meta[name="csrf-token"]');
  const init = {
    method: "POST",
    credentials: "same-origin",
    headers: { "X-CSRF-Token": meta ? meta.getAttribute("content") : "", Accept: "application/json" },
  };
  // resume=true: a task this person already holds comes back (same lease) before a new one is leased
  window.labelloopFirstTask = fetch(`/api/v1/projects/${encodeURIComponent(project)}/queue/next?resume=true`, init)
    .then(async (response) => {
      const type = response.headers.get("content-type") || "";
      const data = response.status !== 204 && type.includes("json") ? await response.json() : null;
      return { status: response.status, ok: response.ok, data };
    })
    .catch(() => null);
})();
