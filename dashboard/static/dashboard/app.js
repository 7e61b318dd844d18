// The dashboard: routing, the signed-in layout (sidebar with the team selector) and the pages that
// do not belong to one team (sign-in, registration, recovery, invitations).

import {
  ApiError, api, completeSecondFactor, config, isSignedIn, login, logout, onAuthChange, onReauthenticationRequired,
  publicApi, reauthenticate, refresh, signInWithGoogle, signInWithPasskey,
} from "./api.js";
import { passkeyError, passkeysSupported, usePasskey } from "./webauthn.js";
import { clear, dialog, field, formValues, h, notice, submitting, teamIdBox } from "./ui.js";
import { accountPage } from "./pages/account.js";
import { auditPage } from "./pages/audit.js";
import { integrationAuditPage, integrationsPage } from "./pages/integrations.js";
import { keysPage, keyAuditPage } from "./pages/keys.js";
import { membersPage } from "./pages/members.js";
import { overviewPage } from "./pages/overview.js";
import { RESOURCES, resourcePage } from "./pages/resources.js";

const root = document.getElementById("app");
const TEAM_KEY = "gf.team"; // the last team chosen in this browser: not a secret
const state = { me: null, teams: [] };

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState({}, "", path);
  else history.pushState({}, "", path);
  return route();
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-link]");
  if (!link || event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  navigate(link.getAttribute("href"));
});
window.addEventListener("popstate", () => route());
// Signed out in another tab (or the session ended): back to the sign-in page.
onAuthChange((signedIn) => {
  if (!signedIn && location.pathname.startsWith("/app")) navigate("/login", { replace: true });
});

