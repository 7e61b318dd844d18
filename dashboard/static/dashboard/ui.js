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

export function formatDate(value) {
  if (!value) return "—";
  return new Date(value).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
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

// A labelled input; `name` matches the API's field, so its errors land next to it.
export function field(label, name, { type = "text", value = "", required = false, options, help, ...rest } = {}) {
  const id = `f-${name}-${Math.random().toString(36).slice(2, 7)}`;
  let control;
  if (options) {
    control = h("select", { id, name, required, ...rest },
      options.map(([optionValue, text]) => h("option", { value: optionValue, selected: optionValue === value }, text)));
  } else {
    control = h("input", { id, name, type, value, required, ...rest });
  }
  return h("div", { class: "field", dataset: { field: name } },
    h("label", { for: id }, label), control,
    help ? h("small", { class: "help" }, help) : null,
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

export function showFormError(form, error) {
  let placed = false;
  for (const [name, messages] of Object.entries(error.fieldErrors || {})) {
    const slot = form.querySelector(`[data-field="${CSS.escape(name)}"] .field-error`);
    if (slot) {
      slot.textContent = [].concat(messages).join(" ");
      placed = true;
    }
  }
  const extra = error.problem?.excess_scopes ? ` (${error.problem.excess_scopes.join(", ")})` : "";
  if (!placed || !Object.keys(error.fieldErrors || {}).length) {
    form.prepend(h("p", { class: "form-error", role: "alert" }, (error.message || "Something went wrong.") + extra));
  }
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
    const element = h("dialog", { class: "dialog", "aria-labelledby": "dialog-title" });
    const close = (value) => {
      element.close();
      element.remove();
      resolve(value);
    };
    element.append(h("h2", { id: "dialog-title" }, title), build(close));
    element.addEventListener("cancel", (event) => {
      event.preventDefault();
      close(undefined);
    });
    document.body.append(element);
    element.showModal();
    (element.querySelector("[autofocus]") || element.querySelector("input, select, button"))?.focus();
  });
}

export function confirmDialog(title, text, confirmLabel = "Confirm") {
  return dialog(title, (close) => h("div", {},
    h("p", {}, text),
    h("div", { class: "actions" },
      h("button", { type: "button", class: "secondary", onclick: () => close(false) }, "Cancel"),
      h("button", { type: "button", class: "danger", autofocus: true, onclick: () => close(true) }, confirmLabel))));
}

// A secret shown once, with a copy button and the warning that it will not be shown again.
export function secretDialog(title, secret, note) {
  return dialog(title, (close) => {
    const output = h("input", { class: "secret", readonly: true, value: secret, "aria-label": "API key" });
    const copy = h("button", { type: "button", onclick: async () => {
      output.select();
      try {
        await navigator.clipboard.writeText(secret);
        copy.textContent = "Copied";
      } catch {
        document.execCommand?.("copy");
        copy.textContent = "Copied";
      }
    } }, "Copy");
    return h("div", {},
      h("p", { class: "warning" }, "Copy this key now. It will not be shown again."),
      note ? h("p", {}, note) : null,
      h("div", { class: "secret-row" }, output, copy),
      h("div", { class: "actions" }, h("button", { type: "button", autofocus: true, onclick: () => close(true) }, "I have stored it")));
  });
}
