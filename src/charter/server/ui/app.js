// Charter web UI: plain JavaScript, no build step. Talks to /v1 and /api with the API key
// kept in sessionStorage for this tab only.
"use strict";

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
};

let me = null;
const key = () => sessionStorage.getItem("charter-key");

async function api(path, options = {}) {
  const res = await fetch(path, {
    ...options,
    headers: { "Authorization": `Bearer ${key()}`, "Content-Type": "application/json", ...(options.headers || {}) },
  });
  if (!res.ok) {
    let message = `${res.status}`;
    try { message = (await res.json()).error.message; } catch (_) { /* keep the status */ }
    throw new Error(message);
  }
  const type = res.headers.get("content-type") || "";
  return type.includes("json") ? res.json() : res.text();
}

const hasRole = (role) => me && (me.roles.includes(role) || me.roles.includes("admin"));

// -- sign in ---------------------------------------------------------------------------------

async function signIn(secret) {
  sessionStorage.setItem("charter-key", secret);
  try {
    me = await api("/api/me");
  } catch (err) {
    sessionStorage.removeItem("charter-key");
    $("#signin-error").textContent = `Sign-in failed: ${err.message}`;
    return;
  }
  $("#signin").hidden = true;
  $("#tabs").hidden = false;
  $("#who").textContent = `${me.display_name || me.id} · ${me.roles.join(", ")} · ${me.clearance} · ${me.tier}`;
  document.querySelectorAll("[data-role]").forEach((b) => { b.hidden = !hasRole(b.dataset.role); });
  $("#personality").value = me.personality || "default";
  $("#instructions").value = me.instructions || "";
  show("chat");
}

function show(tab) {
  for (const b of document.querySelectorAll("#tabs button")) b.setAttribute("aria-pressed", String(b.dataset.tab === tab));
  for (const id of ["chat", "agents", "reviews", "usecases", "audit", "documents", "dashboard"]) $(`#${id}`).hidden = id !== tab;
  if (tab !== "agents") clearTimeout(runTimer);
  ({ agents: loadAgents, reviews: loadReviews, usecases: loadUseCases, audit: loadAudit, documents: loadDocuments,
     dashboard: () => Promise.all([loadDashboard(), loadRollouts()]) }[tab] || (() => $("#question").focus()))();
}

// -- chat ------------------------------------------------------------------------------------

const history = [];

function renderAnswer(li, text, charter) {
  li.textContent = "";
  const body = el("div", { class: "answer" });
  const cites = new Map((charter?.citations || []).map((c) => [c.n, c]));
  for (const part of text.split(/(\[\d+\])/)) {
    const m = part.match(/^\[(\d+)\]$/);
    if (m && cites.has(Number(m[1]))) {
      const c = cites.get(Number(m[1]));
      body.append(el("button", { type: "button", class: "cite", "aria-label": `Source ${c.n}: ${c.document}`,
        onclick: () => openCitation(c) }, `[${c.n}]`));
    } else body.append(part);
  }
  li.append(body);
  if (!charter) return;
  const d = charter.decision;
  if (d.action === "refuse") {
    li.append(el("div", { class: "notice refused", role: "note" },
      el("strong", {}, "Refused by the charter. "), d.reason || "",
      ...(d.alternatives.length ? [el("ul", {}, ...d.alternatives.map((a) => el("li", {}, a)))] : [])));
  } else if (d.action === "hold_for_review") {
    li.append(el("div", { class: "notice", role: "note" }, el("strong", {}, "Pending review. "),
      `A reviewer must approve this request (review ${d.review_id}); the answer is then kept for you.`));
  } else if (d.action === "safe_complete") {
    li.append(el("div", { class: "notice", role: "note" }, el("strong", {}, "Safe completion. "), d.reason || ""));
  }
  if (charter.citations.length) {
    li.append(el("ol", { class: "sources", "aria-label": "Sources" },
      ...charter.citations.map((c) => el("li", {}, el("button", { type: "button", class: "cite",
        onclick: () => openCitation(c) }, `${c.document} (${c.location})`)))));
  }
  const route = charter.route;
  const meta = el("div", { class: "meta" },
    el("span", { class: "badge", title: route.reason }, `route: ${route.name}`),
    el("span", { class: "route-reason" }, route.reason),
    charter.label ? el("span", { class: "badge" }, "AI-generated") : "");
  if (route.quota_exhausted) meta.append(el("span", { class: "badge" }, "quota reached: served by mini"));
  for (const [value, label] of [["up", "Helpful"], ["down", "Not helpful"]]) {
    meta.append(el("button", { type: "button", class: "vote", "aria-pressed": "false",
      onclick: async (ev) => {
        try {
          await api("/api/feedback", { method: "POST", body: JSON.stringify({ request_id: charter.request_id, kind: "vote", value }) });
          ev.target.setAttribute("aria-pressed", "true");
        } catch (err) { alert(`Feedback not saved: ${err.message}`); }
      } }, label));
  }
  li.append(meta);
}