// Step-up: asked when an act needs a recent sign-in; resolves true once the person proved it is
// them (the act is then sent again), false when cancelled (the act's own error is shown). With the
// password, or a second factor the account has: a code from the app (or a recovery code), a passkey.
onReauthenticationRequired(async () => {
  const factors = await api.get("/me/second-factors").catch(() => ({ methods: [] }));
  return dialog("Confirm it is you", (close) => {
    const error = h("p", { class: "form-error", role: "alert", hidden: true });
    const proofForm = (id, proofField, proof, label) => {
      const form = h("form", { id, onsubmit: (event) => {
        event.preventDefault();
        submitting(form, async () => {
          await reauthenticate(proof(formValues(form)));
          close(true);
        });
      } }, proofField, h("button", { type: "submit" }, label));
      return form;
    };
    const passkeyButton = factors.methods.includes("passkey") && passkeysSupported()
      ? h("button", { type: "button", id: "reauth-passkey", class: "secondary", onclick: async () => {
        try {
          const options = await api.post("/auth/reauthenticate/passkey-options");
          await reauthenticate({ passkey: await usePasskey(options) });
          close(true);
        } catch (failure) {
          error.hidden = false;
          error.textContent = failure instanceof ApiError ? failure.message : passkeyError(failure);
        }
      } }, "Use a passkey") : null;
    const codeForm = factors.methods.includes("totp") || factors.methods.includes("recovery_code")
      ? proofForm("reauth-code", field("Two-step code", "code", { required: true, autocomplete: "one-time-code", inputmode: "numeric" }),
        (values) => ({ code: values.code.trim() }), "Use the code")
      : null;
    return h("div", {}, h("p", {}, "This action needs you to confirm it is you: your last sign-in was a while ago."),
      passkeyButton, codeForm,
      proofForm("reauth-password", field("Password", "password", { type: "password", required: !passkeyButton && !codeForm,
        autocomplete: "current-password", autofocus: !passkeyButton }), (values) => ({ password: values.password }), "Confirm"),
      error,
      h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", onclick: () => close(false) }, "Cancel")));
  });
});

const PUBLIC = {
  "/login": loginPage,
  "/register": registerPage,
  "/verify": verifyPage,
  "/forgot-password": forgotPage,
  "/reset-password": resetPage,
  "/invitations/accept": acceptPage,
  "/auth/google/callback": googleCallbackPage,
};

export async function route() {
  const path = location.pathname;
  if (PUBLIC[path]) return PUBLIC[path]();
  if (!isSignedIn() && !(await refresh().catch(() => false))) {
    const next = path === "/" || path === "/app" ? "" : `?next=${encodeURIComponent(path + location.search)}`;
    return navigate(`/login${next}`, { replace: true });
  }
  const [, , teamId, ...rest] = path.split("/");
  await loadTeams();
  if (!teamId || !state.teams.some((team) => team.id === teamId)) {
    const fallback = pickTeam();
    if (!fallback) return noTeamPage();
    await navigate(`/app/${fallback.id}/${rest.join("/") || "overview"}${location.search}`, { replace: true });
    if (teamId) notice("error", "You no longer have access to that team; switched to another one.");
    return;
  }
  localStorage.setItem(TEAM_KEY, teamId);
  renderTeamPage(teamId, rest);
}

async function loadTeams() {
  const [me, teams] = await Promise.all([api.get("/auth/me"), api.get("/teams", { query: { page_size: 100 } })]);
  state.me = me.user;
  state.teams = teams.results;
}

function pickTeam() {
  const stored = localStorage.getItem(TEAM_KEY);
  // Otherwise the team where I have the most say, then by name.
  const ranked = [...state.teams].sort(
    (a, b) => (config.role_rank[b.role] || 0) - (config.role_rank[a.role] || 0) || a.name.localeCompare(b.name));
  return state.teams.find((team) => team.id === stored) || ranked[0] || null;
}

function can(role, scope) {
  return (config.roles[role] || []).includes(scope);
}

function renderTeamPage(teamId, rest) {
  const team = state.teams.find((item) => item.id === teamId);
  const context = {
    team: team.id,
    teamName: team.name,
    role: team.role,
    me: state.me,
    can: (scope) => can(team.role, scope),
    navigate,
    base: `/app/${team.id}`,
    // A request refused because the team is gone (or I left it): tell, then switch teams.
    lostTeam: async () => {
      localStorage.removeItem(TEAM_KEY);
      await navigate("/app", { replace: true });
      notice("error", `You no longer have access to ${team.name}.`);
    },
  };
  // The team requires two-step verification and I have none (the team list says so, or a request
  // answered 403 `second_factor_required`): lead me to the enrolment instead of a broken page.
  context.secondFactorMissing = Boolean(team.second_factor_missing);
  // The API in this team: X-Team-Id on every call; losing the team switches to another one.
  const inTeam = (call) => call().catch((error) => {
    if (error instanceof ApiError && error.code === "team_forbidden") context.lostTeam();
    else if (error instanceof ApiError && error.code === "second_factor_required") context.secondFactorRequired();
    throw error;
  });
  context.api = {
    get: (path, options = {}) => inTeam(() => api.get(path, { ...options, team: team.id })),
    post: (path, body, options = {}) => inTeam(() => api.post(path, body, { ...options, team: team.id })),
    patch: (path, body, options = {}) => inTeam(() => api.patch(path, body, { ...options, team: team.id })),
    put: (path, body, options = {}) => inTeam(() => api.put(path, body, { ...options, team: team.id })),
    delete: (path, options = {}) => inTeam(() => api.delete(path, { ...options, team: team.id })),
  };
  const page = rest[0] || "overview";
  const main = h("main", { id: "main", tabindex: "-1" });
  const container = h("div", { class: "page" });
  main.append(h("div", { id: "notices" }), container);
  // A request refused because the rule was turned on after the team list was read: the page gives
  // way to the same guidance (once, however many of its requests were refused).
  context.secondFactorRequired = () => {
    if (page === "account" || container.querySelector("#second-factor-required")) return;
    clear(container);
    secondFactorRequiredPage(container, context);
  };
  clear(root).append(layout(context, page, rest[1]), main);
  const pages = {
    overview: () => overviewPage(container, context),
    members: () => membersPage(container, context),
    "audit-log": () => auditPage(container, context),
    account: () => accountPage(container, context),
    settings: () => {
      if (rest[1] === "integrations" && context.can("admin")) {
        return rest[2] ? integrationAuditPage(container, context, rest[2]) : integrationsPage(container, context);
      }
      return rest[2] ? keyAuditPage(container, context, rest[2]) : keysPage(container, context);
    },
  };
  let run = pages[page] || (RESOURCES[page] ? () => resourcePage(container, context, page) : null);
  // Everything of the team but my own account waits until I have a second factor.
  if (context.secondFactorMissing && page !== "account") run = () => secondFactorRequiredPage(container, context);
  if (!run) {
    container.append(h("h1", {}, "Not found"), h("p", {}, "There is no such page."));
    return;
  }
  Promise.resolve()
    .then(run)
    .catch((error) => handleError(error, context));
  main.focus({ preventScroll: true });
}

// A team that requires two-step verification, for a member without it: what to do, and the way there.
function secondFactorRequiredPage(container, context) {
  document.title = `Two-step verification required · GhostFlow`;
  container.append(h("section", { class: "second-factor-required", id: "second-factor-required", "aria-labelledby": "sfr-title" },
    h("h1", { id: "sfr-title" }, "Two-step verification required"),
    h("p", {}, `${context.teamName} requires every member to use two-step verification, and your account does not have it yet. `,
      "Until you turn it on, this team's pages and the API keys you own in it do not work."),
    h("p", {}, "It takes a minute: an authenticator app on your phone (1Password, Google Authenticator, Aegis, …) and a code from it."),
    h("p", {}, h("a", { href: `${context.base}/account#two-step`, "data-link": true, class: "button", id: "go-enrol" }, "Turn on two-step verification"))));
}

export function handleError(error, context) {
  if (error instanceof ApiError && error.status === 403 && error.code === "team_forbidden") return context.lostTeam();
  if (error instanceof ApiError && error.code === "second_factor_required") return context.secondFactorRequired();
  if (error instanceof ApiError && error.status === 401) return navigate("/login", { replace: true });
  notice("error", error.message || "Something went wrong.");
}

function layout(context, page, sub) {
  const link = (href, label, key) =>
    h("a", { href: `${context.base}/${href}`, "data-link": true, "aria-current": page === key ? "page" : null }, label);
  const selector = h("select", { id: "team-selector", "aria-label": "Team", onchange: (event) => {
    const current = location.pathname.split("/").slice(3).join("/") || "overview";
    navigate(`/app/${event.target.value}/${current}`);
  } }, state.teams.map((team) => h("option", { value: team.id, selected: team.id === context.team }, `${team.name} (${team.role})`)));
  const nav = h("nav", { "aria-label": "Main" },
    link("overview", "Overview", "overview"),
    ...Object.entries(RESOURCES).map(([key, resource]) => (context.can(`read:${key}`) ? link(key, resource.title, key) : null)),
    link("members", "Members", "members"),
    context.can("admin") ? link("audit-log", "Audit log", "audit-log") : null,
    link("settings/api-keys", "Settings → API keys", sub === "api-keys" ? "settings" : null),
    context.can("admin") ? link("settings/integrations", "Settings → Integrations", sub === "integrations" ? "settings" : null) : null,
    link("account", "Account", "account"));
  const menu = h("div", { class: "sidebar-menu", id: "sidebar-menu" },
    h("label", { for: "team-selector", class: "label" }, "Team"),
    selector,
    teamIdBox(context.team),
    h("button", { type: "button", class: "secondary small", onclick: () => createTeam() }, "New team"),
    nav,
    h("div", { class: "who" }, h("span", {}, state.me.username),
      h("button", { type: "button", class: "link", id: "logout", onclick: async () => {
        await logout();
        navigate("/login", { replace: true });
      } }, "Log out")));
  // Phones: the menu is collapsed behind this button (CSS hides it, and the button, on wide screens).
  const toggle = h("button", { type: "button", class: "menu-button secondary small", id: "menu-button",
    "aria-expanded": "false", "aria-controls": "sidebar-menu", onclick: () => setOpen(!aside.classList.contains("menu-open")) }, h("span", { "aria-hidden": "true" }, "☰ "), "Menu");
  const aside = h("aside", { class: "sidebar" },
    h("div", { class: "sidebar-top" }, h("div", { class: "brand" }, "GhostFlow"),
      h("span", { class: "sidebar-team", "aria-hidden": "true" }, context.teamName), toggle),
    menu);
  function setOpen(open, { focus = true } = {}) {
    aside.classList.toggle("menu-open", open);
    toggle.setAttribute("aria-expanded", String(open));
    if (!focus) return;
    if (open) selector.focus();
    else toggle.focus();
  }
  aside.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && aside.classList.contains("menu-open")) {
      event.preventDefault();
      setOpen(false);
    }
  });
  return aside;
}

