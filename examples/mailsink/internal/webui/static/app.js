// mailsink's web UI: live list updates from the event stream, and the
// buttons that change something (delete, release), which send JSON with
// fetch. Text from messages only ever reaches the page through the
// server's escaped HTML or through textContent.
"use strict";

const headers = { "Content-Type": "application/json" };

async function api(method, url, body) {
  const r = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await r.json().catch(() => ({}));
  if (!r.ok && !data.recipients) throw new Error(data.error || r.statusText);
  return data;
}

// A button with data-confirm asks for a second click.
function confirmed(button) {
  if (button.classList.contains("armed")) return true;
  const label = button.textContent;
  button.classList.add("armed");
  button.textContent = button.dataset.confirm;
  setTimeout(() => { button.classList.remove("armed"); button.textContent = label; }, 4000);
  return false;
}

function setupBar() {
  const all = document.getElementById("delete-all");
  all.addEventListener("click", async () => {
    if (!confirmed(all)) return;
    await api("DELETE", "/api/v1/messages");
    location.href = "/";
  });
}

function setupList() {
  const rows = document.getElementById("rows");
  const live = document.getElementById("live");
  const count = document.getElementById("count");
  // One refresh at a time; events that come meanwhile ask for one more.
  let pending = false, again = false;
  async function refresh() {
    if (pending) {
      again = true;
      return;
    }
    pending = true;
    try {
      const params = new URLSearchParams({ q: rows.dataset.query, start: rows.dataset.start, limit: rows.dataset.limit });
      const before = new Set([...rows.querySelectorAll("tr.msg")].map((tr) => tr.dataset.id));
      const r = await fetch("/list?" + params);
      // The server rendered these rows with html/template: escaped.
      rows.innerHTML = await r.text();
      for (const tr of rows.querySelectorAll("tr.msg")) if (!before.has(tr.dataset.id)) tr.classList.add("new");
      const j = await (await fetch("/api/v1/messages?" + new URLSearchParams({ q: rows.dataset.query, limit: 1 }))).json();
      count.textContent = j.total + (rows.dataset.query ? " matching messages" : " messages");
    } finally {
      pending = false;
    }
    if (again) {
      again = false;
      refresh();
    }
  }
  const es = new EventSource("/api/v1/events");
  es.onopen = () => live.classList.add("on");
  es.onerror = () => live.classList.remove("on");
  es.addEventListener("new", refresh);
  es.addEventListener("change", refresh);
}

function setupMessage() {
  const id = document.body.dataset.id;
  const url = "/api/v1/messages/" + encodeURIComponent(id);
  const del = document.getElementById("delete");
  del.addEventListener("click", async () => {
    if (!confirmed(del)) return;
    await api("DELETE", url);
    location.href = "/";
  });
  const form = document.getElementById("release");
  document.getElementById("release-open").addEventListener("click", () => { form.hidden = !form.hidden; });
  const result = document.getElementById("release-result");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = form.elements;
    const req = {
      server: f.server.value.trim(),
      security: f.security.value,
      insecure: f.insecure.checked,
      username: f.username.value,
      password: f.password.value,
      from: f.from.value.trim(),
      to: f.to.value.split(/[\s,;]+/).filter((s) => s),
    };
    result.textContent = "Sending…";
    try {
      showRelease(result, await api("POST", url + "/release", req));
    } catch (e) {
      result.textContent = "";
      const p = result.appendChild(document.createElement("p"));
      p.className = "fail";
      p.id = "release-error";
      p.textContent = "Not sent: " + e.message;
    }
  });
}

function showRelease(el, res) {
  el.textContent = "";
  const head = el.appendChild(document.createElement("p"));
  head.id = "release-summary";
  head.className = res.error ? "fail" : "ok";
  head.textContent = res.error ? "Not sent: " + res.error : "Sent to " + res.server + (res.tls ? " over " + res.tls : "") + (res.reply ? ": " + res.reply : "");
  if (!res.recipients.length) return;
  const t = el.appendChild(document.createElement("table"));
  t.id = "release-recipients";
  for (const r of res.recipients) {
    const tr = t.insertRow();
    tr.className = r.ok ? "ok" : "fail";
    tr.insertCell().textContent = r.address;
    tr.insertCell().textContent = r.code + (r.enhanced ? " " + r.enhanced : "");
    tr.insertCell().textContent = r.ok ? "accepted" : r.error;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  setupBar();
  if (document.body.dataset.page === "list") setupList();
  if (document.body.dataset.page === "message") setupMessage();
});