function openCitation(c) {
  $("#citation-title").textContent = `[${c.n}] ${c.document}`;
  $("#citation-where").textContent = c.location;
  $("#citation-quote").textContent = c.quote;
  $("#citation").showModal();
}

async function ask(question) {
  history.push({ role: "user", content: question });
  $("#messages").append(el("li", { class: "msg user" }, question));
  const li = el("li", { class: "msg assistant", "aria-busy": "true" }, "…");
  $("#messages").append(li);
  $("#send").disabled = true;
  let text = "", charter = null;
  try {
    const res = await fetch("/v1/chat/completions", {
      method: "POST",
      headers: { "Authorization": `Bearer ${key()}`, "Content-Type": "application/json" },
      body: JSON.stringify({ model: $("#model").value, stream: true, messages: history,
        charter: { personality: $("#personality").value } }),
    });
    if (!res.ok) throw new Error((await res.json()).error.message);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const line = buffer.slice(0, cut).trim();
        buffer = buffer.slice(cut + 2);
        if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
        const event = JSON.parse(line.slice(6));
        if (event.error) throw new Error(event.error.message);
        if (event.charter) charter = event.charter;
        const delta = event.choices?.[0]?.delta?.content;
        if (delta) { text += delta; li.textContent = text; }
      }
    }
    renderAnswer(li, charter ? charter.answer : text, charter);
    history.push({ role: "assistant", content: charter ? charter.answer : text });
  } catch (err) {
    li.textContent = "";
    li.append(el("div", { class: "notice refused", role: "alert" }, `Error: ${err.message}`));
    history.pop();
  } finally {
    li.removeAttribute("aria-busy");
    $("#send").disabled = false;
    $("#question").focus();
  }
}

// -- agent runs --------------------------------------------------------------------------------

const ACTIVE = ["queued", "running", "awaiting_approval"];
const RESUMABLE = ["budget_exhausted", "failed", "needs_reconciliation"];
let runTimer = null, openRun = null;

async function loadAgents() {
  if (!$("#run-team").options.length) {
    const declared = await api("/api/runs/teams");
    for (const t of Object.values(declared.teams)) {
      $("#run-team").append(el("option", { value: t.name }, `${t.name} (${t.mode}): ${t.description}`));
    }
  }
  const runs = await api("/api/runs");
  const body = $("#runs-table tbody");
  body.textContent = "";
  if (!runs.length) body.append(el("tr", {}, el("td", { colspan: "4" }, "No runs yet.")));
  for (const r of runs) {
    body.append(el("tr", {},
      el("td", {}, el("button", { type: "button", class: "plain", onclick: () => showRun(r.id) }, r.id)),
      el("td", {}, r.team_name), el("td", {}, r.status), el("td", {}, r.task.slice(0, 80))));
  }
  if (hasRole("reviewer")) await loadWaiting();
  if (openRun) await showRun(openRun);
}