async function createTeam() {
  const created = await dialog("New team", (close) => {
    const form = h("form", { onsubmit: (event) => {
      event.preventDefault();
      submitting(form, async () => close(await api.post("/teams", formValues(form))));
    } }, field("Name", "name", { required: true, maxlength: 100, autofocus: true }),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "secondary", onclick: () => close() }, "Cancel"),
        h("button", { type: "submit" }, "Create")));
    return form;
  });
  if (created) navigate(`/app/${created.id}/overview`);
}

function noTeamPage() {
  clear(root).append(h("main", { class: "narrow" }, h("h1", {}, "No team yet"),
    h("p", {}, "You are not a member of any team. Create one, or accept an invitation from your mail."),
    h("button", { type: "button", onclick: () => createTeam() }, "Create a team")));
}

// --- sign-in, registration, recovery --------------------------------------------------------

function publicLayout(title, ...content) {
  const main = h("main", { class: "narrow", id: "main" }, h("div", { class: "brand" }, "GhostFlow"), h("h1", {}, title),
    h("div", { id: "notices" }), ...content);
  clear(root).append(main);
  document.title = `${title} · GhostFlow`;
  main.querySelector("input")?.focus();
  return main;
}

const query = () => new URLSearchParams(location.search);
const nextPath = () => {
  const next = query().get("next");
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/app";
};

