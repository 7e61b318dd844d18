// Small DOM helpers: elements, forms with the API's field errors, dialogs, messages, loading and
// retry states. No framework: every page renders into a container and re-renders on demand.

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function clear(element) {
  element.replaceChildren();
  return element;
}

// The one date format of the dashboard (tables, dialogs, the audit log): the browser's locale,
// medium date and short time, e.g. "Mar 4, 2025, 2:05 PM".
const DATE_FORMAT = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function formatDate(value) {
  if (!value) return "—";
  return DATE_FORMAT.format(new Date(value));
}

// The same, as a <time> element (table cells).
export function dateCell(value) {
  return value ? h("time", { datetime: value }, formatDate(value)) : "—";
}

// The one plural rule: plural(2, "domain", "domains") -> "domains"; count(1, ...) -> "1 domain".
// The dashboard's words are English, so are its plural rules.
const PLURAL = new Intl.PluralRules("en");
const NUMBER = new Intl.NumberFormat("en");

export function plural(amount, one, other) {
  return PLURAL.select(amount) === "one" ? one : other;
}

export function count(amount, one, other) {
  return `${NUMBER.format(amount)} ${plural(amount, one, other)}`;
}

// A "Copy" button for a value on screen: the clipboard when the browser allows it, otherwise the
// text is selected in `source` (an input or any element) for Ctrl+C.
export function copyButton(value, { label, source, text = "Copy", className = "secondary small" } = {}) {
  const button = h("button", { type: "button", class: `copy ${className}`, "aria-label": label, onclick: async () => {
    const current = typeof value === "function" ? value() : value;
    try {
      await navigator.clipboard.writeText(current);
      button.textContent = "Copied";
    } catch {
      if (source) selectText(source);
      button.textContent = "Selected: press Ctrl+C";
    }
    setTimeout(() => (button.textContent = text), 2000);
  } }, text);
  return button;
}