async function loadWaiting() {
  const box = $("#run-waiting");
  box.textContent = "";
  const waiting = await api("/api/runs/waiting");
  if (!waiting.length) return;
  box.append(el("h3", {}, "Tool calls waiting for approval"));
  const list = el("ul", { class: "cards" });
  for (const w of waiting) {
    const decide = (approve) => async () => {
      try {
        await api(`/api/runs/${w.run_id}/approval`, { method: "POST", body: JSON.stringify({ approve }) });
        item.replaceWith(el("li", { role: "status" }, `${approve ? "Approved" : "Rejected"} the ${w.tool} call of ${w.run_id}.`));
      } catch (err) { alert(err.message); }
    };
    const item = el("li", {}, el("p", {}, el("strong", {}, w.tool), ` · ${w.run_id} · ${w.principal_id} · ${w.why}`),
      el("pre", {}, JSON.stringify(w.arguments, null, 2)),
      el("p", { class: "meta" }, el("button", { type: "button", onclick: decide(true) }, "Approve"),
        el("button", { type: "button", class: "plain", onclick: decide(false) }, "Reject")));
    list.append(item);
  }
  box.append(list);
}

function stepDetail(s) {
  if (s.kind === "model") return `${s.action}: ${(s.text || s.reason || "").slice(0, 240)}`;
  if (s.kind === "tool") return `${s.tool}(${JSON.stringify(s.args)}) → ${(s.result || "").slice(0, 200)}${s.reconcile ? " (to reconcile)" : ""}`;
  if (s.kind === "screen") return `charter on the call: ${s.action}`;
  if (s.kind === "wait") return `review: ${s.state}`;
  if (s.kind === "approval") return `approval asked for ${s.tool}: ${s.why}`;
  return s.name;
}

async function showRun(id) {
  clearTimeout(runTimer);
  openRun = id;
  const r = await api(`/api/runs/${id}`);
  $("#run-view").hidden = false;
  $("#run-title").textContent = `${r.id} · ${r.team_name}`;
  const s = r.spent;
  $("#run-status").textContent = `${r.status}${r.note ? " — " + r.note : ""} · ${s.steps} steps, ${s.tool_calls} tool calls, ${s.tokens} tokens, ${s.seconds} s`;
  const body = $("#steps-table tbody");
  body.textContent = "";
  for (const st of r.steps) {
    body.append(el("tr", {}, el("td", {}, st.step), el("td", {}, st.agent || ""), el("td", {}, st.kind),
      el("td", {}, st.tokens ?? ""), el("td", {}, st.seconds != null ? `${Math.round(st.seconds * 1000)} ms` : ""),
      el("td", {}, stepDetail(st))));
  }
  $("#run-answer").textContent = r.answer || "";
  $("#run-resume").hidden = !RESUMABLE.includes(r.status);
  $("#run-cancel").hidden = !ACTIVE.includes(r.status);
  if (ACTIVE.includes(r.status) && !$("#agents").hidden) runTimer = setTimeout(() => showRun(id), 1000);
}

async function startRun(ev) {
  ev.preventDefault();
  $("#run-error").textContent = "";
  const body = { team: $("#run-team").value, task: $("#run-task").value.trim() };
  if ($("#run-steps").value) body.budget = { steps: Number($("#run-steps").value) };
  try {
    const run = await api("/api/runs", { method: "POST", body: JSON.stringify(body) });
    $("#run-task").value = "";
    openRun = run.id;
    await loadAgents();
  } catch (err) { $("#run-error").textContent = err.message; }
}

async function runAction(action) {
  if (!openRun) return;
  const budget = action === "resume" && $("#run-steps").value ? { budget: { steps: Number($("#run-steps").value) } } : {};
  try {
    await api(`/api/runs/${openRun}/${action}`, { method: "POST", body: JSON.stringify(budget) });
    await loadAgents();
  } catch (err) { $("#run-error").textContent = err.message; }
}

// -- governance console ------------------------------------------------------------------------

