// The moderators' console: signs in with a staff token, then drives moderation's JSON API.
// No framework and no network beyond this origin's API. The token lives in sessionStorage only
// (this tab, until it closes): never localStorage, never a cookie, so no other tab or request
// carries it. Every text the console shows comes from the page's string table; user content is
// only ever put in the page as text nodes, never as HTML.
"use strict";

(() => {
  const DATA = JSON.parse(document.getElementById("console-data").textContent);
  const S = DATA.strings;
  const LANG = DATA.lang;
  const TOKEN_KEY = "kolot.console.token";
  const QUEUE_EVERY_MS = 5000;
  const ALERTS_EVERY_MS = 4000;
  const QUEUE_LIMIT = 100;

  const $ = (id) => document.getElementById(id);
  const format = (template, fields = {}) =>
    template.replace(/\{(\w+)\}/g, (_, name) => (name in fields ? String(fields[name]) : `{${name}}`));
  const t = (key, fields) => format(S[key] ?? key, fields);

  // one element with attributes and children (strings become text nodes)
  function h(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "dataset") Object.assign(node.dataset, value);
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const state = {
    token: null,
    me: null,
    items: [],
    selected: null, // the comment id the keyboard acts on
    tab: "queue",
    filters: {},
    appeals: [],
    alertIds: new Set(),
    timers: [],
    busy: false,
  };

  // ---- the API ----------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, problem) {
      super(problem?.detail || problem?.title || `HTTP ${status}`);
      this.status = status;
      this.problem = problem || {};
    }
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json", Authorization: `Bearer ${state.token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
      });
    } catch (error) {
      throw new ApiError(0, { detail: t("err_network") });
    }
    const text = await response.text();
    let parsed = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON (a proxy's error page): the status says enough
      parsed = { detail: `HTTP ${response.status}` };
    }
    if (!response.ok) {
      const error = new ApiError(response.status, parsed);
      // a token that stops working mid-session sends the moderator back to the sign-in form
      if (response.status === 401 && state.me) signOut(t("session_ended"));
      throw error;
    }
    return parsed;
  }

  const status = (message) => {
    $("status").textContent = message;
  };

  // ---- signing in -------------------------------------------------------------------------

  function loginError(error) {
    if (error.status === 0) return t("err_network");
    if (error.status === 401) {
      return /expired/i.test(error.problem.detail || "") ? t("err_expired") : t("err_invalid");
    }
    if (error.status === 403) return t("err_role");
    return t("err_generic", { detail: error.message });
  }

  async function signIn(token) {
    state.token = token;
    const me = await api("GET", "/v1/me");
    if (!me.roles.includes("moderator") && !me.roles.includes("admin")) {
      throw new ApiError(403, { detail: "no moderator role" });
    }
    state.me = me;
    sessionStorage.setItem(TOKEN_KEY, token);
    $("login-view").hidden = true;
    $("app-view").hidden = false;
    $("logout").hidden = false;
    $("who").textContent = t("signed_in_as", { subject: me.subject });
    showTab(location.hash === "#appeals" ? "appeals" : "queue", { focus: false });
    await loadQueue({ announce: true });
    focusSelected();
    pollAlerts();
    state.timers.push(
      setInterval(
        () => loadQueue().catch((error) => error.status !== 401 && status(t("err_generic", { detail: error.message }))),
        QUEUE_EVERY_MS,
      ),
    );
    state.timers.push(setInterval(pollAlerts, ALERTS_EVERY_MS));
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    state.timers.forEach(clearInterval);
    Object.assign(state, { token: null, me: null, items: [], selected: null, timers: [] });
    state.alertIds.clear();
    $("queue").replaceChildren();
    $("appeals").replaceChildren();
    $("alert-list").replaceChildren();
    $("alerts").hidden = true;
    $("app-view").hidden = true;
    $("logout").hidden = true;
    $("who").textContent = "";
    $("login-view").hidden = false;
    $("token").value = "";
    $("login-status").textContent = message || "";
    $("token").focus();
  }

  $("login").addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = $("token").value.trim().replace(/^Bearer\s+/i, "");
    if (!token) {
      $("login-status").textContent = t("err_empty");
      $("token").focus();
      return;
    }
    $("login-status").textContent = t("checking");
    try {
      await signIn(token);
      $("login-status").textContent = "";
      $("token").value = "";
    } catch (error) {
      state.token = null;
      state.me = null;
      sessionStorage.removeItem(TOKEN_KEY);
      $("login-status").textContent = loginError(error);
      $("token").setAttribute("aria-invalid", "true");
      $("token").focus();
    }
  });

  $("logout").addEventListener("click", () => signOut(t("signed_out")));

  // ---- the queue --------------------------------------------------------------------------

  const number = new Intl.NumberFormat(LANG, { maximumFractionDigits: 2 });
  const relative = new Intl.RelativeTimeFormat(LANG, { numeric: "auto" });
  const when = new Intl.DateTimeFormat(LANG, { dateStyle: "short", timeStyle: "short" });

  function age(iso) {
    const seconds = (Date.parse(iso) - Date.now()) / 1000;
    const steps = [
      [60, "second"],
      [60, "minute"],
      [24, "hour"],
      [Infinity, "day"],
    ];
    let value = seconds;
    for (const [size, unit] of steps) {
      if (Math.abs(value) < size) return relative.format(Math.round(value), unit);
      value /= size;
    }
    return "";
  }

  const langName = (code) => S[`lang_${code}`] || code;
  const reasonName = (code) => S[`reason_${code}`] || code;

  // the comment's text with its matches as <mark> and its redactions as labelled spans;
  // spans count code points, as the API gives them
  function commentText(item) {
    const chars = Array.from(item.text);
    const spans = [
      ...item.matches.map((m) => ({ ...m, type: "match" })),
      ...item.redacted.map((r) => ({ ...r, type: "redacted" })),
    ].sort((a, b) => a.start - b.start);
    const parts = [];
    let at = 0;
    for (const span of spans) {
      if (span.start < at) continue;
      parts.push(chars.slice(at, span.start).join(""));
      const text = chars.slice(span.start, span.end).join("");
      if (span.type === "match") {
        parts.push(
          h("mark", { class: `hit ${span.category}`, title: t("match", { category: reasonName(span.category) }) }, text),
        );
      } else {
        parts.push(
          h("span", { class: "pii", title: t("redacted", { kind: span.kind }) }, text,
            h("span", { class: "visually-hidden" }, ` (${t("redacted", { kind: span.kind })})`)),
        );
      }
      at = span.end;
    }
    parts.push(chars.slice(at).join(""));
    const dir = item.language === "he" || item.language === "ar" ? "rtl" : "auto";
    return h("p", { class: "text", lang: item.language === "und" ? null : item.language, dir }, parts);
  }

  function rejectControls(item) {
    const id = `reject-${item.comment_id}`;
    return h(
      "div",
      { class: "reject" },
      h("label", { for: id, class: "visually-hidden" }, t("reject_reason")),
      h(
        "select",
        { id, name: "reason" },
        DATA.reasons.map((reason, index) => h("option", { value: reason.key }, `${index + 1}. ${reason.label}`)),
      ),
      h(
        "button",
        {
          type: "button",
          class: "danger",
          dataset: { action: "reject" },
          onclick: () => decide(item.comment_id, "reject", $(id).value),
        },
        t("reject"),
      ),
    );
  }

  function clusterLine(item) {
    const cluster = item.cluster;
    if (!cluster) return null;
    const line = h("div", { class: "cluster" },
      h("p", {}, t("cluster", { size: cluster.size, pending: cluster.pending }),
        " ", h("bdi", { class: "id", dir: "ltr" }, cluster.cluster_id)));
    if (cluster.pending > 1) {
      line.append(
        h("div", { class: "row" },
          h("button", {
            type: "button",
            dataset: { action: "approve-cluster", clusterId: cluster.cluster_id },
            onclick: () => bulk(cluster.cluster_id, "approve", null),
          }, t("approve_all", { n: cluster.pending })),
          h("button", {
            type: "button",
            class: "danger",
            dataset: { action: "reject-cluster", clusterId: cluster.cluster_id },
            onclick: () => bulk(cluster.cluster_id, "reject", $(`reject-${item.comment_id}`).value),
          }, t("reject_all", { n: cluster.pending })),
        ),
      );
    }
    return line;
  }

  function queueItem(item) {
    const headingId = `c-${item.comment_id}`;
    const scores = Object.entries(item.scores || {}).map(
      ([name, value]) => `${S[`score_${name}`] || name} ${number.format(value)}`,
    );
    return h(
      "li",
      {
        dataset: { commentId: item.comment_id, clusterId: item.cluster?.cluster_id },
        tabindex: "-1",
        "aria-labelledby": headingId,
        class: item.comment_id === state.selected ? "item current" : "item",
        onclick: (event) => {
          if (!event.target.closest("button, select, a, summary")) select(item.comment_id);
        },
        onfocusin: () => select(item.comment_id, { focus: false }),
      },
      h("h3", { id: headingId, class: "meta" },
        h("span", { class: "risk", dataset: { level: item.risk >= 0.8 ? "high" : item.risk >= 0.5 ? "mid" : "low" } },
          `${t("risk")} ${number.format(item.risk)}`),
        h("span", {}, `${t("waiting")}: ${age(item.submitted_at)}`),
        h("span", {}, `${t("comment_language")}: ${langName(item.language)}`),
        h("span", {}, `${t("channel")}: ${S[`channel_${item.channel}`] || item.channel}`),
        item.flags ? h("span", {}, `${t("flags")}: ${item.flags}`) : null,
      ),
      commentText(item),
      h("p", { class: "normalised" }, h("span", { class: "label" }, `${t("normalised")}: `),
        h("bdi", {}, item.normalised_text)),
      h("p", { class: "reasons" }, h("span", { class: "label" }, `${t("reasons")}: `),
        [...item.reasons.map(reasonName), ...scores].join(" · ")),
      h("p", { class: "campaign" }, `${t("campaign")}: `, h("bdi", { class: "id", dir: "ltr" }, item.campaign_id)),
      clusterLine(item),
      h("div", { class: "row actions" },
        h("button", {
          type: "button",
          class: "primary",
          dataset: { action: "approve" },
          onclick: () => decide(item.comment_id, "approve"),
        }, t("approve")),
        rejectControls(item),
      ),
    );
  }

  function select(commentId, { focus = true } = {}) {
    state.selected = commentId;
    for (const li of $("queue").children) {
      li.classList.toggle("current", li.dataset.commentId === commentId);
    }
    if (focus) focusSelected();
  }

  function focusSelected() {
    const li = state.selected && $("queue").querySelector(`li[data-comment-id="${CSS.escape(state.selected)}"]`);
    if (li) {
      li.focus();
      li.scrollIntoView({ block: "nearest" });
    }
  }

  function renderQueue() {
    const hadFocus = $("queue").contains(document.activeElement);
    $("queue").replaceChildren(...state.items.map(queueItem));
    $("queue-count").textContent = `(${t("queue_count", { n: state.items.length })})`;
    if (!state.items.length) {
      $("queue").append(h("li", { class: "empty" }, t("queue_empty")));
    }
    if (hadFocus) focusSelected();
  }

  function queuePath() {
    const query = new URLSearchParams({ limit: String(QUEUE_LIMIT) });
    for (const [name, value] of Object.entries(state.filters)) if (value) query.set(name, value);
    return `/v1/queue?${query}`;
  }

  async function loadQueue({ announce = false } = {}) {
    if (!state.me || state.busy) return;
    const { items } = await api("GET", queuePath());
    const same =
      items.length === state.items.length &&
      items.every((item, i) => item.comment_id === state.items[i].comment_id &&
        JSON.stringify(item.cluster) === JSON.stringify(state.items[i].cluster));
    state.items = items;
    if (!items.some((item) => item.comment_id === state.selected)) {
      state.selected = items.length ? items[0].comment_id : null;
    }
    if (!same || announce) renderQueue();
    if (announce) status(items.length ? t("queue_count", { n: items.length }) : t("queue_empty"));
  }

  // after an item leaves, the keyboard moves on to the one that took its place
  function removeItems(ids) {
    const gone = new Set(ids);
    const index = state.items.findIndex((item) => item.comment_id === state.selected);
    state.items = state.items.filter((item) => !gone.has(item.comment_id));
    if (gone.has(state.selected) || !state.items.some((i) => i.comment_id === state.selected)) {
      const next = state.items[Math.min(Math.max(index, 0), state.items.length - 1)];
      state.selected = next ? next.comment_id : null;
    }
    const hadFocus = $("queue").contains(document.activeElement) || document.activeElement === document.body;
    renderQueue();
    if (hadFocus) {
      if (state.selected) focusSelected();
      else $("queue-heading").focus();
    }
  }

  const statementFor = (language, reasonKey) => {
    const lang = language === "he" || language === "ar" ? language : "en";
    if (!reasonKey) return DATA.approved[lang];
    return DATA.reasons.find((r) => r.key === reasonKey).statements[lang];
  };

  async function decide(commentId, decision, reasonKey) {
    const item = state.items.find((i) => i.comment_id === commentId);
    if (!item || state.busy) return;
    state.busy = true;
    try {
      await api("POST", `/v1/comments/${encodeURIComponent(commentId)}/decision`, {
        decision,
        reason: statementFor(item.language, decision === "reject" ? reasonKey : null),
      });
      state.busy = false;
      removeItems([commentId]);
      const n = state.items.length;
      status(decision === "approve" ? t("done_approved", { n }) : t("done_rejected", { n, reason: reasonName(reasonKey) }));
    } catch (error) {
      state.busy = false;
      if (error.status === 409) {
        removeItems([commentId]);
        status(t("conflict"));
      } else if (error.status === 404) {
        removeItems([commentId]);
        status(t("gone"));
      } else if (error.status !== 401) {
        status(t("err_generic", { detail: error.message }));
      }
    }
  }

  function confirmDialog(text) {
    const dialog = $("confirm");
    $("confirm-text").textContent = text;
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
      dialog.returnValue = "";
      dialog.showModal();
      $("confirm-yes").focus();
    });
  }

  async function bulk(clusterId, decision, reasonKey) {
    if (state.busy) return;
    try {
      // every waiting copy, not only those on screen
      const { items } = await api("GET", `/v1/queue?cluster_id=${encodeURIComponent(clusterId)}&limit=100`);
      if (!items.length) return status(t("gone"));
      const short = clusterId;
      const question = decision === "approve"
        ? t("confirm_approve_all", { n: items.length, id: short })
        : t("confirm_reject_all", { n: items.length, id: short, reason: reasonName(reasonKey) });
      if (!(await confirmDialog(question))) return focusSelected();
      // the statement is in the language of the copy the moderator was looking at
      const language = items[0].language;
      state.busy = true;
      const { results } = await api("POST", "/v1/decisions", {
        comment_ids: items.map((i) => i.comment_id),
        decision,
        reason: statementFor(language, decision === "reject" ? reasonKey : null),
      });
      state.busy = false;
      const decided = results.filter((r) => r.outcome === "decided").length;
      removeItems(results.map((r) => r.comment_id));
      status(t("bulk_done", { n: decided, c: results.length - decided }));
    } catch (error) {
      state.busy = false;
      if (error.status !== 401) status(t("err_generic", { detail: error.message }));
    }
  }

  function move(step) {
    if (!state.items.length) return;
    const index = state.items.findIndex((item) => item.comment_id === state.selected);
    const next = Math.min(Math.max(index + step, 0), state.items.length - 1);
    select(state.items[index < 0 ? 0 : next].comment_id);
  }

  // ---- appeals ----------------------------------------------------------------------------

  function appealItem(appeal) {
    const id = `a-${appeal.appeal_id}`;
    const note = h("p", { class: "status", role: "status", id: `${id}-status` });
    const textarea = h("textarea", { id: `${id}-statement`, name: "statement", rows: "3" });
    const decideAppeal = async (outcome) => {
      const statement = textarea.value.trim();
      if (!statement) {
        note.textContent = t("statement_required");
        return textarea.focus();
      }
      try {
        await api("POST", `/v1/appeals/${encodeURIComponent(appeal.appeal_id)}/decision`, { outcome, statement });
        state.appeals = state.appeals.filter((a) => a.appeal_id !== appeal.appeal_id);
        renderAppeals();
        status(t(outcome === "upheld" ? "appeal_upheld" : "appeal_overturned"));
        const first = $("appeals").querySelector("textarea");
        (first || $("appeals-heading")).focus();
      } catch (error) {
        if (error.status === 403 && error.problem.type?.endsWith("appeal-same-moderator")) {
          note.textContent = t("same_moderator");
        } else if (error.status === 409) {
          note.textContent = t("appeal_conflict");
        } else if (error.status !== 401) {
          note.textContent = t("err_generic", { detail: error.message });
        }
      }
    };
    textarea.value = t("default_upheld");
    return h(
      "li",
      { class: "item", dataset: { appealId: appeal.appeal_id, commentId: appeal.comment_id }, "aria-labelledby": `${id}-h` },
      h("h3", { id: `${id}-h`, class: "meta" },
        h("span", {}, t("appeal_of", { id: appeal.comment_id })),
        h("span", {}, `${t("filed")}: ${when.format(new Date(appeal.filed_at))}`)),
      h("p", { class: "text", dir: "auto" }, appeal.text),
      h("label", { for: textarea.id }, t("statement_label")),
      textarea,
      h("div", { class: "row actions" },
        h("button", { type: "button", dataset: { action: "uphold" }, onclick: () => decideAppeal("upheld") }, t("uphold")),
        h("button", {
          type: "button",
          class: "primary",
          dataset: { action: "overturn" },
          onclick: () => {
            if (textarea.value === t("default_upheld")) textarea.value = t("default_overturned");
            decideAppeal("overturned");
          },
        }, t("overturn"))),
      note,
    );
  }

  function renderAppeals() {
    $("appeals").replaceChildren(...state.appeals.map(appealItem));
    if (!state.appeals.length) $("appeals").append(h("li", { class: "empty" }, t("appeals_empty")));
  }

  async function loadAppeals() {
    try {
      const { items } = await api("GET", "/v1/appeals?status=open&limit=100");
      state.appeals = items;
      renderAppeals();
    } catch (error) {
      if (error.status !== 401) status(t("err_generic", { detail: error.message }));
    }
  }

  function showTab(tab, { focus = true } = {}) {
    state.tab = tab;
    $("queue-panel").hidden = tab !== "queue";
    $("appeals-panel").hidden = tab !== "appeals";
    $("tab-queue").setAttribute("aria-pressed", String(tab === "queue"));
    $("tab-appeals").setAttribute("aria-pressed", String(tab === "appeals"));
    history.replaceState(null, "", tab === "appeals" ? "#appeals" : location.pathname + location.search);
    keepLanguageLinks();
    if (tab === "appeals") {
      loadAppeals().then(() => focus && $("appeals-heading").focus());
    } else if (focus) {
      focusSelected();
    }
  }

  for (const button of document.querySelectorAll("[data-tab]")) {
    button.addEventListener("click", () => showTab(button.dataset.tab));
  }
  $("appeals-heading").setAttribute("tabindex", "-1");
  $("queue-heading").setAttribute("tabindex", "-1");

  // ---- surge alerts -----------------------------------------------------------------------

  async function pollAlerts() {
    if (!state.me) return;
    let items;
    try {
      ({ items } = await api("GET", "/v1/alerts?active=true"));
    } catch {
      return; // the next poll tries again; the queue reports a broken service
    }
    const list = $("alert-list");
    const current = new Set(items.map((a) => `${a.alert_id}:${a.severity}`));
    // remove what cleared; add what is new (aria-live reads only what is added)
    for (const li of [...list.children]) if (!current.has(li.dataset.key)) li.remove();
    for (const alert of items) {
      const key = `${alert.alert_id}:${alert.severity}`;
      if (list.querySelector(`li[data-key="${CSS.escape(key)}"]`)) continue;
      list.append(
        h("li", { dataset: { key, alertId: alert.alert_id, severity: alert.severity }, class: `alert ${alert.severity}` },
          t("alert_line", {
            kind: t(`alert_${alert.kind}`),
            campaign: alert.campaign_id,
            severity: t(`severity_${alert.severity}`),
            time: when.format(new Date(alert.at)),
          })),
      );
    }
    $("alerts").hidden = items.length === 0;
  }

  // ---- filters, help, keyboard ------------------------------------------------------------

  function fillSelect(select, values, label) {
    select.replaceChildren(h("option", { value: "" }, t("any")), ...values.map((v) => h("option", { value: v }, label(v))));
  }
  fillSelect($("f-language"), ["he", "ar", "en", "und"], langName);
  fillSelect($("f-reason"), DATA.queue_reasons, reasonName);

  $("filters").addEventListener("submit", async (event) => {
    event.preventDefault();
    state.filters = Object.fromEntries(new FormData(event.target).entries());
    try {
      await loadQueue({ announce: true });
    } catch (error) {
      if (error.status !== 401) status(t("err_generic", { detail: error.message }));
    }
  });

  $("refresh").addEventListener("click", () =>
    loadQueue({ announce: true }).catch((error) => error.status !== 401 && status(t("err_generic", { detail: error.message }))));

  $("reason-key-list").replaceChildren(
    ...DATA.reasons.map((reason, index) => h("li", {}, h("kbd", {}, String(index + 1)), ` ${reason.label}`)),
  );

  $("help-open").addEventListener("click", () => $("help").showModal());

  const typing = (target) =>
    target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));

  document.addEventListener("keydown", (event) => {
    if (!state.me || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (document.querySelector("dialog[open]")) return; // the dialog has the keyboard
    if (event.key === "?") {
      event.preventDefault();
      $("help").showModal();
      return;
    }
    if (state.tab !== "queue") return;
    const key = event.key;
    if (key === "j" || key === "ArrowDown") move(1);
    else if (key === "k" || key === "ArrowUp") move(-1);
    else if (key === "a") decide(state.selected, "approve");
    else if (/^[1-9]$/.test(key) && Number(key) <= DATA.reasons.length) {
      decide(state.selected, "reject", DATA.reasons[Number(key) - 1].key);
    } else return;
    event.preventDefault();
  });

  // the language switch keeps the moderator where they are (the token stays in this tab)
  function keepLanguageLinks() {
    for (const link of document.querySelectorAll("a[data-lang]")) {
      link.setAttribute("href", `?lang=${link.dataset.lang}${state.tab === "appeals" ? "#appeals" : ""}`);
    }
  }

  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) {
    signIn(saved).catch((error) => {
      signOut(loginError(error));
    });
  }
})();