function loginPage() {
  const form = h("form", { onsubmit: (event) => {
    event.preventDefault();
    submitting(form, async () => {
      try {
        const values = formValues(form);
        const pending = await login(values.username, values.password);
        if (pending) return secondFactorStep(pending, nextPath());
        navigate(nextPath(), { replace: true });
      } catch (error) {
        if (error.code === "email_unverified") {
          navigate(`/verify?email=${encodeURIComponent(formValues(form).username)}`);
          return;
        }
        throw error;
      }
    });
  } },
  field("Username or e-mail", "username", { required: true, autocomplete: "username" }),
  field("Password", "password", { type: "password", required: true, autocomplete: "current-password" }),
  h("button", { type: "submit" }, "Log in"));
  const google = config.google_client_id ? h("button", { type: "button", class: "secondary", onclick: startGoogle }, "Sign in with Google") : null;
  const passkey = passkeysSupported() ? h("button", { type: "button", class: "secondary", id: "passkey-sign-in", onclick: async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    try {
      const options = await publicApi.post("/auth/passkey/options");
      await signInWithPasskey(await usePasskey(options));
      navigate(nextPath(), { replace: true });
    } catch (error) {
      notice("error", error instanceof ApiError ? error.message : passkeyError(error));
    } finally {
      button.disabled = false;
    }
  } }, "Sign in with a passkey") : null;
  publicLayout("Log in", form, passkey, google,
    h("p", {}, h("a", { href: `/register${location.search}`, "data-link": true }, "Create an account"), " · ",
      h("a", { href: "/forgot-password", "data-link": true }, "Forgot your password?")));
}

