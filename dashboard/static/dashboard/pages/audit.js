// The team's audit log (admins): the API's filters, newest first, "load more" with the cursor.

import { field, formatDate, formValues, h } from "../ui.js";
import { header, pagedTable } from "./common.js";

export const eventColumns = [
  ["When", (event) => formatDate(event.created_at)],
  ["Action", (event) => event.action],
  ["Status", (event) => event.status_code ?? "—"],
  ["Actor", (event) => event.actor?.username || "—"],
  ["Key", (event) => (event.api_key ? `${event.api_key.prefix}… ${event.api_key.name || ""}` : "—")],
  ["Request", (event) => (event.method ? `${event.method} ${event.path}` : "—")],
  ["IP", (event) => event.ip || "—"],
];

const ACTIONS = ["api_request", "key.created", "key.revoked", "key.regenerated", "key.deleted", "login.succeeded",
  "login.failed", "logout", "refresh.reuse_detected", "password.changed", "password.reset", "member.added",
  "member.removed", "member.role_changed", "invitation.created", "invitation.accepted", "invitation.revoked",
  "team.created", "team.updated", "rate_limited"];

export function auditPage(container, context) {
  if (!context.can("admin")) {
    container.append(header("Audit log"), h("p", {}, "The team's audit log is for admins."));
    return;
  }
  const filters = h("form", { class: "filters", role: "search", onsubmit: (event) => {
    event.preventDefault();
    table.reload();
  } },
  field("Action", "action", { options: [["", "Any"], ...ACTIONS.map((action) => [action, action])] }),
  field("Status", "status", { options: [["", "Any"], ["2xx", "2xx"], ["4xx", "4xx"], ["5xx", "5xx"]] }),
  field("Key id", "key", { placeholder: "uuid" }),
  field("Actor id", "actor", { placeholder: "uuid" }),
  field("Since", "since", { type: "datetime-local" }),
  field("Until", "until", { type: "datetime-local" }),
  h("button", { type: "submit", class: "secondary" }, "Filter"));
  const query = () => {
    const values = formValues(filters);
    for (const name of ["since", "until"]) if (values[name]) values[name] = new Date(values[name]).toISOString();
    return values;
  };
  const table = pagedTable({ api: context.api, path: "/audit-log", columns: eventColumns, query, empty: "No events match." });
  container.append(header("Audit log"), filters, table.element);
}
