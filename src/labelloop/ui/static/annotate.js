// The annotate page: one task at a time, keyboard first, and no answer ever lost.
//
// Flow: the outbox is retried first, then the task this tab was working on is resumed (its lease
// renewed) or the next one leased (POST /api/v1/projects/{project}/queue/next). An answer goes into
// the outbox (localStorage, keyed by task and lease) *before* it is sent; it leaves the outbox
// when the server has it (201, or a replay of the same idempotency key), or with a visible message
// when the server refuses it for good (409 lease lost, 422, 404). A network error or a 5xx keeps
// it there and it is retried with backoff, also after a reload. No task is prefetched: a lease is
// only taken for the task the person is about to see.
//
// Keys: 1-9 pick the n-th label of the active question, Enter submits, S skips with a reason, Z
// undoes the last change on the current task (a submitted answer is final), A accepts the model's
// suggestion, Shift+arrows (Ctrl for words) select text for spans, Esc clears the selection.
// All data goes into the page with textContent / setAttribute, never as HTML.
"use strict";

(() => {
  const root = document.getElementById("annotate");
  if (!root || !window.labelloop) return;
  const { api } = window.labelloop;
  const setText = window.labelloop.text;
  const el = (id) => document.getElementById(id);

  const project = root.dataset.project || "";
  const user = root.dataset.user || "";
  // server clock minus browser clock (ms): the lease countdown must not depend on the browser's clock
  const clockOffset = Number(root.dataset.serverTime || Date.now()) - Date.now();
  const leaseMs = (Number(root.dataset.leaseSeconds) || 600) * 1000;
  const pageGuidelinesVersion = Number(root.dataset.guidelinesVersion) || 0;
  const serverNow = () => Date.now() + clockOffset;

  const key = (name) => `labelloop:${project}:${user}:${name}`;
  const OUTBOX = key("outbox"); // localStorage: survives closing the tab
  const CURRENT = key("current"); // sessionStorage: the task this tab holds, for a reload
  const SEEN = key("guidelines-seen");

  const MAX_BACKOFF_MS = 10000;
  const PAIR_FIELDS = [
    ["a", "b"],
    ["option_a", "option_b"],
    ["response_a", "response_b"],
    ["text_a", "text_b"],
    ["left", "right"],
    ["first", "second"],
  ];
  const KEYED_TYPES = ["single", "multi", "spans", "rating", "pairwise"];
  const PAIR_CHOICES = [
    ["a", "A is better"],
    ["b", "B is better"],
    ["tie", "Tie"],
  ];

  // ---------------------------------------------------------------------------------- state

  let task = null; // the leased task, as POST /queue/next answered it
  let questions = [];
  let answers = {}; // question name -> answer in the API's shape, null parts meaning "not answered"
  let undoStack = []; // JSON snapshots of `answers`, newest last
  let activeQ = null; // the question keys 1-9 act on
  let chars = []; // the record text as code points (span offsets count code points)
  let selection = null; // {anchor, focus} in code points: text chosen for a span, not yet labelled
  let caret = 0;
  let showCaret = false;
  let suggestion = null;
  let typing = null; // the text question being typed in (one undo step per burst)
  let shownAt = 0;
  let busy = false;
  let lastActivity = Date.now();
  let renewing = false;
  let lastRenewTry = 0;
  let expiredNoticeFor = null;
  let nextTimer = null;
  let nextAttempts = 0;
  let flushTimer = null;
  let flushing = null;
  const inFlight = new Set(); // outbox keys being sent by submit() right now

  // ---------------------------------------------------------------------------------- storage

  function load(store, name, fallback) {
    try {
      const raw = store.getItem(name);
      return raw ? JSON.parse(raw) : fallback;
    } catch (_err) {
      return fallback;
    }
  }

  function save(store, name, value) {
    try {
      if (value === null) store.removeItem(name);
      else store.setItem(name, JSON.stringify(value));
      return true;
    } catch (_err) {
      return false;
    }
  }

  // ---------------------------------------------------------------------------------- messages

  function showError(message) {
    const box = el("messages");
    const p = document.createElement("p");
    p.className = "error";
    setText(p, message);
    box.prepend(p);
    while (box.children.length > 3) box.lastElementChild.remove();
  }

  function clearErrors() {
    el("messages").replaceChildren();
  }

  function notice(message) {
    setText(el("notice"), message);
  }

  function connection(down, message) {
    const box = el("connection");
    box.hidden = !down;
    setText(box, down ? message : "");
  }

  function problem(response, fallback) {
    const data = response && response.data;
    if (data && typeof data.detail === "string" && data.detail) return data.detail;
    return fallback;
  }

  // ---------------------------------------------------------------------------------- outbox

  function outbox() {
    const list = load(localStorage, OUTBOX, []);
    return Array.isArray(list) ? list : [];
  }

  function writeOutbox(list) {
    const ok = save(localStorage, OUTBOX, list.length ? list : null);
    renderOutbox();
    return ok;
  }

  function outboxPut(entry) {
    const list = outbox().filter((e) => e.key !== entry.key);
    list.push(entry);
    if (!writeOutbox(list)) {
      showError("This browser cannot keep unsent answers (storage is full or off): keep this page open until the answer is sent.");
    }
  }

  function outboxRemove(entryKey) {
    writeOutbox(outbox().filter((e) => e.key !== entryKey));
  }

  function outboxUpdate(entry) {
    writeOutbox(outbox().map((e) => (e.key === entry.key ? entry : e)));
  }

  function renderOutbox() {
    const n = outbox().length;
    el("outbox").hidden = n === 0;
    setText(el("outbox-count"), n === 1 ? "1 answer waiting to be sent" : `${n} answers waiting to be sent`);
  }

  function backoff(attempts) {
    const base = Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.max(0, attempts - 1));
    return Math.round(base * (0.8 + 0.4 * Math.random()));
  }

  /** One send of one outbox entry: sent, retry (network, 5xx, session), invalid (422) or drop (409, 404, ...). */
  async function send(entry) {
    let response;
    try {
      response = await api("POST", `/api/v1/tasks/${entry.task_id}/annotations`, {
        lease_id: entry.lease_id,
        value: entry.value,
        duration_ms: entry.duration_ms,
        idempotency_key: entry.idempotency_key,
      });
    } catch (_err) {
      return { kind: "retry", why: "network" };
    }
    if (response.status === 201 || response.status === 200) return { kind: "sent", data: response.data || {} };
    if (response.status >= 500 || response.status === 408 || response.status === 429) {
      return { kind: "retry", why: "server" };
    }
    if (response.status === 401 || response.status === 403) {
      return { kind: "retry", why: "session", detail: problem(response, "log in again") };
    }
    if (response.status === 422) return { kind: "invalid", detail: problem(response, "the answer does not fit the task") };
    return { kind: "drop", status: response.status, detail: problem(response, `the server answered ${response.status}`) };
  }

  function retryLater(entry, result) {
    entry.attempts = (entry.attempts || 0) + 1;
    entry.next_at = Date.now() + backoff(entry.attempts);
    outboxUpdate(entry);
    if (result.why === "session") {
      connection(true, `Your session changed (${result.detail}): reload the page or log in again; waiting answers are kept and sent afterwards.`);
    } else {
      connection(true, "Cannot reach the server. Your answers are kept in this browser and sent when it is back.");
    }
    scheduleFlush();
  }

  function scheduleFlush() {
    clearTimeout(flushTimer);
    const list = outbox().filter((e) => !inFlight.has(e.key));
    if (!list.length) return;
    const due = Math.min(...list.map((e) => e.next_at || 0));
    flushTimer = setTimeout(() => flushOutbox(false), Math.max(200, due - Date.now()));
  }

  /** Send what waits in the outbox (all of it when `force`, else what is due), oldest first. */
  function flushOutbox(force) {
    if (flushing) return flushing;
    flushing = (async () => {
      for (const entry of outbox()) {
        if (inFlight.has(entry.key)) continue;
        if (!force && (entry.next_at || 0) > Date.now()) continue;
        inFlight.add(entry.key);
        let result;
        try {
          result = await send(entry);
        } finally {
          inFlight.delete(entry.key);
        }
        if (result.kind === "retry") {
          retryLater(entry, result);
          break; // the server is away: no point hammering it with the rest
        }
        outboxRemove(entry.key);
        connection(false);
        if (result.kind === "sent") {
          notice(`Your waiting answer to task ${entry.task_id} was sent.`);
          if (result.data.gold) showGold(result.data.gold, entry.questions || questions);
        } else {
          showError(`Your answer to task ${entry.task_id} could not be saved and was removed from the waiting answers: ${result.detail}.`);
        }
      }
    })().finally(() => {
      flushing = null;
      scheduleFlush();
    });
    return flushing;
  }

  // ---------------------------------------------------------------------------------- task state

  function blankAnswer(q) {
    switch (q.type) {
      case "single":
        return { label: null };
      case "multi":
        return { labels: [] };
      case "spans":
        return { spans: [] };
      case "rating":
        return { rating: null };
      case "pairwise":
        return { choice: null };
      default:
        return { text: "" };
    }
  }

  function persistCurrent() {
    if (!task) {
      save(sessionStorage, CURRENT, null);
      return;
    }
    save(sessionStorage, CURRENT, { task, answers, undo: undoStack.slice(-50), active: activeQ });
  }

  function change(mutate) {
    undoStack.push(JSON.stringify(answers));
    if (undoStack.length > 200) undoStack.shift();
    typing = null;
    mutate();
    syncQuestions();
    persistCurrent();
  }

  function undo() {
    if (!task) return;
    if (!undoStack.length) {
      notice("Nothing to undo on this task (a submitted answer is final).");
      return;
    }
    answers = JSON.parse(undoStack.pop());
    typing = null;
    syncQuestions();
    syncTextareas();
    renderText();
    persistCurrent();
    notice("Undone.");
  }

  function question(name) {
    return questions.find((q) => q.name === name) || null;
  }

  function scaleOf(q) {
    const scale = Array.isArray(q.scale) ? q.scale : [1, 5];
    return [Number(scale[0]), Number(scale[1])];
  }

  /** Keys 1-9: the n-th label of the active question. */
  function pick(n) {
    const q = question(activeQ);
    if (!q) return;
    if (q.type === "single" && n <= q.labels.length) {
      change(() => (answers[q.name] = { label: q.labels[n - 1] }));
    } else if (q.type === "multi" && n <= q.labels.length) {
      toggleMulti(q, q.labels[n - 1]);
    } else if (q.type === "spans" && n <= q.labels.length) {
      addSpan(q, q.labels[n - 1]);
    } else if (q.type === "rating") {
      const [low, high] = scaleOf(q);
      if (low + n - 1 <= high) change(() => (answers[q.name] = { rating: low + n - 1 }));
    } else if (q.type === "pairwise" && n <= PAIR_CHOICES.length) {
      change(() => (answers[q.name] = { choice: PAIR_CHOICES[n - 1][0] }));
    }
  }

  function toggleMulti(q, label) {
    change(() => {
      const chosen = new Set(answers[q.name].labels);
      if (chosen.has(label)) chosen.delete(label);
      else chosen.add(label);
      answers[q.name] = { labels: q.labels.filter((l) => chosen.has(l)) };
    });
  }

  // ---------------------------------------------------------------------------------- spans

  function selectionRange() {
    if (!selection) return null;
    let start = Math.min(selection.anchor, selection.focus);
    let end = Math.max(selection.anchor, selection.focus);
    // a double-clicked word often brings its trailing space along: spans never start or end in white space
    while (start < end && /\s/u.test(chars[start])) start += 1;
    while (end > start && /\s/u.test(chars[end - 1])) end -= 1;
    return start < end ? { start, end } : null;
  }

  function addSpan(q, label) {
    const range = selectionRange();
    if (!range) {
      notice("Select some text in the record first (mouse, or Shift+arrows), then press a label key.");
      return;
    }
    const spans = answers[q.name].spans;
    if (spans.some((s) => s.start === range.start && s.end === range.end && s.label === label)) {
      selection = null;
      renderText();
      return;
    }
    if (!q.allow_overlap && spans.some((s) => s.start < range.end && range.start < s.end)) {
      showError(`${q.name}: spans may not overlap; remove the other span first.`);
      return;
    }
    change(() => {
      const next = [...spans, { start: range.start, end: range.end, label }];
      next.sort((a, b) => a.start - b.start || a.end - b.end || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
      answers[q.name] = { spans: next };
    });
    selection = null;
    caret = range.end;
    renderText();
    notice(`Span "${excerpt(range.start, range.end)}" labelled ${label}.`);
  }

  function removeSpan(q, index) {
    change(() => {
      const next = answers[q.name].spans.slice();
      next.splice(index, 1);
      answers[q.name] = { spans: next };
    });
    renderText();
  }

  function excerpt(start, end) {
    const textPart = chars.slice(start, end).join("");
    return textPart.length > 80 ? `${textPart.slice(0, 79)}…` : textPart;
  }

  function spanQuestions() {
    return questions.filter((q) => q.type === "spans");
  }

  /** The record text, with spans highlighted and the pending selection marked (all as text nodes). */
  function renderText() {
    const box = el("record-text");
    const spanQs = spanQuestions();
    if (!spanQs.length) {
      box.textContent = chars.join("");
      return;
    }
    const marks = [];
    for (const q of spanQs) {
      for (const s of (answers[q.name] && answers[q.name].spans) || []) {
        marks.push({ start: s.start, end: s.end, label: s.label, color: q.labels.indexOf(s.label) % 8 });
      }
    }
    const pending = selection
      ? { start: Math.min(selection.anchor, selection.focus), end: Math.max(selection.anchor, selection.focus) }
      : null;
    const cuts = new Set([0, chars.length]);
    for (const m of marks) {
      cuts.add(m.start);
      cuts.add(m.end);
    }
    if (pending) {
      cuts.add(pending.start);
      cuts.add(pending.end);
    }
    if (showCaret) cuts.add(caret);
    const points = [...cuts].filter((p) => p >= 0 && p <= chars.length).sort((a, b) => a - b);
    const nodes = [];
    for (let i = 0; i < points.length - 1; i += 1) {
      const a = points[i];
      const b = points[i + 1];
      if (showCaret && a === caret) nodes.push(caretNode());
      const seg = document.createElement("span");
      seg.dataset.s = String(a);
      seg.dataset.e = String(b);
      seg.textContent = chars.slice(a, b).join("");
      const covering = marks.filter((m) => m.start <= a && b <= m.end);
      if (covering.length) {
        seg.classList.add("hl", `c${covering[0].color}`);
        seg.title = covering.map((m) => m.label).join(", ");
      }
      if (pending && pending.start <= a && b <= pending.end && pending.start < pending.end) seg.classList.add("pending");
      nodes.push(seg);
    }
    if (showCaret && caret === chars.length) nodes.push(caretNode());
    box.replaceChildren(...nodes);
  }

  function caretNode() {
    const node = document.createElement("span");
    node.className = "caret";
    node.setAttribute("aria-hidden", "true");
    return node;
  }

  /** A DOM point inside the record text -> a code-point offset (null when it is outside). */
  function pointToOffset(node, offset) {
    const box = el("record-text");
    if (node.nodeType === Node.TEXT_NODE) {
      const seg = node.parentElement && node.parentElement.closest("[data-s]");
      if (!seg || !box.contains(seg)) return null;
      return Number(seg.dataset.s) + Array.from(node.data.slice(0, offset)).length;
    }
    if (node === box) {
      let child = box.childNodes[offset] || null;
      while (child && !(child.dataset && child.dataset.s !== undefined)) child = child.nextSibling;
      return child ? Number(child.dataset.s) : chars.length;
    }
    const seg = node.closest ? node.closest("[data-s]") : null;
    if (seg && box.contains(seg)) return offset === 0 ? Number(seg.dataset.s) : Number(seg.dataset.e);
    return null;
  }

  function takeMouseSelection() {
    const box = el("record-text");
    const native = window.getSelection();
    if (!task || !spanQuestions().length || !native || native.rangeCount === 0) return;
    const range = native.getRangeAt(0);
    if (native.isCollapsed) {
      // a plain click in the text puts the caret there (Shift+arrows then select from it)
      const at = box.contains(range.startContainer) ? pointToOffset(range.startContainer, range.startOffset) : null;
      if (at !== null) {
        caret = at;
        if (selection) {
          selection = null;
          renderText();
        }
      }
      return;
    }
    if (!range.intersectsNode(box)) return;
    let start = box.contains(range.startContainer) ? pointToOffset(range.startContainer, range.startOffset) : 0;
    let end = box.contains(range.endContainer) ? pointToOffset(range.endContainer, range.endOffset) : chars.length;
    if (start === null) start = 0;
    if (end === null) end = chars.length;
    if (start >= end) return;
    selection = { anchor: start, focus: end };
    caret = end;
    showCaret = false;
    native.removeAllRanges();
    activateSpans();
    renderText();
  }

  function activateSpans() {
    const q = question(activeQ);
    if (!q || q.type !== "spans") {
      const first = spanQuestions()[0];
      if (first) setActive(first.name);
    }
  }

  function isWordChar(ch) {
    return ch !== undefined && /[\p{L}\p{N}_]/u.test(ch);
  }

  function step(from, direction, byWord) {
    let pos = from;
    if (!byWord) return Math.max(0, Math.min(chars.length, pos + direction));
    if (direction > 0) {
      while (pos < chars.length && !isWordChar(chars[pos])) pos += 1;
      while (pos < chars.length && isWordChar(chars[pos])) pos += 1;
    } else {
      while (pos > 0 && !isWordChar(chars[pos - 1])) pos -= 1;
      while (pos > 0 && isWordChar(chars[pos - 1])) pos -= 1;
    }
    return pos;
  }

  /** Arrow keys in the record text: move the caret, or with Shift extend the selection. */
  function keyboardSelect(ev) {
    const extend = ev.shiftKey;
    let target;
    if (ev.key === "Home") target = 0;
    else if (ev.key === "End") target = chars.length;
    else target = step(extend && selection ? selection.focus : caret, ev.key === "ArrowRight" ? 1 : -1, ev.ctrlKey || ev.altKey);
    if (extend) {
      const anchor = selection ? selection.anchor : caret;
      selection = { anchor, focus: target };
      activateSpans();
    } else {
      selection = null;
    }
    caret = target;
    showCaret = true;
    renderText();
  }

  // ---------------------------------------------------------------------------------- rendering

  function showState(name) {
    el("loading").hidden = name !== "loading";
    el("empty").hidden = name !== "empty";
    el("task").hidden = name !== "task";
    el("lease").hidden = name !== "task";
  }

  function pairOf(payload) {
    if (!payload || typeof payload !== "object") return null;
    for (const [a, b] of PAIR_FIELDS) {
      if (payload[a] !== undefined && payload[a] !== null && payload[b] !== undefined && payload[b] !== null) {
        const show = (v) => (typeof v === "string" ? v : JSON.stringify(v, null, 2));
        return [show(payload[a]), show(payload[b])];
      }
    }
    return null;
  }

  function optionRow(q, index, control, labelText, hint) {
    const row = document.createElement("span");
    row.className = "opt";
    const kbd = document.createElement("kbd");
    kbd.className = "hint";
    kbd.setAttribute("aria-hidden", "true");
    setText(kbd, hint <= 9 ? String(hint) : "");
    row.append(kbd, control);
    if (labelText !== null) {
      const label = document.createElement("label");
      label.htmlFor = control.id;
      setText(label, labelText);
      row.append(label);
    }
    return row;
  }

  function choiceInput(type, q, qi, i, value) {
    const input = document.createElement("input");
    input.type = type;
    input.name = `q${qi}`;
    input.id = `q${qi}-${i}`;
    input.value = String(value);
    input.dataset.q = q.name;
    return input;
  }

  function renderQuestions() {
    const box = el("questions");
    const nodes = [];
    questions.forEach((q, qi) => {
      const group = document.createElement(q.type === "text" ? "div" : "fieldset");
      group.className = `question q-${q.type}`;
      group.dataset.q = q.name;
      const title = document.createElement(q.type === "text" ? "label" : "legend");
      setText(title, q.name);
      if (q.type === "text") title.htmlFor = `q${qi}-text`;
      group.append(title);
      if (!q.required) {
        const optional = document.createElement("span");
        optional.className = "muted optional";
        setText(optional, " (optional)");
        group.append(optional);
      }
      if (q.help) {
        const help = document.createElement("p");
        help.className = "muted qhelp";
        setText(help, q.help);
        group.append(help);
      }
      const options = document.createElement("div");
      options.className = "options";
      if (q.type === "single" || q.type === "multi") {
        q.labels.forEach((label, i) => {
          const input = choiceInput(q.type === "single" ? "radio" : "checkbox", q, qi, i, label);
          input.addEventListener("change", () => {
            if (q.type === "single") change(() => (answers[q.name] = { label }));
            else toggleMulti(q, label);
          });
          options.append(optionRow(q, qi, input, label, i + 1));
        });
      } else if (q.type === "rating") {
        const [low, high] = scaleOf(q);
        for (let v = low, i = 0; v <= high; v += 1, i += 1) {
          const value = v;
          const input = choiceInput("radio", q, qi, i, value);
          input.addEventListener("change", () => change(() => (answers[q.name] = { rating: value })));
          options.append(optionRow(q, qi, input, String(value), i + 1));
        }
      } else if (q.type === "pairwise") {
        PAIR_CHOICES.forEach(([value, text], i) => {
          const input = choiceInput("radio", q, qi, i, value);
          input.addEventListener("change", () => change(() => (answers[q.name] = { choice: value })));
          options.append(optionRow(q, qi, input, text, i + 1));
        });
      } else if (q.type === "spans") {
        q.labels.forEach((label, i) => {
          const button = document.createElement("button");
          button.type = "button";
          button.id = `q${qi}-${i}`;
          button.className = `span-label c${i % 8}`;
          setText(button, label);
          // keep the text selection when the button is pressed with the mouse
          button.addEventListener("mousedown", (ev) => ev.preventDefault());
          button.addEventListener("click", () => {
            setActive(q.name);
            addSpan(q, label);
            button.blur(); // Enter submits again after a click
          });
          options.append(optionRow(q, qi, button, null, i + 1));
        });
        const hint = document.createElement("p");
        hint.className = "muted span-hint";
        setText(hint, "Select text in the record (mouse, or Shift+arrows), then press a label key or click a label.");
        const list = document.createElement("ul");
        list.className = "spans";
        list.dataset.q = q.name;
        group.append(options, hint, list);
        nodes.push(group);
        return;
      } else {
        const area = document.createElement("textarea");
        area.id = `q${qi}-text`;
        area.rows = 3;
        area.dataset.q = q.name;
        if (q.max_length) area.maxLength = Number(q.max_length);
        area.addEventListener("input", () => {
          if (typing !== q.name) {
            undoStack.push(JSON.stringify(answers));
            typing = q.name;
          }
          answers[q.name] = { text: area.value };
          persistCurrent();
        });
        options.append(area);
      }
      group.append(options);
      nodes.push(group);
    });
    box.replaceChildren(...nodes);
    syncTextareas();
    syncQuestions();
  }

  function syncTextareas() {
    for (const area of el("questions").querySelectorAll("textarea[data-q]")) {
      const answer = answers[area.dataset.q];
      area.value = answer && typeof answer.text === "string" ? answer.text : "";
    }
  }

  /** The controls show `answers` (no rebuild: focus stays where it is). */
  function syncQuestions() {
    for (const group of el("questions").querySelectorAll(".question")) {
      const q = question(group.dataset.q);
      if (!q) continue;
      group.classList.toggle("active", q.name === activeQ);
      const answer = answers[q.name] || blankAnswer(q);
      for (const input of group.querySelectorAll("input")) {
        if (q.type === "single") input.checked = answer.label === input.value;
        else if (q.type === "multi") input.checked = answer.labels.includes(input.value);
        else if (q.type === "rating") input.checked = answer.rating !== null && String(answer.rating) === input.value;
        else if (q.type === "pairwise") input.checked = answer.choice === input.value;
      }
      if (q.type === "spans") renderSpanList(q, group.querySelector("ul.spans"));
    }
  }

  function renderSpanList(q, list) {
    const items = answers[q.name].spans.map((s, index) => {
      const li = document.createElement("li");
      const chip = document.createElement("span");
      chip.className = `chip c${q.labels.indexOf(s.label) % 8}`;
      setText(chip, s.label);
      const quote = document.createElement("span");
      quote.className = "quote";
      setText(quote, `“${excerpt(s.start, s.end)}”`);
      const where = document.createElement("span");
      where.className = "muted";
      setText(where, `${s.start}–${s.end}`);
      const remove = document.createElement("button");
      remove.type = "button";
      setText(remove, "Remove");
      remove.addEventListener("click", () => removeSpan(q, index));
      li.append(chip, " ", quote, " ", where, " ", remove);
      return li;
    });
    list.replaceChildren(...items);
  }

  function setActive(name) {
    if (activeQ === name) return;
    activeQ = name;
    syncQuestions();
    persistCurrent();
  }

  function renderGuidelines(data) {
    const version = Number(data.guidelines_version) || 0;
    const own = version !== pageGuidelinesVersion && data.schema && typeof data.schema.guidelines === "string";
    // the page shows the current version (Markdown rendered on the server); an older task shows its own, as text
    el("guidelines-body").hidden = own;
    el("guidelines-task").hidden = !own;
    if (own) setText(el("guidelines-task"), data.schema.guidelines || "No guidelines.");
    setText(el("guidelines-version"), version ? `(version ${version})` : "");
  }

  function renderTask(data, saved) {
    task = data;
    questions = (data.schema && Array.isArray(data.schema.questions) ? data.schema.questions : []).map((q) => ({
      ...q,
      labels: Array.isArray(q.labels) ? q.labels : [],
    }));
    answers = {};
    for (const q of questions) answers[q.name] = blankAnswer(q);
    if (saved && saved.answers) Object.assign(answers, saved.answers);
    undoStack = saved && Array.isArray(saved.undo) ? saved.undo : [];
    const firstKeyed = questions.find((q) => KEYED_TYPES.includes(q.type)) || questions[0] || null;
    activeQ = saved && saved.active && question(saved.active) ? saved.active : firstKeyed ? firstKeyed.name : null;
    selection = null;
    caret = 0;
    showCaret = false;
    typing = null;
    suggestion = null;
    expiredNoticeFor = null;
    const record = data.record || {};
    const textValue = typeof record.text === "string" ? record.text : JSON.stringify(record.payload || {}, null, 2);
    chars = Array.from(textValue);
    setText(el("record-id"), `#${record.id} · task ${data.task_id}`);
    el("task").dataset.taskId = String(data.task_id);
    renderText();
    const pair = questions.some((q) => q.type === "pairwise") ? pairOf(record.payload) : null;
    el("pair").hidden = !pair;
    setText(el("option-a"), pair ? pair[0] : "");
    setText(el("option-b"), pair ? pair[1] : "");
    renderQuestions();
    renderGuidelines(data);
    el("suggestion").hidden = true;
    closeSkip();
    showState("task");
    shownAt = performance.now();
    tick();
    persistCurrent();
    performance.mark("labelloop:task-shown");
    // after the frame that shows it: what the person sees
    requestAnimationFrame(() => setTimeout(() => performance.mark("labelloop:task-painted"), 0));
    fetchSuggestion(data);
  }

  function clearCurrent() {
    task = null;
    questions = [];
    answers = {};
    undoStack = [];
    selection = null;
    persistCurrent();
  }

  // ---------------------------------------------------------------------------------- suggestion

  async function fetchSuggestion(forTask) {
    const record = forTask.record || {};
    if (!record.id) return;
    let response;
    try {
      response = await api("GET", `/projects/${encodeURIComponent(project)}/annotate/suggestion?record_id=${encodeURIComponent(record.id)}`);
    } catch (_err) {
      return;
    }
    if (task !== forTask || !response.ok || !response.data || !response.data.suggestion) return;
    const found = response.data.suggestion;
    const q = question(found.question);
    if (!q || (q.type !== "single" && q.type !== "multi") || !q.labels.includes(found.label)) return;
    suggestion = found;
    setText(el("suggestion-question"), q.name);
    setText(el("suggestion-label"), found.label);
    setText(el("suggestion-probability"), `${Math.round(Number(found.probability) * 100)}%`);
    setText(el("suggestion-model"), `model ${found.model}, version ${found.model_version}`);
    el("suggestion").hidden = false;
  }

  function acceptSuggestion() {
    if (!task || !suggestion) return;
    const q = question(suggestion.question);
    if (!q) return;
    const label = suggestion.label;
    if (q.type === "single") change(() => (answers[q.name] = { label }));
    else if (!answers[q.name].labels.includes(label)) toggleMulti(q, label);
    setActive(q.name);
    notice(`Suggestion accepted: ${q.name} = ${label}.`);
  }

  // ---------------------------------------------------------------------------------- gold feedback

  function describe(value, qs) {
    const parts = [];
    for (const [name, answer] of Object.entries(value || {})) {
      if (!answer || typeof answer !== "object") continue;
      let shown;
      if ("label" in answer) shown = String(answer.label);
      else if ("labels" in answer) shown = answer.labels.join(", ") || "none";
      else if ("rating" in answer) shown = String(answer.rating);
      else if ("choice" in answer) shown = (PAIR_CHOICES.find(([v]) => v === answer.choice) || [null, answer.choice])[1];
      else if ("spans" in answer) shown = answer.spans.map((s) => `${s.label} ${s.start}–${s.end}`).join("; ") || "none";
      else if ("text" in answer) shown = `“${answer.text}”`;
      else shown = JSON.stringify(answer);
      parts.push(`${name}: ${shown}`);
    }
    return parts.join(" · ") || (qs && qs.length ? "(none)" : "");
  }

  function showGold(gold, qs) {
    const box = el("feedback");
    const head = document.createElement("p");
    head.className = gold.correct ? "good" : "bad";
    setText(head, gold.correct ? "Gold item: your answer was correct." : "Gold item: your answer was not correct.");
    const known = document.createElement("p");
    setText(known, `The known answer: ${describe(gold.expected, qs)}`);
    const nodes = [head, known];
    if (gold.paused) {
      const paused = document.createElement("p");
      paused.className = "bad";
      setText(paused, "Your gold accuracy is too low: you are paused until a steward resumes you.");
      nodes.push(paused);
    }
    box.replaceChildren(...nodes);
    box.hidden = false;
  }

  // ---------------------------------------------------------------------------------- the value

  function buildValue() {
    const value = {};
    for (const q of questions) {
      const a = answers[q.name] || blankAnswer(q);
      if (q.type === "single") {
        if (a.label !== null) value[q.name] = { label: a.label };
        else if (q.required) return { error: `${q.name}: pick a label.`, question: q.name };
      } else if (q.type === "multi") {
        const min = q.min_labels === undefined || q.min_labels === null ? 1 : Number(q.min_labels);
        const max = q.max_labels === undefined || q.max_labels === null ? Infinity : Number(q.max_labels);
        if (!a.labels.length && !q.required) continue;
        if (a.labels.length < min) return { error: `${q.name}: pick at least ${min} label${min === 1 ? "" : "s"}.`, question: q.name };
        if (a.labels.length > max) return { error: `${q.name}: pick at most ${max} labels.`, question: q.name };
        value[q.name] = { labels: a.labels.slice() };
      } else if (q.type === "spans") {
        value[q.name] = { spans: a.spans.map((s) => ({ start: s.start, end: s.end, label: s.label })) };
      } else if (q.type === "rating") {
        if (a.rating !== null) value[q.name] = { rating: a.rating };
        else if (q.required) return { error: `${q.name}: pick a rating.`, question: q.name };
      } else if (q.type === "pairwise") {
        if (a.choice !== null) value[q.name] = { choice: a.choice };
        else if (q.required) return { error: `${q.name}: choose A, B or Tie.`, question: q.name };
      } else {
        const textValue = typeof a.text === "string" ? a.text : "";
        if (!textValue.trim()) {
          if (q.required) return { error: `${q.name}: write an answer.`, question: q.name };
          continue;
        }
        value[q.name] = { text: textValue };
      }
    }
    return { value };
  }

  // ---------------------------------------------------------------------------------- actions

  async function submit(ev) {
    if (!task || busy || !el("skip-form").hidden) return;
    const built = buildValue();
    if (built.error) {
      clearErrors();
      showError(built.error);
      if (built.question) setActive(built.question);
      return;
    }
    busy = true;
    el("submit").disabled = true;
    clearErrors();
    if (ev && typeof ev.timeStamp === "number") performance.mark("labelloop:submit", { startTime: ev.timeStamp });
    else performance.mark("labelloop:submit");
    const sent = task;
    const entry = {
      key: `${sent.task_id}:${sent.lease_id}`,
      task_id: sent.task_id,
      lease_id: sent.lease_id,
      value: built.value,
      duration_ms: Math.max(0, Math.round(performance.now() - shownAt)),
      idempotency_key: `web-${sent.task_id}-${sent.lease_id}`,
      questions,
      queued_at: Date.now(),
      attempts: 0,
      next_at: 0,
    };
    inFlight.add(entry.key);
    outboxPut(entry); // before sending: a reload or a crash while it travels loses nothing
    let result;
    try {
      result = await send(entry);
    } finally {
      inFlight.delete(entry.key);
      busy = false;
      el("submit").disabled = false;
    }
    if (result.kind === "invalid") {
      outboxRemove(entry.key);
      showError(`Not saved: ${result.detail}. Correct the answer and submit again.`);
      return;
    }
    el("feedback").hidden = true;
    if (result.kind === "sent") {
      outboxRemove(entry.key);
      connection(false);
      notice(result.data.replayed ? `Task ${sent.task_id} was already saved.` : `Saved task ${sent.task_id}.`);
      if (result.data.gold) showGold(result.data.gold, entry.questions);
    } else if (result.kind === "drop") {
      outboxRemove(entry.key);
      showError(`Your answer to task ${sent.task_id} was not stored: ${result.detail}.`);
    } else {
      retryLater(entry, result);
      notice(`Your answer to task ${sent.task_id} is kept in this browser and will be sent when the server is back.`);
    }
    clearCurrent();
    await loadNext();
  }

  function openSkip() {
    if (!task) return;
    el("skip-form").hidden = false;
    el("skip-reason").focus();
  }

  function closeSkip() {
    el("skip-form").hidden = true;
    el("skip-note").value = "";
  }

  async function doSkip() {
    if (!task || busy) return;
    const code = el("skip-reason").value;
    const note = el("skip-note").value.trim();
    if (code === "other" && !note) {
      showError("Say in the note why you skip this task.");
      el("skip-note").focus();
      return;
    }
    const skipped = task;
    busy = true;
    let response;
    try {
      response = await api("POST", `/api/v1/tasks/${skipped.task_id}/skip`, {
        lease_id: skipped.lease_id,
        reason: note ? `${code}: ${note}` : code,
      });
    } catch (_err) {
      showError("Could not reach the server to skip this task: try again in a moment.");
      return;
    } finally {
      busy = false;
    }
    if (response.ok) {
      clearErrors();
      notice(`Skipped task ${skipped.task_id}.`);
    } else if (response.status === 409 || response.status === 404) {
      showError(`Task ${skipped.task_id} is no longer yours: ${problem(response, "the lease was lost")}.`);
    } else {
      showError(`Could not skip: ${problem(response, `the server answered ${response.status}`)}.`);
      return;
    }
    closeSkip();
    clearCurrent();
    await loadNext();
  }

  // The next task. ``pending``: the answer of a request already sent (annotate-boot.js); ``resume``:
  // a task this person already holds comes first (on start-up only: two tabs must not share one).
  async function loadNext(pending = null, resume = false) {
    clearTimeout(nextTimer);
    if (task) return;
    showState("loading");
    let response;
    const url = `/api/v1/projects/${encodeURIComponent(project)}/queue/next${resume ? "?resume=true" : ""}`;
    try {
      response = pending ? await pending : await api("POST", url);
    } catch (_err) {
      response = null;
    }
    if (task) return; // another call got here first
    if (response === null || response.status >= 500) {
      nextAttempts += 1;
      connection(true, "Cannot reach the server. Your answers are kept in this browser and sent when it is back.");
      nextTimer = setTimeout(() => loadNext(null, resume), backoff(nextAttempts));
      return;
    }
    nextAttempts = 0;
    connection(false);
    if (outbox().length) flushOutbox(true);
    if (response.status === 200 && response.data) {
      renderTask(response.data, null);
      return;
    }
    setText(el("empty-detail"),
      response.status === 204
        ? "Every task that is due has enough answers, or you hold all you may. Check again later."
        : problem(response, `The server answered ${response.status}.`));
    showState("empty");
  }

  async function renew() {
    if (!task || renewing) return;
    const held = task;
    renewing = true;
    lastRenewTry = Date.now();
    let response;
    try {
      response = await api("POST", `/api/v1/tasks/${held.task_id}/lease`, { lease_id: held.lease_id });
    } catch (_err) {
      response = null; // offline: tried again on a later tick
    } finally {
      renewing = false;
    }
    if (task !== held || response === null) return;
    if (response.ok && response.data && response.data.lease_expires_at) {
      task.lease_expires_at = response.data.lease_expires_at;
      expiredNoticeFor = null;
      persistCurrent();
      tick();
    } else if (response.status === 409 || response.status === 404) {
      showError(`Your lease on task ${held.task_id} was lost (${problem(response, "it expired")}); your answer to it could not be sent. Here is a new task.`);
      clearCurrent();
      loadNext();
    }
  }

  function tick() {
    if (!task) return;
    // never more than a whole lease: the page's clock reading is a few ms old
    const left = Math.min(leaseMs, Date.parse(task.lease_expires_at) - serverNow());
    const seconds = Math.max(0, Math.ceil(left / 1000));
    const shown = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
    setText(el("lease-left"), left > 0 ? shown : "0:00 (time is up)");
    el("lease").classList.toggle("warn", left < 60000);
    if (left <= 0 && expiredNoticeFor !== task.lease_id) {
      expiredNoticeFor = task.lease_id;
      showError("Your time on this task ran out: it may go to someone else, and submitting may fail.");
    }
    // renew while the person is working, shortly before the lease ends
    const threshold = Math.min(Math.max(15000, leaseMs / 4), leaseMs / 2, 120000);
    const active = Date.now() - lastActivity < Math.max(60000, leaseMs / 2);
    if (left < threshold && active && Date.now() - lastRenewTry > 3000) renew();
  }

  // ---------------------------------------------------------------------------------- keyboard

  function isTextEntry(node) {
    if (node instanceof HTMLTextAreaElement || node instanceof HTMLSelectElement) return true;
    if (node instanceof HTMLInputElement) return !["radio", "checkbox", "button", "submit", "reset"].includes(node.type);
    return Boolean(node && node.isContentEditable);
  }

  function onKey(ev) {
    lastActivity = Date.now();
    if (ev.isComposing || ev.defaultPrevented) return;
    const target = ev.target;
    if (!el("skip-form").hidden) {
      if (ev.key === "Escape") {
        ev.preventDefault();
        closeSkip();
      } else if (ev.key === "Enter" && target instanceof HTMLSelectElement) {
        ev.preventDefault();
        doSkip();
      }
      return;
    }
    if (!task) return;
    if (isTextEntry(target)) {
      if (ev.key === "Escape") {
        ev.preventDefault();
        target.blur();
      } else if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        submit(ev);
      }
      return;
    }
    if (ev.metaKey) return;
    const arrows = ev.key === "ArrowLeft" || ev.key === "ArrowRight" || ev.key === "Home" || ev.key === "End";
    if (arrows && spanQuestions().length && (ev.shiftKey || target === el("record-text"))) {
      ev.preventDefault();
      keyboardSelect(ev);
      return;
    }
    if (ev.ctrlKey || ev.altKey) return;
    if (/^[1-9]$/.test(ev.key)) {
      ev.preventDefault();
      pick(Number(ev.key));
    } else if (ev.key === "Enter") {
      if (target instanceof HTMLButtonElement || target instanceof HTMLAnchorElement || target.tagName === "SUMMARY") return;
      ev.preventDefault();
      submit(ev);
    } else if (ev.key === "s" || ev.key === "S") {
      ev.preventDefault();
      openSkip();
    } else if (ev.key === "z" || ev.key === "Z") {
      ev.preventDefault();
      undo();
    } else if (ev.key === "a" || ev.key === "A") {
      if (suggestion) {
        ev.preventDefault();
        acceptSuggestion();
      }
    } else if (ev.key === "Escape") {
      if (selection) {
        selection = null;
        renderText();
      }
    }
  }

  // ---------------------------------------------------------------------------------- wiring

  function setupGuidelines() {
    const details = el("guidelines");
    const seen = Number(load(localStorage, SEEN, 0)) || 0;
    // new guidelines open by themselves once; afterwards they stay as the person left them
    if (pageGuidelinesVersion && seen !== pageGuidelinesVersion) {
      details.open = true;
      save(localStorage, SEEN, pageGuidelinesVersion);
    }
  }

  function wire() {
    document.addEventListener("keydown", onKey);
    for (const type of ["mousedown", "input", "touchstart", "wheel"]) {
      document.addEventListener(type, () => (lastActivity = Date.now()), { passive: true });
    }
    let lastMove = 0;
    document.addEventListener("mousemove", () => {
      const now = Date.now();
      if (now - lastMove > 1000) lastActivity = lastMove = now;
    }, { passive: true });
    // at once, not in a timer: a key pressed right after the mouse must see the selection, and a
    // late timer must never take (and end) the selection of the next drag
    document.addEventListener("mouseup", takeMouseSelection);
    el("record-text").addEventListener("blur", () => {
      if (showCaret) {
        showCaret = false;
        renderText();
      }
    });
    el("questions").addEventListener("focusin", (ev) => {
      const group = ev.target.closest && ev.target.closest(".question");
      if (group) setActive(group.dataset.q);
    });
    el("questions").addEventListener("click", (ev) => {
      const group = ev.target.closest && ev.target.closest(".question");
      if (group) setActive(group.dataset.q);
    });
    el("answer-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      submit(ev);
    });
    el("skip-open").addEventListener("click", openSkip);
    // after a click on these, the keys go back to the page (Enter submits, not "click again")
    el("undo").addEventListener("click", (ev) => {
      undo();
      ev.currentTarget.blur();
    });
    el("skip-cancel").addEventListener("click", closeSkip);
    el("skip-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      doSkip();
    });
    el("accept-suggestion").addEventListener("click", (ev) => {
      acceptSuggestion();
      ev.currentTarget.blur();
    });
    el("refresh").addEventListener("click", () => loadNext());
    el("outbox-send").addEventListener("click", () => flushOutbox(true));
    window.addEventListener("online", () => {
      flushOutbox(true);
      if (!task) loadNext();
    });
    window.addEventListener("storage", (ev) => {
      if (ev.key === OUTBOX) renderOutbox();
    });
    setInterval(tick, 1000);
  }

  async function start() {
    // Sent by annotate-boot.js when nothing waited and this tab showed no task: the held task or
    // a new lease, already on its way.
    const first = window.labelloopFirstTask || null;
    window.labelloopFirstTask = null;
    window.labelloopBootSkip = true; // annotate-boot.js, if it has not run yet, must not ask too
    // Otherwise asked for before anything else: in a new browser profile the first use of the
    // page's storage (just below) can take tens of ms, and this read needs none of it. Its answer
    // is used only if nothing waited in the outbox (an answer sent below may complete its task).
    const heldUrl = `/api/v1/projects/${encodeURIComponent(project)}/queue/held`;
    const heldEarly = first ? null : api("GET", heldUrl).catch(() => null);
    wire();
    setupGuidelines();
    renderOutbox();
    const waited = outbox().length > 0;
    if (waited) await flushOutbox(true); // what waits from before is sent first
    const saved = load(sessionStorage, CURRENT, null);
    if (saved && saved.task && Date.parse(saved.task.lease_expires_at) > serverNow()) {
      renderTask(saved.task, saved);
      renew(); // proves the lease is still ours (and extends it); a lost one brings the next task
      return;
    }
    save(sessionStorage, CURRENT, null);
    if (first) {
      if (waited) {
        // an answer came in from another tab meanwhile and was sent first: it may have completed
        // the task the early request resumed, so ask again once that request is done
        await first;
        await loadNext(null, true);
      } else {
        await loadNext(first, true);
      }
      return;
    }
    // A task this person already holds (a reload or a lost answer to "next" left it leased but not
    // shown) comes back first; otherwise it would stay blocked until its lease expires.
    const held = waited ? await api("GET", heldUrl).catch(() => null) : await heldEarly;
    if (held && held.status === 200 && held.data && !task) {
      renderTask(held.data, null);
      return;
    }
    await loadNext();
  }

  start();
})();
