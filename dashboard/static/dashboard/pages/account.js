// Account: profile, sign-in methods, change password, two-step verification, passkeys, unlink
// Google, active sessions.

import { ApiError, adoptAccess, api } from "../api.js";
import { createPasskey, passkeyError, passkeysSupported } from "../webauthn.js";
import { clear, confirmDialog, count, dateCell, field, formValues, h, loading, notice, submitting } from "../ui.js";
import { header } from "./common.js";

export async function accountPage(container, context) {
  container.append(header("Account"));
  if (context?.secondFactorMissing) {
    // Led here because the team requires a second factor (app.js): say why, and the way back.
    container.append(h("div", { class: "callout", role: "status", id: "second-factor-needed" },
      `${context.teamName} requires two-step verification. Turn it on below; then `,
      h("a", { href: `${context.base}/overview`, "data-link": true }, `go back to ${context.teamName}`), "."));
  }
  const profile = h("section", { "aria-labelledby": "profile-title" });
  const sessions = h("section", { "aria-labelledby": "sessions-title" });
  const twoStep = h("section", { "aria-labelledby": "two-step-title", id: "two-step" });
  const passkeys = h("section", { "aria-labelledby": "passkeys-title", id: "passkeys" });
  container.append(profile, emailSection(() => renderProfile()), passwordSection(), twoStep, passkeys,
    h("h2", { id: "sessions-title" }, "Sessions"), sessions);

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
      h("td", { "data-label": "With" }, [session.signed_in_with || "—", session.second_factor ? ` + ${session.second_factor.replace("_", " ")}` : ""].join("")),
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
      h("table", {}, h("thead", {}, h("tr", {}, ["Device", "IP", "Signed in", "With", "Last used", ""].map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, rows))),
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

  const renderAll = () => {
    renderTwoStep();
    renderPasskeys();
    renderSessions();
  };
  const renderTwoStep = () => twoStepSection(twoStep, renderAll);
  const renderPasskeys = () => passkeysSection(passkeys, renderAll);
  await Promise.all([renderProfile(), renderTwoStep(), renderPasskeys(), renderSessions()]);
  if (location.hash === "#two-step") twoStep.scrollIntoView({ block: "start" });
}

// Passkeys: a second factor, and a way to sign in without the password. Added with the browser's
// own prompt (the device's PIN or biometric), removed one by one.
function passkeysSection(section, changed) {
  clear(section);
  section.append(h("h2", { id: "passkeys-title" }, "Passkeys"));
  const body = h("div");
  section.append(body);
  return loading(body, () => api.get("/me/passkeys"), (passkeys) => {
    body.append(h("p", { id: "passkeys-status" }, passkeys.length
      ? `${count(passkeys.length, "passkey", "passkeys")}: sign in with one alone, or use one after your password.`
      : "None yet. A passkey signs you in with this device's screen lock, without a password."));
    if (passkeys.length) {
      body.append(h("ul", { id: "passkey-list", class: "plain-list" }, passkeys.map((passkey) => h("li", {},
        h("strong", {}, passkey.name), " · added ", dateCell(passkey.created_at),
        passkey.last_used_at ? [" · last used ", dateCell(passkey.last_used_at)] : " · never used",
        " ", h("button", { type: "button", class: "link danger", "aria-label": `Remove passkey ${passkey.name}`, onclick: async () => {
          if (!(await confirmDialog(`Remove the passkey “${passkey.name}”?`, "It will no longer sign you in.", "Remove"))) return;
          try {
            await api.delete(`/me/passkeys/${passkey.id}`);
            notice("success", "The passkey is removed.");
            changed();
          } catch (error) {
            notice("error", error.message);
          }
        } }, "Remove")))));
    }
    if (!passkeysSupported()) {
      body.append(h("p", {}, "This browser cannot create passkeys."));
      return;
    }
    const form = h("form", { id: "passkey-add", class: "inline-form", onsubmit: (event) => {
      event.preventDefault();
      submitting(form, async () => {
        let answer;
        try {
          answer = await createPasskey(await api.post("/me/passkeys/options"));
        } catch (error) {
          if (error instanceof ApiError) throw error;
          throw new Error(passkeyError(error));
        }
        const result = await api.post("/me/passkeys", { name: formValues(form).name.trim(), ...answer });
        notice("success", `The passkey “${result.name}” is added.`);
        if (result.recovery_codes) showRecoveryCodes(body, result.recovery_codes, changed);
        else changed();
      });
    } },
    field("Name", "name", { required: true, maxlength: 64, value: passkeys.length ? "" : "This device", help: "To tell your passkeys apart." }),
    h("button", { type: "submit" }, "Add a passkey"));
    body.append(form);
  });
}

