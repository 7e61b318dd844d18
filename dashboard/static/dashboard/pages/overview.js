import { clear, confirmDialog, count, field, formValues, h, loading, notice, plural, submitting } from "../ui.js";
import { header } from "./common.js";
import { RESOURCES } from "./resources.js";
import { usagePanel } from "./usage.js";

export async function overviewPage(container, context) {
  container.append(header(context.teamName), h("p", {}, "Your role in this team: ", h("strong", { id: "my-role" }, context.role)));
  const stats = h("section", { "aria-label": "Statistics" });
  container.append(stats);
  if (context.can("admin")) {
    const usage = h("section", { id: "team-usage", "aria-labelledby": "team-usage-title" });
    container.append(h("h2", { id: "team-usage-title" }, "Requests"), usage);
    usagePanel(usage, context, "/usage", "this team");
    const rule = h("section", { id: "second-factor-rule", "aria-labelledby": "second-factor-rule-title" });
    const leaks = h("section", { id: "leaked-key-policy", "aria-labelledby": "leaked-key-policy-title" });
    const keys = h("section", { id: "key-policy", "aria-labelledby": "key-policy-title" });
    container.append(rule, keys, leaks);
    secondFactorRule(rule, context);
    keyPolicy(keys, context);
    leakedKeyPolicy(leaks, context);
  }
  if (!context.can("read:stats")) {
    stats.append(h("p", {}, "Your role cannot see this team's statistics."));
    return;
  }
  await loading(stats, () => context.api.get("/stats"), (data) => {
    stats.append(
      h("div", { class: "cards" }, Object.entries(data.counts).map(([name, count]) =>
        h("div", { class: "card" }, h("span", { class: "card-value" }, count),
          h("span", { class: "card-label" }, RESOURCES[name] ? plural(count, RESOURCES[name].one, name) : name)))),
      h("h2", {}, "Campaigns by status"),
      h("ul", {}, Object.entries(data.campaigns_by_status).map(([status, count]) => h("li", {}, `${status}: ${count}`))));
  });
}

// The team's rule that every member uses two-step verification: admins see it, an owner changes it
// (a step-up act: the password dialog of app.js asks and the request is sent again).
function secondFactorRule(section, context) {
  const title = h("h2", { id: "second-factor-rule-title" }, "Two-step verification for every member");
  return loading(section, () => context.api.get("/team/second-factor-rule"), (rule) => {
    const without = rule.members_without_second_factor;
    const status = h("p", { id: "second-factor-rule-status" }, rule.required
      ? `Required: members without two-step verification cannot work in ${context.teamName}, with their sign-in or their API keys, until they turn it on.`
      : `Not required: members may work in ${context.teamName} without it.`,
    without ? ` ${count(without, "member", "members")} ${plural(without, "does", "do")} not have it yet.` : " Every member has it.");
    section.append(title, status);
    if (context.role !== "owner") {
      section.append(h("p", { class: "help" }, "Only an owner can change this."));
      return;
    }
    const button = h("button", { type: "button", id: "second-factor-rule-toggle", class: rule.required ? "secondary" : null, onclick: async () => {
      const turningOn = !rule.required;
      const text = turningOn
        ? `Every member of ${context.teamName} will need two-step verification. ${without ? `${count(without, "member", "members")} without it will be shut out of the team (their API keys too) until they turn it on. ` : ""}Every member is told by mail.`
        : `Members without two-step verification will be able to work in ${context.teamName} again. Every member is told by mail.`;
      if (!(await confirmDialog(turningOn ? "Require two-step verification?" : "Stop requiring two-step verification?", text,
        turningOn ? "Require it" : "Stop requiring it", { danger: !turningOn }))) return;
      button.disabled = true;
      try {
        await context.api.put("/team/second-factor-rule", { required: turningOn });
        notice("success", turningOn ? "Two-step verification is now required in this team." : "Two-step verification is no longer required.");
        secondFactorRule(section, context);
      } catch (error) {
        button.disabled = false;
        if (error.code === "own_second_factor_required") {
          notice("error", "Turn on two-step verification for your own account first (Account), or the rule would shut you out too.");
          return;
        }
        notice("error", error.message);
      }
    } }, rule.required ? "Stop requiring it" : "Require it");
    section.append(button);
  });
}

