// Members: roles, change a role, remove a member, leave the team; invitations (admins).

import { config } from "../api.js";
import { confirmDialog, dateCell, dialog, field, formValues, h, notice, submitting } from "../ui.js";
import { header, pagedTable } from "./common.js";

const ROLES = ["viewer", "member", "admin", "owner"];

export function membersPage(container, context) {
  const isAdmin = context.can("admin");
  const rank = (role) => config.role_rank[role] || 0;
  const grantable = ROLES.filter((role) => rank(role) <= rank(context.role));

  // A role change is asked for first; cancelled, the select goes back to the current role.
  const changeRole = async (member, select) => {
    const role = select.value;
    const lower = rank(role) < rank(member.role);
    const confirmed = await confirmDialog(`Change the role of ${member.username}?`,
      `From ${member.role} to ${role}.${lower ? " Their API keys in this team can then do no more than the new role allows." : ""}`,
      "Change role", { danger: lower });
    if (!confirmed) {
      select.value = member.role;
      select.focus();
      return;
    }
    try {
      await context.api.patch(`/team/members/${member.user_id}`, { role });
      notice("success", `${member.username} is now ${role}.`);
    } catch (error) {
      notice("error", error.message);
    }
    members.reload();
  };
  const remove = async (member) => {
    const leaving = member.user_id === context.me.id;
    const question = leaving ? `Leave ${context.teamName}?` : `Remove ${member.username} from ${context.teamName}?`;
    if (!(await confirmDialog(question, leaving ? "You lose access to this team." : "Their API keys in this team are revoked.", leaving ? "Leave" : "Remove"))) return;
    try {
      await context.api.delete(`/team/members/${member.user_id}`);
      if (leaving) return context.navigate("/app", { replace: true });
      notice("success", `${member.username} removed.`);
      members.reload();
    } catch (error) {
      notice("error", error.message);
    }
  };
  const members = pagedTable({ api: context.api, path: "/team/members", columns: [
    ["Member", (m) => `${m.username} <${m.email}>`],
    ["Role", (m) => (isAdmin && m.user_id !== context.me.id && rank(m.role) <= rank(context.role)
      ? h("select", { "aria-label": `Role of ${m.username}`, onchange: (event) => changeRole(m, event.target) },
        grantable.map((role) => h("option", { value: role, selected: role === m.role }, role)))
      : m.role)],
    ["Joined", (m) => dateCell(m.joined_at)],
    ["", (m) => (m.user_id === context.me.id
      ? h("button", { type: "button", class: "link danger", onclick: () => remove(m) }, "Leave team")
      : isAdmin && rank(m.role) <= rank(context.role) ? h("button", { type: "button", class: "link danger", onclick: () => remove(m) }, "Remove") : null)],
  ] });
  container.append(header("Members", isAdmin ? h("button", { type: "button", id: "invite", onclick: () => invite() }, "Invite") : null), members.element);

  if (!isAdmin) return;
  const invitations = pagedTable({ api: context.api, path: "/team/invitations", empty: "No invitations.", columns: [
    ["E-mail", (i) => i.email], ["Role", (i) => i.role], ["Status", (i) => i.status], ["Invited by", (i) => i.invited_by || "—"],
    ["Expires", (i) => dateCell(i.expires_at)],
    ["", (i) => (i.status === "pending" ? h("button", { type: "button", class: "link danger", onclick: async () => {
      try {
        await context.api.delete(`/team/invitations/${i.id}`);
        invitations.reload();
      } catch (error) {
        notice("error", error.message);
      }
    } }, "Revoke") : null)],
  ] });
  container.append(h("h2", {}, "Invitations"), invitations.element);

  async function invite() {
    const sent = await dialog("Invite someone", (close) => {
      const form = h("form", { onsubmit: (event) => {
        event.preventDefault();
        submitting(form, async () => close(await context.api.post("/team/invitations", formValues(form))));
      } },
      field("E-mail", "email", { type: "email", required: true, autofocus: true }),
      field("Role", "role", { options: grantable.map((role) => [role, role]), value: "member", help: "No higher than your own role." }),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "secondary", onclick: () => close() }, "Cancel"),
        h("button", { type: "submit" }, "Send invitation")));
      return form;
    });
    if (sent) {
      notice("success", `Invitation sent to ${sent.email}.`);
      invitations.reload();
    }
  }
}
