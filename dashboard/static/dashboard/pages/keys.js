// Settings → API keys: list, create with a scope picker, the raw key shown once, revoke,
// regenerate (its owner only), rename, delete, and each key's own audit log.

import { config } from "../api.js";
import { confirmDialog, dateCell, dialog, field, formValues, h, notice, secretDialog, submitting } from "../ui.js";
import { header, pagedTable } from "./common.js";
import { eventColumns } from "./audit.js";
import { usagePanel } from "./usage.js";

// A first call the new key may make, ready to paste: a GET its scopes allow (the first readable
// resource: /campaigns for a `read` key), or GET /team, which any key of the team may read.
export function tryItCommand(rawKey, team, scopes) {
  const readable = scopes.find((scope) => scope.startsWith("read:"));
  const path = readable ? `/${readable.slice("read:".length)}` : "/team";
  return `curl -H "Authorization: Bearer ${rawKey}" -H "X-Team-Id: ${team}" ${location.origin}${config.api}${path}`;
}

function showKey(title, issued, team) {
  return secretDialog(title, issued.raw_key, {
    note: "Send it as “Authorization: Bearer <key>”, with this team's id in the X-Team-Id header.",
    team,
    tryIt: tryItCommand(issued.raw_key, team, issued.scopes),
  });
}

const GRACE = [["0", "Stop the old secret now"], ["600", "Keep it 10 minutes"], ["3600", "Keep it 1 hour"], ["86400", "Keep it 24 hours"]];

export function scopePicker(role) {
  const allowed = new Set(config.roles[role] || []);
  const reason = `Your role (${role}) does not allow this scope.`;
  const box = (value, label, enabled, title) =>
    h("label", { class: `scope${enabled ? "" : " disabled"}`, title: enabled ? null : title },
      h("input", { type: "checkbox", name: "permissions", value, disabled: !enabled }), ` ${label}`);
  const groups = config.resources.map((resource) =>
    h("fieldset", {}, h("legend", {}, resource),
      ["read", "write"].map((action) => {
        const scope = `${action}:${resource}`;
        return box(scope, `${action} — ${config.catalog[scope]}`, allowed.has(scope), reason);
      })));
  const others = Object.keys(config.catalog).filter((scope) => !config.resources.some((r) => scope.endsWith(`:${r}`)));
  const legacy = Object.entries(config.legacy).map(([name, granted]) => {
    const ok = granted.every((scope) => allowed.has(scope));
    return box(name, `${name} (legacy: ${name === "admin" ? "every scope" : `all ${name === "read" ? "read" : "read and write"} scopes`})`, ok, reason);
  });
  return h("div", { class: "scope-picker", "data-field": "permissions" },
    h("p", { class: "label" }, "Permissions"),
    h("div", { class: "scope-groups" }, groups,
      h("fieldset", {}, h("legend", {}, "other"),
        others.filter((scope) => scope !== "admin").map((scope) => box(scope, `${scope} — ${config.catalog[scope]}`, allowed.has(scope), reason)))),
    h("fieldset", {}, h("legend", {}, "Presets"), legacy),
    h("small", { class: "field-error", role: "alert" }));
}

