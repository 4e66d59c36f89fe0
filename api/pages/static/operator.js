// The village enterprise's dashboard: alerts (fire lanes, floods) and water gauges, today's bookings and revenue,
// the complaints queue, occupancy this hour, and a live map; refreshed every 30 seconds.
"use strict";

(() => {
  const { t, api, localDay, localHour, dayStart, number, occupancyColour, element, row } = Maeul;
  const charts = {};
  window.maeulCharts = charts;
  const map = Maeul.village("map");

  function list(id, items, empty) {
    const target = document.getElementById(id);
    target.replaceChildren(...(items.length ? items : [element("li", t(empty))]));
  }

  async function alerts() {
    const found = await api("/notifications?limit=20");
    list("alerts", found.items.map((n) => element("li", `${n.created_at.slice(0, 16).replace("T", " ")} · ${n.subject}`, n.kind.endsWith("alert") ? "overdue" : undefined)), "no_alerts");
    const gauges = await api("/water-gauges");
    list("gauges", gauges.items.map((g) => element("li", `${g.name}: ${t("level")} ${number(g.level_cm)} / ${number(g.threshold_cm)} cm${g.flooding_since ? " · " + t("flooding") : ""}`, g.flooding_since ? "flooding" : undefined)), "no_alerts");
  }

  async function bookings() {
    const today = localDay(0);
    const start = encodeURIComponent(dayStart(today)), end = encodeURIComponent(dayStart(localDay(1)));
    const counts = {};
    let offset = 0;
    for (;;) {
      const found = await api(`/bookings?start=${start}&end=${end}&limit=100&offset=${offset}`);
      for (const booking of found.items) counts[booking.status] = (counts[booking.status] || 0) + 1;
      if (found.next_offset === null || offset > 2000) break;
      offset = found.next_offset;
    }
    const body = document.querySelector("#bookings tbody");
    body.replaceChildren(row([t("status"), t("count")]), ...Object.entries(counts).map(([state, n]) => row([t(state), number(n)], [1])));
    const [day] = await api(`/kpi/daily?first=${today}&last=${today}`);
    const revenue = document.querySelector("#revenue tbody");
    revenue.replaceChildren(...["revenue_owners", "revenue_providers", "revenue_enterprise", "revenue_city", "revenue_platform"].map((name) => {
      const tr = row([t(name), number(day[name])], [1]);
      tr.dataset.kpi = name;
      return tr;
    }));
  }

  async function complaints() {
    const found = await api("/complaints?state=open&state=in_progress&limit=20");
    list("complaints", found.items.map((c) => element("li", `${t(c.state)} · ${c.category} · ${c.text.slice(0, 80)}${c.resolution_overdue || c.response_overdue ? " · " + t("overdue") : ""}`, c.resolution_overdue || c.response_overdue ? "overdue" : undefined)), "no_complaints");
  }

  async function occupancy() {
    const answer = await api(`/kpi/hourly?day=${localDay(0)}`);
    const now = localHour();
    const body = document.querySelector("#occupancy tbody");
    body.replaceChildren(...answer.zones.map((zone) => row([zone.name, zone.occupancy[now] === null ? "-" : `${number(zone.occupancy[now] * 100)}%`], [1])));
    if (charts["occupancy-chart"]) charts["occupancy-chart"].destroy();
    charts["occupancy-chart"] = new Chart(document.getElementById("occupancy-chart"), {
      type: "bar",
      data: { labels: answer.zones.map((zone) => zone.name), datasets: [{ label: t("occupancy"), data: answer.zones.map((zone) => zone.occupancy[now]), backgroundColor: answer.zones.map((zone) => occupancyColour(zone.occupancy[now])) }] },
      options: { animation: false, scales: { y: { beginAtZero: true, max: 1 } } },
    });
    return answer;
  }

  Maeul.run(async () => {
    await alerts();
    await bookings();
    await complaints();
    await map.draw(await occupancy(), localDay(0));
  }, 30000);
})();
