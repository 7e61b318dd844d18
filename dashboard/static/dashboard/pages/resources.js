// Campaigns, domains, offers, sources, networks: list with the API's filters and cursor paging,
// create, edit, delete. Validation errors from the API land next to their fields. A filter on
// another object (a campaign's domain, an offer's network) is a picker of those objects.

import { confirmDialog, dateCell, dialog, field, formValues, h, notice, submitting } from "../ui.js";
import { header, pagedTable, picker } from "./common.js";

const CAMPAIGN_STATUSES = [["draft", "Draft"], ["active", "Active"], ["paused", "Paused"], ["archived", "Archived"]];
const SOURCE_KINDS = ["search", "social", "display", "native", "email", "other"].map((kind) => [kind, kind]);

export const RESOURCES = {
  campaigns: {
    title: "Campaigns",
    one: "campaign",
    label: (row) => row.name,
    columns: [["Name", (row) => row.name], ["Status", (row) => row.status]],
    fields: () => [["Name", "name", { required: true, maxlength: 100 }], ["Status", "status", { options: CAMPAIGN_STATUSES }]],
    filters: [["status", "Status", { options: [["", "Any"], ...CAMPAIGN_STATUSES] }], ["search", "Search"],
      ["domain", "Domain", { picker: "domains" }], ["offer", "Offer", { picker: "offers" }],
      ["source", "Source", { picker: "sources" }]],
  },
  domains: {
    title: "Domains",
    one: "domain",
    label: (row) => row.hostname,
    columns: [["Hostname", (row) => row.hostname]],
    fields: () => [["Hostname", "hostname", { required: true, maxlength: 253 }]],
    filters: [["search", "Search"]],
  },
  offers: {
    title: "Offers",
    one: "offer",
    label: (row) => row.name,
    columns: [["Name", (row) => row.name], ["URL", (row) => row.url], ["Payout", (row) => row.payout]],
    fields: () => [["Name", "name", { required: true, maxlength: 100 }], ["URL", "url", { type: "url", required: true }],
      ["Payout", "payout", { type: "number", step: "0.01", min: "0" }]],
    filters: [["search", "Search"], ["network", "Network", { picker: "networks" }]],
  },
  sources: {
    title: "Sources",
    one: "source",
    label: (row) => row.name,
    columns: [["Name", (row) => row.name], ["Kind", (row) => row.kind]],
    fields: () => [["Name", "name", { required: true, maxlength: 100 }], ["Kind", "kind", { options: SOURCE_KINDS }]],
    filters: [["kind", "Kind", { options: [["", "Any"], ...SOURCE_KINDS] }], ["search", "Search"]],
  },
  networks: {
    title: "Networks",
    one: "network",
    label: (row) => row.name,
    columns: [["Name", (row) => row.name], ["Postback URL", (row) => row.postback_url || "—"]],
    fields: () => [["Name", "name", { required: true, maxlength: 100 }], ["Postback URL", "postback_url", { type: "url" }]],
    filters: [["search", "Search"]],
  },
};

export function resourcePage(container, context, key) {
  const resource = RESOURCES[key];
  const canWrite = context.can(`write:${key}`);
  const singular = resource.one;
  const path = `/${key}`;
  const filterForm = h("form", { class: "filters", role: "search", onsubmit: (event) => {
    event.preventDefault();
    table.reload();
  } },
  resource.filters.map(([name, label, { options, picker: other } = {}]) => {
    if (options) return field(label, name, { options });
    if (!other) return field(label, name, { type: "search" });
    // The objects of another resource, by name: only if this role may list them.
    return context.can(`read:${other}`)
      ? picker({ api: context.api, label, name, path: `/${other}`, option: (row) => [row.id, RESOURCES[other].label(row)] })
      : null;
  }),
  h("button", { type: "submit", class: "secondary" }, "Filter"));

  const edit = async (row) => {
    const saved = await dialog(row ? `Edit ${resource.label(row)}` : `New ${singular}`, (close) => {
      const form = h("form", { onsubmit: (event) => {
        event.preventDefault();
        submitting(form, async () => {
          const values = formValues(form);
          for (const name of Object.keys(values)) if (values[name] === "" && name !== "name") delete values[name];
          close(row ? await context.api.patch(`${path}/${row.id}`, values) : await context.api.post(path, values));
        });
      } },
      resource.fields().map(([label, name, options]) => field(label, name, { ...options, value: row ? row[name] ?? "" : options.value ?? "" })),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "secondary", onclick: () => close() }, "Cancel"),
        h("button", { type: "submit" }, "Save")));
      return form;
    });
    if (saved) {
      notice("success", `${resource.label(saved)} saved.`);
      table.reload();
    }
  };

  const remove = async (row) => {
    if (!(await confirmDialog(`Delete ${resource.label(row)}?`, "This cannot be undone.", "Delete"))) return;
    try {
      await context.api.delete(`${path}/${row.id}`);
      notice("success", `${resource.label(row)} deleted.`);
      table.reload();
    } catch (error) {
      notice("error", error.message);
    }
  };

  const columns = [
    ...resource.columns,
    ["Created", (row) => dateCell(row.created_at)],
    ...(canWrite ? [["", (row) => h("span", { class: "row-actions" },
      h("button", { type: "button", class: "link", onclick: () => edit(row) }, "Edit"),
      h("button", { type: "button", class: "link danger", onclick: () => remove(row) }, "Delete"))]] : []),
  ];
  const table = pagedTable({ api: context.api, path, columns, query: () => formValues(filterForm),
    empty: `No ${resource.title.toLowerCase()} yet.` });
  container.append(
    header(resource.title, canWrite ? h("button", { type: "button", id: "create", onclick: () => edit(null) }, `New ${singular}`) : null),
    filterForm, table.element);
}