export function keysPage(container, context) {
  const path = "/auth/api-keys";
  const create = async () => {
    const issued = await dialog("New API key", (close) => {
      const form = h("form", { onsubmit: (event) => {
        event.preventDefault();
        submitting(form, async () => {
          const values = formValues(form);
          const body = { name: values.name, permissions: values.permissions || [] };
          if (values.expires_at) body.expires_at = new Date(values.expires_at).toISOString();
          close(await context.api.post(path, body));
        });
      } },
      field("Name", "name", { required: true, maxlength: 100, autofocus: true }),
      scopePicker(context.role),
      field("Expires (optional)", "expires_at", { type: "datetime-local" }),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "secondary", onclick: () => close() }, "Cancel"),
        h("button", { type: "submit" }, "Create key")));
      return form;
    });
    if (issued) {
      await showKey(`Your new key “${issued.name}”`, issued, context.team);
      table.reload();
    }
  };

  const act = async (work, done) => {
    try {
      await work();
      if (done) notice("success", done);
      table.reload();
    } catch (error) {
      notice("error", error.message);
    }
  };

  const regenerate = async (key) => {
    const grace = await dialog(`Regenerate “${key.name}”`, (close) => {
      const form = h("form", { onsubmit: (event) => {
        event.preventDefault();
        close(Number(formValues(form).grace_seconds));
      } }, h("p", {}, "The key gets a new secret; its id, name and scopes stay."),
      field("The old secret", "grace_seconds", { options: GRACE, value: "0" }),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "secondary", onclick: () => close() }, "Cancel"),
        h("button", { type: "submit" }, "Regenerate")));
      return form;
    });
    if (grace === undefined) return;
    try {
      const issued = await context.api.post(`${path}/${key.id}/regenerate`, { grace_seconds: grace });
      await showKey(`New secret for “${issued.name}”`, issued, context.team);
      table.reload();
    } catch (error) {
      notice("error", error.message);
    }
  };

  const rename = async (key) => {
    const renamed = await dialog(`Rename “${key.name}”`, (close) => {
      const form = h("form", { onsubmit: (event) => {
        event.preventDefault();
        submitting(form, async () => close(await context.api.patch(`${path}/${key.id}`, formValues(form))));
      } }, field("Name", "name", { required: true, maxlength: 100, value: key.name, autofocus: true }),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "secondary", onclick: () => close() }, "Cancel"),
        h("button", { type: "submit" }, "Save")));
      return form;
    });
    if (renamed) table.reload();
  };

  // A key's IP allowlist, rate limits and monthly quota (empty: anywhere; the team's defaults).
  const UNITS = { s: 1, m: 60, h: 3600, d: 86400 };
  const showWindow = ({ limit, seconds }) => {
    const [unit, size] = Object.entries(UNITS).reverse().find(([, value]) => seconds % value === 0);
    return `${limit}/${seconds / size}${unit}`;
  };
  const readWindows = (text) => text.split(/[\s,]+/).filter(Boolean).map((item) => {
    const match = /^(\d+)\/(\d*)([smhd])$/.exec(item);
    if (!match) throw new Error(`“${item}” is not LIMIT/WINDOW, e.g. 10/1s or 1000/1h.`);
    return { limit: Number(match[1]), seconds: Number(match[2] || 1) * UNITS[match[3]] };
  });
  const limitsOf = async (key) => {
    const changed = await dialog(`Limits of “${key.name}”`, (close) => {
      const form = h("form", { id: "key-limits-form", onsubmit: (event) => {
        event.preventDefault();
        submitting(form, async () => {
          const values = formValues(form);
          close(await context.api.patch(`${path}/${key.id}`, {
            allowed_ips: values.allowed_ips.split(/[\s,]+/).filter(Boolean),
            rate_limits: readWindows(values.rate_limits),
            monthly_quota: values.monthly_quota === "" ? null : Number(values.monthly_quota),
          }));
        });
      } },
      field("Allowed IP addresses or networks", "allowed_ips", { value: key.allowed_ips.join(" "),
        help: "Separated by spaces, e.g. 203.0.113.0/24 2001:db8::/32. Empty: any address." }),
      field("Rate limits", "rate_limits", { value: key.rate_limits.map(showWindow).join(" "),
        help: "LIMIT/WINDOW, separated by spaces, e.g. 10/1s 1000/1h. Empty: the team's defaults." }),
      field("Monthly quota", "monthly_quota", { type: "number", min: 1, value: key.monthly_quota ?? "",
        help: "Requests per calendar month (UTC). Empty: the team's default." }),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "secondary", onclick: () => close() }, "Cancel"),
        h("button", { type: "submit" }, "Save limits")));
      return form;
    });
    if (changed) {
      notice("success", `The limits of ${key.name} are saved.`);
      table.reload();
    }
  };

  const columns = [
    ["Name", (key) => h("a", { href: `${context.base}/settings/api-keys/${key.id}`, "data-link": true }, key.name)],
    ["Key", (key) => h("code", {}, `${key.prefix}…`)],
    ["Status", (key) => [h("span", { class: `badge badge-${key.status}` }, key.status),
      key.unused ? [" ", h("span", { class: "badge badge-disabled", title: "Unused for longer than the team's key policy allows" }, "unused")] : null,
      key.leaked_at ? [" ", h("span", { class: "badge badge-revoked", title: "Reported found in public" }, "leaked")] : null]],
    ["Scopes", (key) => key.scopes.join(", ")],
    ["Owner", (key) => key.owner.username],
    ["Created", (key) => dateCell(key.created_at)],
    ["Last used", (key) => dateCell(key.last_used_at)],
    ["Expires", (key) => dateCell(key.expires_at)],
    ["", (key) => h("span", { class: "row-actions" },
      key.status === "active" && key.owner.id === context.me.id
        ? h("button", { type: "button", class: "link", onclick: () => regenerate(key) }, "Regenerate") : null,
      h("button", { type: "button", class: "link", onclick: () => rename(key) }, "Rename"),
      ["active", "disabled"].includes(key.status) ? h("button", { type: "button", class: "link", onclick: () => limitsOf(key) }, "Limits") : null,
      key.status === "active" ? h("button", { type: "button", class: "link", onclick: async () => {
        if (await confirmDialog(`Disable “${key.name}”?`, "Requests with this key are refused until you enable it again.", "Disable", { danger: false })) {
          act(() => context.api.post(`${path}/${key.id}/disable`), `${key.name} disabled.`);
        }
      } }, "Disable") : null,
      key.status === "disabled" ? h("button", { type: "button", class: "link", onclick: () =>
        act(() => context.api.post(`${path}/${key.id}/enable`), `${key.name} enabled.`) }, "Enable") : null,
      ["active", "disabled"].includes(key.status) ? h("button", { type: "button", class: "link danger", onclick: async () => {
        if (await confirmDialog(`Revoke “${key.name}”?`, "Requests with this key stop working at once. This cannot be undone.", "Revoke")) {
          act(() => context.api.put(`${path}/${key.id}/revoke`), `${key.name} revoked.`);
        }
      } }, "Revoke") : null,
      h("button", { type: "button", class: "link danger", onclick: async () => {
        if (await confirmDialog(`Delete “${key.name}”?`, "The key stops working and disappears from this list; its audit history stays.", "Delete")) {
          act(() => context.api.delete(`${path}/${key.id}`), `${key.name} deleted.`);
        }
      } }, "Delete"))],
  ];
  const statusFilter = h("form", { class: "filters", onchange: () => table.reload(), onsubmit: (event) => event.preventDefault() },
    field("Status", "status", { options: [["", "Any"], ["active", "Active"], ["disabled", "Disabled"], ["revoked", "Revoked"], ["expired", "Expired"]] }));
  const table = pagedTable({ api: context.api, path, columns, query: () => formValues(statusFilter), empty: "No API keys yet." });
  container.append(
    header("API keys", h("button", { type: "button", id: "create-key", onclick: create }, "New API key")),
    h("p", {}, context.can("admin") ? `Every key of this team (you are ${context.role === "owner" ? "its owner" : "an admin"}).` : "Your keys in this team."),
    statusFilter, table.element);
}

export function keyAuditPage(container, context, keyId) {
  const table = pagedTable({ api: context.api, path: `/auth/api-keys/${keyId}/audit-log`, columns: eventColumns, empty: "This key has not been used yet." });
  const usage = h("section", { id: "key-usage", "aria-labelledby": "key-usage-title" });
  container.append(header("Key activity", h("a", { href: `${context.base}/settings/api-keys`, "data-link": true }, "← API keys")),
    h("h2", { id: "key-usage-title" }, "Requests"), usage, h("h2", {}, "Events"), table.element);
  usagePanel(usage, context, `/auth/api-keys/${keyId}/usage`, "this key");
}
