// Usage at a glance: a chart of requests per hour or day by status class (uPlot, vendored and
// served by the project, loaded on the first page that draws one), the totals, the refusals by
// code, the busiest routes and the last use. The numbers come from the usage endpoints, which
// read the worker's hourly rollup; the same numbers are a table under the chart.
import { config } from "../api.js";
import { count, formatDate, h, loading } from "../ui.js";

let library;
function chartLibrary() {
  library ??= new Promise((resolve, reject) => {
    document.head.append(h("link", { rel: "stylesheet", href: config.chart_style }));
    document.head.append(h("script", { src: config.chart_script, onload: () => resolve(window.uPlot),
      onerror: () => { library = undefined; reject(new Error("The chart could not be loaded.")); } }));
  });
  return library;
}

const CLASSES = [["2xx", "#166534", "succeeded"], ["4xx", "#b45309", "refused or wrong (4xx)"], ["5xx", "#b3261e", "failed (5xx)"]];
const WINDOWS = { hour: ["Last 24 hours", 24], day: ["Last 30 days", 30] };

// `path`: the usage endpoint (`/usage`, `/auth/api-keys/{id}/usage`); `what`: "this team", "this key".
export function usagePanel(section, context, path, what, granularity = "hour") {
  const load = () => context.api.get(path, { query: { granularity, periods: WINDOWS[granularity][1] } });
  return loading(section, load, async (usage) => {
    const switcher = h("div", { class: "segmented", role: "group", "aria-label": "Period" },
      Object.entries(WINDOWS).map(([name, [label]]) => h("button", { type: "button", class: "secondary small",
        "aria-pressed": String(name === granularity), onclick: () => usagePanel(section, context, path, what, name) }, label)));
    const totals = usage.totals;
    const refused = Object.values(totals.refusals).reduce((sum, value) => sum + value, 0);
    const chart = h("div", { class: "usage-chart", role: "img",
      "aria-label": `Requests of ${what} per ${granularity}: ${count(totals.requests, "request", "requests")} in all` });
    section.append(
      h("div", { class: "usage-head" }, h("p", { class: "usage-total" }, h("strong", {}, count(totals.requests, "request", "requests")),
        ` in the ${WINDOWS[granularity][0].toLowerCase()}`), switcher),
      h("div", { class: "cards" },
        CLASSES.map(([name, , label]) => h("div", { class: "card" }, h("span", { class: "card-value" }, totals[name]), h("span", { class: "card-label" }, label))),
        h("div", { class: "card" }, h("span", { class: "card-value" }, refused), h("span", { class: "card-label" }, "refused by a rule"))),
      chart,
      details(usage),
      refusals(totals.refusals),
      routes(usage.top_routes),
      h("p", { class: "usage-last" }, usage.last_used
        ? ["Last used ", h("time", { datetime: usage.last_used.at }, formatDate(usage.last_used.at)),
          usage.last_used.ip ? [" from ", h("code", {}, usage.last_used.ip)] : null,
          usage.last_used.user_agent ? [" (", usage.last_used.user_agent, ")"] : null, "."]
        : `Not used ${usage.as_of ? "yet" : "as far as the rollup knows"}.`),
      h("p", { class: "help" }, usage.as_of
        ? ["Counted up to ", h("time", { datetime: usage.as_of }, formatDate(usage.as_of)), "; updated every minute by the worker."]
        : "No usage counted yet: the worker counts the audit log every minute."));
    try {
      draw(chart, await chartLibrary(), usage);
    } catch (error) {
      chart.replaceChildren(h("p", { class: "help" }, `${error.message} The numbers are in the table below.`));
    }
  });
}

function draw(element, uPlot, usage) {
  const times = usage.series.map((point) => Date.parse(point.start) / 1000);
  const data = [times, ...CLASSES.map(([name]) => usage.series.map((point) => point[name]))];
  const width = () => Math.max(280, element.clientWidth || 600);
  const plot = new uPlot({
    width: width(),
    height: 220,
    series: [{}, ...CLASSES.map(([name, colour, label]) => ({ label: `${name} ${label.split(" ")[0]}`, stroke: colour, width: 2,
      fill: `${colour}22`, points: { show: usage.series.length <= 31 } }))],
    axes: [{}, { size: 50 }],
    scales: { y: { range: (_, min, max) => [0, Math.max(4, max)] } },
    legend: { live: false },
  }, data, element);
  new ResizeObserver(() => plot.setSize({ width: width(), height: 220 })).observe(element);
}

// The chart's numbers as a table (for a screen reader, and for reading exact values).
function details(usage) {
  const day = usage.granularity === "day";
  return h("details", { class: "usage-table" }, h("summary", {}, "Show the numbers"),
    h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {}, h("th", {}, day ? "Day" : "Hour"), h("th", {}, "Requests"), CLASSES.map(([name]) => h("th", {}, name)))),
      h("tbody", {}, usage.series.map((point) => h("tr", {},
        h("td", {}, h("time", { datetime: point.start }, formatDate(point.start))), h("td", {}, point.requests),
        CLASSES.map(([name]) => h("td", {}, point[name]))))))));
}

function refusals(byCode) {
  const entries = Object.entries(byCode);
  if (!entries.length) return null;
  return h("div", {}, h("h3", {}, "Refused, by reason"),
    h("ul", { class: "usage-refusals" }, entries.map(([code, number]) => h("li", {}, h("code", {}, code), ` ${number}`))));
}

function routes(top) {
  if (!top.length) return null;
  return h("div", {}, h("h3", {}, "Busiest routes"), h("div", { class: "table-wrap" }, h("table", { class: "usage-routes" },
    h("thead", {}, h("tr", {}, h("th", {}, "Route"), h("th", {}, "Requests"))),
    h("tbody", {}, top.map((route) => h("tr", {}, h("td", {}, h("code", {}, route.route)), h("td", {}, route.requests)))))));
}
