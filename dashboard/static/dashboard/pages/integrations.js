// Settings → Integrations (admins): the team's own credentials. Create with a scope picker, the
// Admin key shown once, the publishable Content key with a copy button, regenerate either key,
// delete, and each integration's audit log.

import { confirmDialog, copyButton, dateCell, dialog, field, formValues, h, notice, secretDialog, submitting } from "../ui.js";
import { header, pagedTable } from "./common.js";
import { eventColumns } from "./audit.js";
import { scopePicker } from "./keys.js";
import { usagePanel } from "./usage.js";

const origins = (text) => text.split(/[\s,]+/).map((value) => value.trim()).filter(Boolean);

export function integrationsPage(container, context) {
  const path = "/integrations";
  const showAdminKey = (issued) =>
    secretDialog(`Admin key of “${issued.name}”`, issued.admin_key, {
      note: "Sign a JWT with it (HS256, kid = the part before the colon, aud /v1/admin/, at most 5 minutes) and send “Authorization: Ghost <token>”, with this team's id in the X-Team-Id header.",
      team: context.team,
    });

  const create = async () => {
    const issued = await dialog("New integration", (close) => {
      const form = h("form", { onsubmit: (event) => {
        event.preventDefault();
        submitting(form, async () => {
          const values = formValues(form);
          close(await context.api.post(path, {
            name: values.name,
            description: values.description || "",
            permissions: values.permissions || [],
            allowed_origins: origins(values.allowed_origins || ""),
          }));
        });
      } },
      field("Name", "name", { required: true, maxlength: 100, autofocus: true }),
      field("Description (optional)", "description", { maxlength: 500 }),
      scopePicker(context.role),
      field("Allowed origins of the Content key (optional)", "allowed_origins", {
        help: "scheme://host[:port], separated by spaces or commas, e.g. https://shop.example.com" }),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "secondary", onclick: () => close() }, "Cancel"),
        h("button", { type: "submit" }, "Create integration")));
      return form;
    });
    if (issued) {
      await showAdminKey(issued);
      table.reload();
    }
  };

  const act = async (work, done) => {
    try {
      const result = await work();
      if (done) notice("success", done);
      table.reload();
      return result;
    } catch (error) {
      notice("error", error.message);
      return undefined;
    }
  };

  const columns = [
    ["Name", (item) => h("a", { href: `${context.base}/settings/integrations/${item.id}`, "data-link": true }, item.name)],
    ["Admin key id", (item) => h("code", {}, item.admin_key_id)],
    ["Content key", (item) => {
      const value = h("code", { class: "content-key" }, item.content_key);
      return h("span", { class: "secret-inline" }, value, " ",
        copyButton(item.content_key, { label: `Copy the Content key of ${item.name}`, source: value, className: "link" }));
    }],
    ["Scopes", (item) => item.scopes.join(", ")],
    ["Created", (item) => dateCell(item.created_at)],
    ["Last used", (item) => dateCell(item.last_used_at)],
    ["", (item) => h("span", { class: "row-actions" },
      h("button", { type: "button", class: "link", onclick: async () => {
        if (await confirmDialog(`New Admin key for “${item.name}”?`, "The current Admin key and every token it signed stop working at once.", "Regenerate")) {
          const issued = await act(() => context.api.post(`${path}/${item.id}/regenerate-admin-key`));
          if (issued) await showAdminKey(issued);
        }
      } }, "Regenerate Admin key"),
      h("button", { type: "button", class: "link", onclick: async () => {
        if (await confirmDialog(`New Content key for “${item.name}”?`, "Pages that embed the current Content key stop working until you update them.", "Regenerate")) {
          await act(() => context.api.post(`${path}/${item.id}/regenerate-content-key`), "New Content key made.");
        }
      } }, "Regenerate Content key"),
      h("button", { type: "button", class: "link danger", onclick: async () => {
        if (await confirmDialog(`Delete “${item.name}”?`, "Both of its keys stop working at once; its audit history stays.", "Delete")) {
          await act(() => context.api.delete(`${path}/${item.id}`), `${item.name} deleted.`);
        }
      } }, "Delete"))],
  ];
  const table = pagedTable({ api: context.api, path, columns, empty: "No integrations yet." });
  container.append(
    header("Integrations", h("button", { type: "button", id: "create-integration", onclick: create }, "New integration")),
    h("p", {}, "Integrations belong to the team, not to a person: they keep working when their creator leaves. The Admin key signs short-lived tokens; the Content key is publishable (read-only, public data, “?key=” on the Content API)."),
    table.element);
}

export function integrationAuditPage(container, context, integrationId) {
  const table = pagedTable({ api: context.api, path: `/integrations/${integrationId}/audit-log`, columns: eventColumns, empty: "This integration has not been used yet." });
  const usage = h("section", { id: "integration-usage", "aria-labelledby": "integration-usage-title" });
  container.append(header("Integration activity", h("a", { href: `${context.base}/settings/integrations`, "data-link": true }, "← Integrations")),
    h("h2", { id: "integration-usage-title" }, "Requests"), usage, h("h2", {}, "Events"), table.element);
  usagePanel(usage, context, `/integrations/${integrationId}/usage`, "this integration");
}
