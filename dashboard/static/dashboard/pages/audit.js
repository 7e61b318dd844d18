// The team's audit log (admins): the API's filters, newest first, "load more" with the cursor, and
// "Live": the same events as they happen, from the stream (GET /audit-log/stream, Server-Sent
// Events). EventSource cannot send headers, so each connection is opened with a fresh stream token
// (POST /audit-log/stream-token: one connection at a time, 60 s to open) in `?token=`, never with
// the access token.
// A dropped connection is reopened with a new token and `last_event_id`, so nothing is missed or
// shown twice; the stream stops when the page goes away (another team, another page, sign-out).

import { config, onAuthChange } from "../api.js";
import { dateCell, field, formValues, h, notice } from "../ui.js";
import { header, pagedTable, picker } from "./common.js";

export const eventColumns = [
  ["When", (event) => dateCell(event.created_at)],
  ["Action", (event) => event.action],
  ["Status", (event) => event.status_code ?? "—"],
  ["Actor", (event) => event.actor?.username || "—"],
  ["Key", (event) => (event.api_key ? `${event.api_key.prefix}… ${event.api_key.name || ""}` : "—")],
  ["Request", (event) => (event.method ? `${event.method} ${event.path}` : "—")],
  ["IP", (event) => event.ip || "—"],
];

// What the stream takes of the listing's filters (a stream has no time range).
const STREAM_FILTERS = ["action", "status", "key", "integration", "actor"];
const SHOWN_IDS_KEPT = 5000;

export function auditPage(container, context) {
  if (!context.can("admin")) {
    container.append(header("Audit log"), h("p", {}, "The team's audit log is for admins."));
    return;
  }
  // Ids of the rows on screen (listing and live), so an event is never shown twice.
  const shown = new Set();
  let newest = null;
  const remember = (id) => {
    shown.add(id);
    if (shown.size > SHOWN_IDS_KEPT) shown.delete(shown.values().next().value);
  };
  const columns = eventColumns.map(([heading, cell], index) => [heading, index ? cell : (event) => {
    remember(event.id);
    newest ||= event.id;
    return cell(event);
  }]);

  const filters = h("form", { class: "filters", role: "search", onsubmit: (event) => {
    event.preventDefault();
    reload();
  } },
  field("Action", "action", { options: [["", "Any"], ...config.audit_actions.map((action) => [action, action])] }),
  field("Status", "status", { options: [["", "Any"], ["2xx", "2xx"], ["4xx", "4xx"], ["5xx", "5xx"]] }),
  // Pickers, not ids: the team's keys (every one, for an admin), integrations and members.
  picker({ api: context.api, label: "Key", name: "key", path: "/auth/api-keys",
    option: (key) => [key.id, `${key.name} (${key.prefix}…)${key.status === "active" ? "" : `, ${key.status}`}`] }),
  picker({ api: context.api, label: "Integration", name: "integration", path: "/integrations",
    option: (integration) => [integration.id, integration.name] }),
  picker({ api: context.api, label: "Actor", name: "actor", path: "/team/members",
    option: (member) => [member.user_id, member.username] }),
  field("Since", "since", { type: "datetime-local" }),
  field("Until", "until", { type: "datetime-local" }),
  h("button", { type: "submit", class: "secondary" }, "Filter"));
  const query = () => {
    const values = formValues(filters);
    for (const name of ["since", "until"]) if (values[name]) values[name] = new Date(values[name]).toISOString();
    return values;
  };
  const table = pagedTable({ api: context.api, path: "/audit-log", columns, query, empty: "No events match." });
  const live = liveStream({ context, container, table, columns, shown, remember, filters, latest: () => newest });
  async function reload() {
    shown.clear();
    newest = null;
    await table.reload();
    if (live.on) live.restart();
  }
  container.append(header("Audit log", live.toggle, live.status), filters, table.element);
}