async function loadReviews() {
  const list = $("#review-list");
  list.textContent = "Loading…";
  const reviews = await api("/api/reviews?state=pending");
  list.textContent = "";
  if (!reviews.length) list.append(el("li", {}, "No requests are waiting for review."));
  for (const r of reviews) {
    const note = el("input", { id: `note-${r.id}`, required: "true" });
    const decide = (approve) => async () => {
      if (!note.value.trim()) { note.focus(); note.setAttribute("aria-invalid", "true"); return; }
      try {
        await api(`/api/reviews/${r.id}/${approve ? "approve" : "reject"}`, { method: "POST", body: JSON.stringify({ note: note.value }) });
        item.replaceWith(el("li", { role: "status" }, `${approve ? "Approved" : "Rejected"} ${r.id}.`));
      } catch (err) { alert(err.message); }
    };
    const item = el("li", { "data-review": r.id },
      el("p", {}, el("strong", {}, `${r.category} (${r.tier})`), ` · held under charter v${r.policy_version} · ${r.principal_id} · ${r.created_at.slice(0, 16)}`),
      el("blockquote", {}, r.question_redacted),
      el("label", { for: `note-${r.id}` }, "Decision note"), note,
      el("p", { class: "meta" },
        el("button", { type: "button", onclick: decide(true) }, "Approve"),
        el("button", { type: "button", class: "plain", onclick: decide(false) }, "Reject")));
    list.append(item);
  }
}

async function loadUseCases() {
  const rows = await api("/api/use-cases");
  const body = $("#uc-table tbody");
  body.textContent = "";
  for (const u of rows) body.append(el("tr", {}, el("td", {}, u.name), el("td", {}, u.tier), el("td", {}, u.state), el("td", {}, (u.review_by || "").slice(0, 10))));
}

function auditQuery() {
  const q = new URLSearchParams();
  if ($("#audit-actor").value) q.set("actor", $("#audit-actor").value);
  if ($("#audit-event").value) q.set("event", $("#audit-event").value);
  if ($("#audit-since").value) q.set("since", $("#audit-since").value);
  return q;
}

async function loadAudit() {
  const rows = await api(`/api/audit?${auditQuery()}&limit=200`);
  const body = $("#audit-table tbody");
  body.textContent = "";
  for (const r of rows) {
    body.append(el("tr", {}, el("td", {}, r.created_at.slice(0, 19).replace("T", " ")), el("td", {}, r.actor),
      el("td", {}, r.event), el("td", {}, r.payload.route?.name || ""), el("td", {}, r.payload.decision?.action || "")));
  }
}

async function exportAudit() {
  const text = await api(`/api/audit/export?${auditQuery()}`);
  const url = URL.createObjectURL(new Blob([text], { type: "application/x-ndjson" }));
  el("a", { href: url, download: "audit.jsonl" }).click();
  URL.revokeObjectURL(url);
}

async function loadDocuments() {
  const docs = await api("/api/documents");
  try {
    const s = await api("/api/documents/status");
    $("#kb-status").textContent = `${s.counts.documents} documents, ${s.counts.chunks} chunks · index ${s.embedding_model || "none yet"}`;
  } catch (_) { $("#kb-status").textContent = ""; }
  const body = $("#docs-table tbody");
  body.textContent = "";
  for (const d of docs) body.append(el("tr", {}, el("td", {}, d.title || d.name), el("td", {}, `${d.classification}${d.groups.length ? " · " + d.groups.join(",") : ""}`), el("td", {}, d.chunks), el("td", {}, d.updated_at.slice(0, 10))));
}

function barChart(title, days, value, format = (v) => v) {
  const max = Math.max(1e-9, ...days.map(value));
  const w = 260, h = 120, bw = Math.min(28, Math.max(4, Math.floor(w / Math.max(days.length, 1)) - 4));
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 -14 ${w} ${h + 30}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `${title}: ` + days.map((d) => `${d.date} ${format(value(d))}`).join(", "));
  days.forEach((d, i) => {
    const bh = Math.round((value(d) / max) * h);
    const rect = document.createElementNS(svg.namespaceURI, "rect");
    Object.entries({ x: i * (bw + 4), y: h - bh, width: bw, height: bh, fill: "#2953a6" }).forEach(([k, v]) => rect.setAttribute(k, v));
    const tip = document.createElementNS(svg.namespaceURI, "title");
    tip.textContent = `${d.date}: ${format(value(d))}`;
    rect.append(tip);
    const label = document.createElementNS(svg.namespaceURI, "text");
    Object.entries({ x: i * (bw + 4), y: h - bh - 3 }).forEach(([k, v]) => label.setAttribute(k, v));
    label.textContent = format(value(d));
    const day = document.createElementNS(svg.namespaceURI, "text");
    Object.entries({ x: i * (bw + 4), y: h + 12 }).forEach(([k, v]) => day.setAttribute(k, v));
    day.textContent = d.date.slice(5);
    svg.append(rect, label, day);
  });
  return el("figure", { class: "chart" }, el("h3", {}, title), svg);
}

