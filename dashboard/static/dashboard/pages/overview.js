import { h, loading, plural } from "../ui.js";
import { header } from "./common.js";
import { RESOURCES } from "./resources.js";

export async function overviewPage(container, context) {
  container.append(header(context.teamName), h("p", {}, "Your role in this team: ", h("strong", { id: "my-role" }, context.role)));
  const stats = h("section", { "aria-label": "Statistics" });
  container.append(stats);
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