// The password (or Google) was right and the account has two-step verification: a passkey, a
// code from the authenticator app, or a recovery code finishes the sign-in with the ticket.
function secondFactorStep(pending, next) {
  const finish = async (proof) => {
    try {
      await completeSecondFactor(pending.ticket, proof);
      navigate(next, { replace: true });
    } catch (error) {
      if (["second_factor_ticket_expired", "second_factor_ticket_used", "second_factor_ticket_invalid"].includes(error.code)) {
        notice("error", "That took too long; sign in again.");
        navigate("/login", { replace: true });
        return;
      }
      throw error;
    }
  };
  const methods = pending.methods || [];
  const form = h("form", { id: "second-factor-form", onsubmit: (event) => {
    event.preventDefault();
    submitting(form, () => finish({ code: formValues(form).code.trim() }));
  } },
  field("Two-step code", "code", { required: true, autocomplete: "one-time-code", inputmode: "numeric",
    help: methods.includes("totp") ? "The six-digit code from your authenticator app, or one of your recovery codes." : "One of your recovery codes." }),
  h("button", { type: "submit", class: methods.includes("passkey") ? "secondary" : null }, "Verify"));
  const passkey = methods.includes("passkey") && passkeysSupported() ? h("button", { type: "button", id: "second-factor-passkey", onclick: async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    try {
      const options = await publicApi.post("/auth/second-factor/passkey-options", { ticket: pending.ticket });
      await finish({ passkey: await usePasskey(options) });
    } catch (error) {
      notice("error", error instanceof ApiError ? error.message : passkeyError(error));
    } finally {
      button.disabled = false;
    }
  } }, "Use a passkey") : null;
  publicLayout("Two-step verification", passkey, form,
    h("p", {}, h("a", { href: "/login", "data-link": true }, "Start over")));
}

function startGoogle() {
  // A top-level navigation to Google (no script of Google's runs here); Google redirects back with
  // an ID token in the fragment, checked against a nonce kept for this one attempt.
  const nonce = crypto.randomUUID();
  sessionStorage.setItem("gf.google_nonce", nonce); // not a credential: it only pairs the redirect
  sessionStorage.setItem("gf.google_next", nextPath());
  const url = new URL("https://accounts.google.com/o/oauth2/v2/auth");
  url.search = new URLSearchParams({
    client_id: config.google_client_id,
    response_type: "id_token",
    scope: "openid email",
    redirect_uri: `${location.origin}/auth/google/callback`,
    nonce,
    prompt: "select_account",
  });
  location.assign(url);
}

async function googleCallbackPage() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("id_token");
  const main = publicLayout("Signing in with Google…");
  history.replaceState({}, "", "/auth/google/callback"); // the token leaves the address bar
  try {
    const payload = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    if (!token || payload.nonce !== sessionStorage.getItem("gf.google_nonce")) throw new Error("This sign-in attempt is not ours.");
    const pending = await signInWithGoogle(token);
    const next = sessionStorage.getItem("gf.google_next") || "/app";
    if (pending) return secondFactorStep(pending, next);
    navigate(next, { replace: true });
  } catch (error) {
    main.append(h("p", { class: "form-error", role: "alert" }, error.message), h("a", { href: "/login", "data-link": true }, "Back to log in"));
  } finally {
    sessionStorage.removeItem("gf.google_nonce");
  }
}

function registerPage() {
  const form = h("form", { onsubmit: (event) => {
    event.preventDefault();
    submitting(form, async () => {
      const values = formValues(form);
      await publicApi.post("/auth/register", values);
      const next = query().get("next");
      navigate(`/verify?email=${encodeURIComponent(values.email)}${next ? `&next=${encodeURIComponent(next)}` : ""}`);
    });
  } },
  field("Username", "username", { required: true, autocomplete: "username", help: "Letters, digits and . + - _" }),
  field("E-mail", "email", { type: "email", required: true, autocomplete: "email" }),
  field("Password", "password", { type: "password", required: true, autocomplete: "new-password", help: "At least 8 characters." }),
  h("button", { type: "submit" }, "Create account"));
  publicLayout("Create an account", form,
    h("p", {}, "Already have one? ", h("a", { href: `/login${location.search}`, "data-link": true }, "Log in")));
}