// Two-step verification: turn on (QR code and secret, confirmed with a code; the recovery codes
// shown once), regenerate the recovery codes, turn off. Every change needs a fresh code.
function twoStepSection(section, changed) {
  clear(section);
  section.append(h("h2", { id: "two-step-title" }, "Two-step verification"));
  const body = h("div");
  section.append(body);
  return loading(body, () => api.get("/me/second-factors"), (state) => {
    if (!state.totp) {
      body.append(h("p", { id: "two-step-status" }, state.passkeys
        ? "Authenticator app: off. Your passkeys are your second factor."
        : "Off: your password alone signs you in."),
        h("button", { type: "button", id: "two-step-enable", onclick: () => beginEnrolment(body, changed) }, "Turn on"));
      return;
    }
    body.append(h("p", { id: "two-step-status" }, `On. ${count(state.recovery_codes_left, "recovery code", "recovery codes")} left.`),
      codeForm("Regenerate recovery codes", "two-step-regenerate", async (code) => {
        const result = await api.post("/me/second-factors/recovery-codes", { code });
        showRecoveryCodes(body, result.recovery_codes, changed);
      }),
      codeForm("Turn off", "two-step-disable", async (code) => {
        await api.post("/me/second-factors/totp/disable", { code });
        notice("success", "Two-step verification is off.");
        changed();
      }, "danger"));
  });
}

function codeForm(label, id, action, kind = "secondary") {
  const form = h("form", { id, class: "inline-form", onsubmit: (event) => {
    event.preventDefault();
    submitting(form, () => action(formValues(form).code.trim()));
  } },
  field(`Code (${label.toLowerCase()})`, "code", { required: true, autocomplete: "one-time-code",
    help: "A code from your authenticator app, or a recovery code." }),
  h("button", { type: "submit", class: kind }, label));
  return form;
}

async function beginEnrolment(body, changed) {
  let enrolment;
  try {
    enrolment = await api.post("/me/second-factors/totp");
  } catch (error) {
    notice("error", error.message);
    return;
  }
  clear(body);
  // The QR code is an SVG drawn by the server: shown as an image, never parsed into the page.
  const qr = h("img", { id: "two-step-qr", alt: "QR code for your authenticator app", width: 200, height: 200,
    src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(enrolment.qr_svg)}` });
  const form = h("form", { id: "two-step-confirm", onsubmit: (event) => {
    event.preventDefault();
    submitting(form, async () => {
      const result = await api.post("/me/second-factors/totp/confirm", { code: formValues(form).code.trim() });
      notice("success", "Two-step verification is on. Your other sessions are signed out.");
      showRecoveryCodes(body, result.recovery_codes, changed);
    });
  } },
  field("Code from the app", "code", { required: true, autocomplete: "one-time-code", inputmode: "numeric" }),
  h("button", { type: "submit" }, "Confirm"));
  body.append(h("p", {}, "Scan this QR code with your authenticator app, or type the secret into it, then enter the code it shows."),
    qr, h("p", {}, "Secret: ", h("code", { id: "two-step-secret" }, enrolment.secret)), form);
}

function showRecoveryCodes(body, codes, changed) {
  clear(body);
  body.append(h("p", {}, h("strong", {}, "Your recovery codes, shown only now. "),
    "Keep them somewhere safe: each one signs you in once if you lose your device."),
  h("ul", { id: "recovery-codes", class: "recovery-codes" }, codes.map((code) => h("li", {}, h("code", {}, code)))),
  h("button", { type: "button", id: "recovery-codes-done", onclick: changed }, "I have saved them"));
}

// Change the e-mail address: a code goes to the new address; entering it makes the change.
function emailSection(changed) {
  const body = h("div");
  const ask = () => {
    const form = h("form", { id: "email-change", class: "inline-form", onsubmit: (event) => {
      event.preventDefault();
      submitting(form, async () => {
        const email = formValues(form).email.trim();
        await api.post("/me/email", { email });
        confirm(email);
      });
    } },
    field("New e-mail address", "email", { type: "email", required: true, autocomplete: "email" }),
    h("button", { type: "submit", class: "secondary" }, "Send a code"));
    clear(body).append(form);
  };
  const confirm = (email) => {
    const form = h("form", { id: "email-change-confirm", class: "inline-form", onsubmit: (event) => {
      event.preventDefault();
      submitting(form, async () => {
        const result = await api.post("/me/email/confirm", { code: formValues(form).code.trim() });
        notice("success", `Your e-mail address is now ${result.email}.`);
        ask();
        changed();
      });
    } },
    h("p", {}, `If ${email} can be used, a code is on its way there.`),
    field("Code from the mail", "code", { required: true, autocomplete: "one-time-code", inputmode: "numeric" }),
    h("button", { type: "submit" }, "Confirm"),
    h("button", { type: "button", class: "link", onclick: ask }, "Use another address"));
    clear(body).append(form);
  };
  ask();
  return h("section", { "aria-labelledby": "email-title" }, h("h2", { id: "email-title" }, "E-mail address"), body);
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