// What a leaked-key report (a secret scanner found one of the team's keys in public) does: revoke
// the key at once, or only flag it. Admins see it; an owner changes it (a step-up act).
function leakedKeyPolicy(section, context) {
  clear(section);
  const title = h("h2", { id: "leaked-key-policy-title" }, "Keys found in public");
  return loading(section, () => context.api.get("/team/leaked-key-policy"), (policy) => {
    section.append(title, h("p", { id: "leaked-key-policy-status" }, policy.action === "revoke"
      ? "When a secret scanner reports one of this team's keys found in public, it is revoked at once."
      : "When a secret scanner reports one of this team's keys found in public, it is only flagged: it keeps working until someone revokes it."));
    if (context.role !== "owner") return;
    const picker = field("When a key is found in public", "action", { value: policy.action,
      options: [["revoke", "Revoke it at once (recommended)"], ["flag", "Only flag it"]] });
    picker.querySelector("select").addEventListener("change", async (event) => {
      const action = event.target.value;
      if (action === "flag" && !(await confirmDialog("Only flag leaked keys?",
        "A key the world has seen would keep working until someone revokes it.", "Only flag them"))) {
        event.target.value = policy.action;
        return;
      }
      try {
        await context.api.put("/team/leaked-key-policy", { action });
        notice("success", action === "revoke" ? "Leaked keys are revoked at once." : "Leaked keys are only flagged.");
        leakedKeyPolicy(section, context);
      } catch (error) {
        event.target.value = policy.action;
        notice("error", error.message);
      }
    });
    section.append(picker);
  });
}

// The team's API key policy: expiry required, the longest lifetime, unused keys flagged or
// disabled. Admins see it; an owner changes it (a step-up act).
function keyPolicy(section, context) {
  clear(section);
  const title = h("h2", { id: "key-policy-title" }, "API key policy");
  return loading(section, () => context.api.get("/team/key-policy"), (policy) => {
    const said = [
      policy.max_lifetime_days ? `New keys must expire within ${count(policy.max_lifetime_days, "day", "days")}.`
        : policy.expiry_required ? "New keys must have an expiry date." : "New keys may live forever.",
      policy.unused_days ? `Keys unused for ${count(policy.unused_days, "day", "days")} are ${policy.unused_action === "disable" ? "disabled" : "flagged"}.` : "",
    ].join(" ");
    section.append(title, h("p", { id: "key-policy-status" }, said));
    if (context.role !== "owner") return;
    const number = (value) => (value === "" || value === undefined ? null : Number(value));
    const form = h("form", { id: "key-policy-form", class: "inline-form", onsubmit: (event) => {
      event.preventDefault();
      submitting(form, async () => {
        const values = formValues(form);
        await context.api.put("/team/key-policy", {
          expiry_required: form.querySelector("[name=expiry_required]").checked,
          max_lifetime_days: number(values.max_lifetime_days),
          unused_days: number(values.unused_days),
          unused_action: values.unused_action,
        });
        notice("success", "The key policy is saved.");
        keyPolicy(section, context);
      });
    } },
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "expiry_required", checked: policy.expiry_required }), " New keys must expire"),
    field("Longest lifetime (days)", "max_lifetime_days", { type: "number", min: 1, max: 3650, value: policy.max_lifetime_days ?? "", help: "Empty: no cap." }),
    field("Unused after (days)", "unused_days", { type: "number", min: 1, max: 3650, value: policy.unused_days ?? "", help: "Empty: never." }),
    field("Then", "unused_action", { value: policy.unused_action, options: [["flag", "Flag the key"], ["disable", "Disable the key"]] }),
    h("button", { type: "submit", class: "secondary" }, "Save the key policy"));
    section.append(form);
  });
}