function selectText(element) {
  if (element.select) {
    element.select();
    return;
  }
  const range = document.createRange();
  range.selectNodeContents(element);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

// A message area at the top of the main region (errors, confirmations).
export function notice(kind, text) {
  const region = document.getElementById("notices");
  if (!region) return;
  const item = h("div", { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : "status" }, text,
    h("button", { class: "link", type: "button", "aria-label": "Dismiss", onclick: () => item.remove() }, "×"));
  region.append(item);
  if (kind !== "error") setTimeout(() => item.remove(), 6000);
}

// A labelled input; `name` matches the API's field, so its errors land under it (described by it).
export function field(label, name, { type = "text", value = "", required = false, options, help, ...rest } = {}) {
  const id = `f-${name}-${Math.random().toString(36).slice(2, 7)}`;
  const describedBy = [help ? `${id}-help` : null, `${id}-error`].filter(Boolean).join(" ");
  let control;
  if (options) {
    control = h("select", { id, name, required, "aria-describedby": describedBy, ...rest },
      options.map(([optionValue, text]) => h("option", { value: optionValue, selected: optionValue === value }, text)));
  } else {
    control = h("input", { id, name, type, value, required, "aria-describedby": describedBy, ...rest });
  }
  return h("div", { class: "field", dataset: { field: name } },
    h("label", { for: id }, label), control,
    help ? h("small", { class: "help", id: `${id}-help` }, help) : null,
    h("small", { class: "field-error", id: `${id}-error`, role: "alert" }));
}

export function formValues(form) {
  const values = {};
  for (const element of form.elements) {
    if (!element.name || element.disabled) continue;
    if (element.type === "checkbox") {
      if (element.checked) (values[element.name] ||= []).push(element.value);
    } else values[element.name] = element.value;
  }
  return values;
}

// Run `action` for a form: disables it while busy, shows field errors and the problem's detail.
export async function submitting(form, action) {
  const button = form.querySelector("button[type=submit]");
  form.querySelectorAll(".field-error").forEach((node) => (node.textContent = ""));
  form.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
  form.querySelector(".form-error")?.remove();
  if (button) button.disabled = true;
  form.setAttribute("aria-busy", "true");
  try {
    return await action();
  } catch (error) {
    showFormError(form, error);
    return undefined;
  } finally {
    if (button) button.disabled = false;
    form.removeAttribute("aria-busy");
  }
}

// Problems the API answers with a `code` but no `errors` map, and the form field each one is about.
const FIELD_OF_CODE = {
  wrong_password: "password",
  invalid_origin: "allowed_origins",
  permissions_required: "permissions",
  unknown_scope: "permissions",
  scope_exceeds_role: "permissions",
};

// The problem document's field errors as { field: "message" }. A list field's errors come keyed
// by item ({"allowed_origins": {"0": ["..."]}}): each is named by its position.
export function fieldMessages(error) {
  const flatten = (value) => {
    if (Array.isArray(value)) return value.map(flatten).filter(Boolean).join(" ");
    if (value && typeof value === "object") {
      return Object.entries(value).map(([key, inner]) => `${/^\d+$/.test(key) ? `Item ${Number(key) + 1}` : key}: ${flatten(inner)}`).join(" ");
    }
    return value ? String(value) : "";
  };
  const messages = {};
  for (const [name, value] of Object.entries(error.fieldErrors || {})) messages[name] = flatten(value);
  const field = FIELD_OF_CODE[error.code];
  if (field && !messages[field]) {
    const extra = error.problem?.excess_scopes ? ` (${error.problem.excess_scopes.join(", ")})` : "";
    messages[field] = (error.message || "") + extra;
  }
  return messages;
}

// Each message under its own field (the control is marked invalid and described by it); what has
// no field on this form goes at the top of the form.
export function showFormError(form, error) {
  const left = [];
  let first = null;
  for (const [name, message] of Object.entries(fieldMessages(error))) {
    const box = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
    const slot = box?.querySelector(".field-error");
    if (!slot) {
      left.push(name === "non_field_errors" ? message : `${name}: ${message}`);
      continue;
    }
    slot.textContent = message;
    for (const control of box.querySelectorAll("input, select, textarea")) control.setAttribute("aria-invalid", "true");
    first ||= box.querySelector("input:not([disabled]), select, textarea");
  }
  if (left.length || !first) {
    const text = first ? left.join(" ") : [error.message || "Something went wrong.", ...left].join(" ");
    form.prepend(h("p", { class: "form-error", role: "alert" }, text));
  }
  first?.focus();
}

// Load data into `container` with a loading state, and a readable error with a retry button.
export async function loading(container, load, render) {
  clear(container).append(h("p", { class: "loading", role: "status" }, "Loading…"));
  try {
    const data = await load();
    clear(container);
    render(data);
  } catch (error) {
    clear(container).append(
      h("div", { class: "error-state", role: "alert" },
        h("p", {}, error.message || "Something went wrong."),
        h("button", { type: "button", onclick: () => loading(container, load, render) }, "Retry")));
    if (error.status === 401) throw error;
  }
}

// A modal dialog (native <dialog>: focus is trapped and Escape closes it); returns a promise of the
// value passed to close(), or undefined when dismissed.
export function dialog(title, build) {
  return new Promise((resolve) => {
    // Its own title id: a dialog may open over another (step-up's password over a form).
    const titleId = `dialog-title-${Math.random().toString(36).slice(2, 9)}`;
    const element = h("dialog", { class: "dialog", "aria-labelledby": titleId });
    const close = (value) => {
      element.close();
      element.remove();
      resolve(value);
    };
    element.append(h("h2", { id: titleId }, title), build(close));
    element.addEventListener("cancel", (event) => {
      event.preventDefault();
      close(undefined);
    });
    document.body.append(element);
    element.showModal();
    (element.querySelector("[autofocus]") || element.querySelector("input, select, button"))?.focus();
  });
}

// Asks before an action; resolves true only when confirmed (Cancel and Escape resolve false/undefined).
export function confirmDialog(title, text, confirmLabel = "Confirm", { danger = true } = {}) {
  return dialog(title, (close) => h("div", {},
    h("p", {}, text),
    h("div", { class: "actions" },
      h("button", { type: "button", class: "secondary", onclick: () => close(false) }, "Cancel"),
      h("button", { type: "button", class: danger ? "danger" : null, autofocus: true, onclick: () => close(true) }, confirmLabel))));
}

// The team id as every key call needs it (X-Team-Id): selectable text and a copy button.
export function teamIdBox(team, { label = "Team id (X-Team-Id)" } = {}) {
  const labelId = `team-id-${Math.random().toString(36).slice(2, 7)}`;
  const value = h("code", { class: "team-id-value", "aria-labelledby": labelId }, team);
  return h("div", { class: "team-id" },
    h("span", { class: "label", id: labelId }, label),
    h("span", { class: "copy-row" }, value, copyButton(team, { label: "Copy the team id", source: value })));
}

// A secret shown once, with a copy button and the warning that it will not be shown again; with
// `team`, the team id to send along; with `tryIt`, a ready-to-paste command that uses both.
export function secretDialog(title, secret, { note, team, tryIt } = {}) {
  return dialog(title, (close) => {
    const output = h("input", { class: "secret", readonly: true, value: secret, "aria-label": "API key" });
    const command = tryIt ? h("pre", { class: "command", id: "try-it", "aria-labelledby": "try-it-label" }, h("code", {}, tryIt)) : null;
    return h("div", {},
      h("p", { class: "warning" }, "Copy this key now. It will not be shown again."),
      note ? h("p", {}, note) : null,
      h("div", { class: "secret-row" }, output, copyButton(secret, { label: "Copy the key", source: output, className: "" })),
      team ? teamIdBox(team) : null,
      tryIt ? h("div", { class: "try-it" },
        h("span", { class: "label", id: "try-it-label" }, "Try it"),
        command,
        copyButton(tryIt, { label: "Copy the curl command", source: command })) : null,
      h("div", { class: "actions" }, h("button", { type: "button", autofocus: true, onclick: () => close(true) }, "I have stored it")));
  });
}
