// Account: profile, sign-in methods, change password, unlink Google, active sessions.

import { adoptAccess, api } from "../api.js";
import { confirmDialog, count, dateCell, field, formValues, h, loading, notice, submitting } from "../ui.js";
import { header } from "./common.js";

export async function accountPage(container) {
  container.append(header("Account"));
  const profile = h("section", { "aria-labelledby": "profile-title" });
  const sessions = h("section", { "aria-labelledby": "sessions-title" });
  container.append(profile, passwordSection(), h("h2", { id: "sessions-title" }, "Sessions"), sessions);

  const renderProfile = () => loading(profile, () => api.get("/me/account"), (account) => {
    profile.append(h("div", {}, h("h2", { id: "profile-title" }, "Profile"),
      h("dl", { class: "facts" },
        h("dt", {}, "Username"), h("dd", {}, account.username),
        h("dt", {}, "E-mail"), h("dd", {}, `${account.email} ${account.email_verified ? "(verified)" : "(not verified)"}`),
        h("dt", {}, "Sign-in methods"), h("dd", { id: "sign-in-methods" }, account.available_sign_in_methods.join(", ") || "none"),
        h("dt", {}, "Teams"), h("dd", {}, account.teams)),
      account.google_linked ? h("button", { type: "button", class: "secondary", disabled: !account.can_unlink_google,
        title: account.can_unlink_google ? null : "Set a password first (forgot-password), or you could not sign in.",
        onclick: async () => {
          try {
            await api.post("/me/google/unlink");
            notice("success", "Google is unlinked.");
            renderProfile();
          } catch (error) {
            notice("error", error.message);
          }
        } }, "Unlink Google") : null));
  });

  const renderSessions = () => loading(sessions, () => api.get("/auth/sessions"), (page) => {
    const rows = (page.results || page).map((session) => h("tr", {},
      h("td", { "data-label": "Device" }, session.user_agent || "unknown", session.current ? h("strong", {}, " (this session)") : null),
      h("td", { "data-label": "IP" }, session.ip || "—"),
      h("td", { "data-label": "Signed in" }, dateCell(session.created_at)),
      h("td", { "data-label": "Last used" }, dateCell(session.last_used_at)),
      h("td", {}, session.current ? null : h("button", { type: "button", class: "link danger", onclick: async () => {
        try {
          await api.delete(`/auth/sessions/${session.id}`);
          renderSessions();
        } catch (error) {
          notice("error", error.message);
        }
      } }, "Sign out"))));
    sessions.append(h("div", { class: "table-wrap" },
      h("table", {}, h("thead", {}, h("tr", {}, ["Device", "IP", "Signed in", "Last used", ""].map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, rows))),
      h("button", { type: "button", class: "secondary", id: "sign-out-others", onclick: async () => {
        if (!(await confirmDialog("Sign out everywhere else?", "Every other session of yours ends now.", "Sign out others"))) return;
        try {
          const result = await api.post("/auth/sessions/revoke-others");
          notice("success", `${count(result.revoked, "other session", "other sessions")} signed out.`);
          renderSessions();
        } catch (error) {
          notice("error", error.message);
        }
      } }, "Sign out everywhere else"));
  });

  await Promise.all([renderProfile(), renderSessions()]);
}

function passwordSection() {
  const form = h("form", { onsubmit: (event) => {
    event.preventDefault();
    submitting(form, async () => {
      adoptAccess(await api.post("/auth/change-password", formValues(form)));
      form.reset();
      notice("success", "Your password is changed; your other sessions are signed out.");
    });
  } },
  field("Current password", "current_password", { type: "password", required: true, autocomplete: "current-password" }),
  field("New password", "new_password", { type: "password", required: true, autocomplete: "new-password" }),
  h("button", { type: "submit" }, "Change password"));
  return h("section", { "aria-labelledby": "password-title" }, h("h2", { id: "password-title" }, "Password"), form);
}