async function loadDashboard() {
  const { days } = await api("/api/stats?days=14");
  const charts = $("#charts");
  charts.textContent = "";
  if (!days.length) { charts.append(el("p", {}, "No requests yet.")); return; }
  const routes = [...new Set(days.flatMap((d) => Object.keys(d.routes)))];
  charts.append(barChart("Requests per day", days, (d) => d.requests));
  for (const r of routes) charts.append(barChart(`Requests on route ${r}`, days, (d) => d.routes[r] || 0));
  charts.append(barChart("Refusal rate", days, (d) => d.refusal_rate, (v) => `${Math.round(v * 100)}%`));
  charts.append(barChart("Hold rate", days, (d) => d.hold_rate, (v) => `${Math.round(v * 100)}%`));
  charts.append(barChart("Latency p50 (ms)", days, (d) => d.latency_p50_ms || 0));
  charts.append(barChart("Tokens", days, (d) => d.tokens));
  charts.append(barChart("Estimated cost", days, (d) => d.cost, (v) => v.toFixed(4)));
}

async function loadRollouts() {
  if (!hasRole("admin")) return;
  const rows = await api("/api/rollouts?limit=20");
  const body = $("#rollouts-table tbody");
  body.textContent = "";
  const pct = (v) => `${(v * 100).toFixed(1)}%`;
  for (const r of rows) {
    const c = r.arms.challenger, h = r.arms.champion;
    const rates = Object.keys(c.rates).map((k) => `${k} ${pct(c.rates[k])} / ${pct(h.rates[k])}`).join(" · ");
    const what = r.kind === "alias" ? `alias ${r.alias}: ${r.challenger_alias} in its place`
      : `${r.kind} v${r.challenger} (champion v${r.champion ?? "none"})`;
    body.append(el("tr", {}, el("td", {}, r.id), el("td", {}, what),
      el("td", {}, pct(r.share)), el("td", {}, r.status), el("td", {}, `${Math.round(c.requests)} / ${Math.round(h.requests)} requests · ${rates}`),
      el("td", {}, r.reason || r.verdict?.reason || "")));
  }
}

// -- wiring ----------------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("#signin-form").addEventListener("submit", (ev) => { ev.preventDefault(); signIn($("#apikey").value.trim()); });
  $("#tabs").addEventListener("click", (ev) => { if (ev.target.dataset.tab) show(ev.target.dataset.tab); });
  $("#ask-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = $("#question").value.trim();
    if (q) { $("#question").value = ""; ask(q); }
  });
  $("#question").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); $("#ask-form").requestSubmit(); }
  });
  $("#save-profile").addEventListener("click", async () => {
    try {
      await api("/api/me/profile", { method: "PUT", body: JSON.stringify({ personality: $("#personality").value, instructions: $("#instructions").value }) });
      $("#profile-saved").textContent = "Saved.";
    } catch (err) { $("#profile-saved").textContent = `Not saved: ${err.message}`; }
  });
  $("#uc-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api("/api/use-cases", { method: "POST", body: JSON.stringify({ name: $("#uc-name").value, purpose: $("#uc-purpose").value, owner: $("#uc-owner").value }) });
      ev.target.reset();
      loadUseCases();
    } catch (err) { alert(err.message); }
  });
  $("#audit-form").addEventListener("submit", (ev) => { ev.preventDefault(); loadAudit(); });
  $("#run-form").addEventListener("submit", startRun);
  $("#run-resume").addEventListener("click", () => runAction("resume"));
  $("#run-cancel").addEventListener("click", () => runAction("cancel"));
  $("#audit-export").addEventListener("click", exportAudit);
  if (key()) signIn(key());
});
