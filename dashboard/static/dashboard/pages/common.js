// Shared page pieces: a cursor-paged table with "Load more", the page header, and pickers (a
// select filled from an API list) where a filter or a form takes another object's id.

import { clear, field, h } from "../ui.js";

export function header(title, ...actions) {
  document.title = `${title} · GhostFlow`;
  return h("header", { class: "page-header" }, h("h1", {}, title), h("div", { class: "actions" }, ...actions));
}

// The API's `next` link carries an opaque cursor: pass it back as is.
function cursorOf(next) {
  return next ? new URL(next, location.origin).searchParams.get("cursor") : null;
}

// A table over a cursor-paginated list (`api`: the team's, see app.js). `columns`: [[heading,
// (row) => cell], ...]. Returns { element, reload }. A failed page shows its error and a retry.
export function pagedTable({ api, path, query = () => ({}), columns, empty = "Nothing here yet." }) {
  const body = h("tbody");
  const status = h("p", { class: "table-status", role: "status" });
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Load more");
  const table = h("table", {}, h("thead", {}, h("tr", {}, columns.map(([heading]) => h("th", { scope: "col" }, heading)))), body);
  const element = h("div", { class: "table-wrap" }, table, status, more);
  let cursor = null;

  async function load(reset) {
    if (reset) {
      cursor = null;
      clear(body);
    }
    status.textContent = "Loading…";
    more.hidden = true;
    try {
      const page = await api.get(path, { query: { ...query(), cursor: cursor || undefined } });
      for (const row of page.results) body.append(h("tr", {}, columns.map(([heading, cell]) => h("td", { "data-label": heading }, cell(row)))));
      cursor = cursorOf(page.next);
      more.hidden = !cursor;
      status.textContent = body.children.length ? "" : empty;
    } catch (error) {
      status.textContent = "";
      const retry = h("button", { type: "button", onclick: () => { retryBox.remove(); load(false); } }, "Retry");
      const retryBox = h("div", { class: "error-state", role: "alert" }, h("p", {}, error.message), retry);
      element.append(retryBox);
    }
  }
  more.addEventListener("click", () => load(false));
  load(true);
  return { element, reload: () => load(true) };
}

// Every page of a cursor-paginated list, up to `limit` rows (a picker is no place for more).
export async function listAll(api, path, { query = {}, limit = 1000 } = {}) {
  const rows = [];
  let cursor = null;
  do {
    const page = await api.get(path, { query: { ...query, page_size: 100, cursor: cursor || undefined } });
    rows.push(...page.results);
    cursor = cursorOf(page.next);
  } while (cursor && rows.length < limit);
  return rows;
}

// A select of the objects at `path` (a filter: "Any" first), instead of a text field for a raw id.
// `option(row)` -> [id, text]. The list loads in the background; until then only "Any" is offered.
export function picker({ api, label, name, path, option, query, any = "Any" }) {
  const box = field(label, name, { options: [["", any]] });
  const select = box.querySelector("select");
  select.setAttribute("aria-busy", "true");
  listAll(api, path, { query })
    .then((rows) => {
      const chosen = select.value;
      select.append(...rows.map(option).map(([value, text]) => h("option", { value }, text)));
      select.value = chosen;
    })
    .catch((error) => {
      box.querySelector(".field-error").textContent = `The list could not be loaded: ${error.message}`;
    })
    .finally(() => select.removeAttribute("aria-busy"));
  return box;
}