function verifyPage() {
  const email = query().get("email") || "";
  const form = h("form", { onsubmit: (event) => {
    event.preventDefault();
    submitting(form, async () => {
      await publicApi.post("/auth/verify-email", formValues(form));
      notice("success", "Your e-mail address is verified; you can log in.");
      const next = query().get("next");
      navigate(`/login${next ? `?next=${encodeURIComponent(next)}` : ""}`);
    });
  } },
  field("E-mail", "email", { type: "email", required: true, value: email }),
  field("6-digit code", "code", { required: true, inputmode: "numeric", pattern: "\\d{6}", maxlength: 6, autocomplete: "one-time-code" }),
  h("button", { type: "submit" }, "Verify"));
  const resend = h("button", { type: "button", class: "link", onclick: async () => {
    try {
      await publicApi.post("/auth/resend-verification", { email: formValues(form).email });
      notice("success", "If the address belongs to an unverified account, a new code is on its way.");
    } catch (error) {
      notice("error", error.message);
    }
  } }, "Send a new code");
  publicLayout("Check your mail", h("p", {}, "Enter the 6-digit code we sent you."), form, h("p", {}, resend));
}

function forgotPage() {
  const form = h("form", { onsubmit: (event) => {
    event.preventDefault();
    submitting(form, async () => {
      const values = formValues(form);
      await publicApi.post("/auth/forgot-password", values);
      navigate(`/reset-password?email=${encodeURIComponent(values.email)}`);
    });
  } }, field("E-mail", "email", { type: "email", required: true, autocomplete: "email" }), h("button", { type: "submit" }, "Send reset code"));
  publicLayout("Forgot your password?", h("p", {}, "We will mail a code and a link if the address has an account."), form);
}

function resetPage() {
  const params = query();
  const token = params.get("token");
  // A link from the mail carries its token: keep it out of the address bar from now on.
  if (token) history.replaceState({}, "", `/reset-password?email=${encodeURIComponent(params.get("email") || "")}`);
  const form = h("form", { onsubmit: (event) => {
    event.preventDefault();
    submitting(form, async () => {
      const values = formValues(form);
      const body = { email: values.email, new_password: values.new_password };
      if (token) body.token = token;
      else body.code = values.code;
      await publicApi.post("/auth/reset-password", body);
      notice("success", "Your password has been changed. Log in with the new one.");
      navigate("/login");
    });
  } },
  field("E-mail", "email", { type: "email", required: true, value: params.get("email") || "" }),
  token ? null : field("6-digit code", "code", { required: true, inputmode: "numeric", maxlength: 6, autocomplete: "one-time-code" }),
  field("New password", "new_password", { type: "password", required: true, autocomplete: "new-password" }),
  h("button", { type: "submit" }, "Set the new password"));
  publicLayout("Reset your password", token ? h("p", {}, "Choose a new password.") : h("p", {}, "Enter the code from the mail."), form);
}

async function acceptPage() {
  const token = query().get("token") || sessionStorage.getItem("gf.invitation");
  if (token) sessionStorage.setItem("gf.invitation", token); // survives the detour through log in
  if (!isSignedIn() && !(await refresh().catch(() => false))) {
    const here = "/invitations/accept";
    return publicLayout("You are invited",
      h("p", {}, "Log in, or create an account with the invited address, to accept the invitation."),
      h("p", {}, h("a", { href: `/login?next=${encodeURIComponent(here)}`, "data-link": true, class: "button" }, "Log in"), " ",
        h("a", { href: `/register?next=${encodeURIComponent(here)}`, "data-link": true, class: "button secondary" }, "Create an account")));
  }
  const main = publicLayout("Accept the invitation");
  const button = h("button", { type: "button", onclick: async () => {
    button.disabled = true;
    try {
      const membership = await api.post("/invitations/accept", { token });
      sessionStorage.removeItem("gf.invitation");
      navigate(`/app/${membership.id}/overview`);
    } catch (error) {
      main.append(h("p", { class: "form-error", role: "alert" }, error.message));
      button.disabled = false;
    }
  } }, "Join the team");
  main.append(token ? button : h("p", {}, "This link has no invitation token."));
}

route();