function liveStream({ context, container, table, columns, shown, remember, filters, latest }) {
  const toggle = h("button", { type: "button", class: "secondary", "aria-pressed": "false", onclick: () => (state.on ? stop() : start()) }, "Live");
  const status = h("span", { class: "live-status", role: "status" });
  const state = { on: false, source: null, lastId: null, retry: null, failures: 0, generation: 0 };
  let stopAuthWatch = null;
  let watchPage = null;

  const setStatus = (text, kind = "") => {
    status.textContent = text;
    status.className = `live-status ${kind}`.trim();
  };

  function prepend(event) {
    if (shown.has(event.id)) return;
    remember(event.id);
    const body = table.element.querySelector("tbody");
    const row = h("tr", { class: "live-row" }, columns.map(([heading, cell]) => h("td", { "data-label": heading }, cell(event))));
    body.prepend(row);
    table.element.querySelector(".table-status").textContent = "";
  }

  async function connect() {
    const generation = ++state.generation;
    setStatus(state.failures ? "Reconnecting…" : "Connecting…");
    let token;
    try {
      ({ token } = await context.api.post("/audit-log/stream-token"));
    } catch (error) {
      if (generation !== state.generation) return;
      if (error.status === 401 || error.status === 403) {
        stop(error.message || "You can no longer watch this team's audit log.");
        return;
      }
      return retryLater(generation);
    }
    if (generation !== state.generation || !state.on) return;
    const url = new URL(`${config.api}/audit-log/stream`, location.origin);
    url.searchParams.set("token", token);
    const values = formValues(filters);
    for (const name of STREAM_FILTERS) if (values[name]) url.searchParams.set(name, values[name]);
    // Resume after the last event seen (live or in the listing): what was missed is replayed.
    const after = state.lastId || latest();
    if (after) url.searchParams.set("last_event_id", after);
    const source = new EventSource(url);
    state.source = source;
    source.onopen = () => {
      state.failures = 0;
      setStatus("Connected", "live-on");
    };
    source.onmessage = (message) => {
      state.lastId = message.lastEventId || state.lastId;
      prepend(JSON.parse(message.data));
    };
    source.addEventListener("revoked", () => stop("The live stream ended: you no longer have admin access to this team."));
    source.addEventListener("end", () => dropped(source, generation));
    source.onerror = () => dropped(source, generation);
  }

  // EventSource could reconnect with the same token on its own (the server allows it within 60 s);
  // the page takes a new token each time instead, so its backoff and status stay its own.
  function dropped(source, generation) {
    source.close();
    if (generation !== state.generation || !state.on) return;
    state.source = null;
    retryLater(generation);
  }

  function retryLater(generation) {
    state.failures += 1;
    const delay = Math.min(1000 * 2 ** (state.failures - 1), 15000) * (0.75 + Math.random() / 2);
    setStatus("Reconnecting…", "live-off");
    clearTimeout(state.retry);
    state.retry = setTimeout(() => {
      if (generation === state.generation && state.on) connect();
    }, state.failures === 1 ? 300 : delay);
  }

  function start() {
    state.on = true;
    state.failures = 0;
    toggle.setAttribute("aria-pressed", "true");
    stopAuthWatch = onAuthChange((signedIn) => {
      if (!signedIn) stop();
    });
    // Another team or another page replaces this one: the stream goes with it.
    watchPage = setInterval(() => {
      if (!container.isConnected) stop();
    }, 500);
    connect();
  }

  function stop(message) {
    state.on = false;
    state.generation += 1;
    clearTimeout(state.retry);
    clearInterval(watchPage);
    state.source?.close();
    state.source = null;
    stopAuthWatch?.();
    stopAuthWatch = null;
    toggle.setAttribute("aria-pressed", "false");
    setStatus(message ? "Stopped" : "", message ? "live-off" : "");
    if (message && container.isConnected) notice("error", message);
  }

  return {
    toggle,
    status,
    get on() {
      return state.on;
    },
    restart() {
      state.source?.close();
      state.source = null;
      state.lastId = null;
      state.failures = 0;
      connect();
    },
  };
}
