// The city's dashboard: the pilot's KPI table for this month beside the published values, the last two weeks and
// today's hours as charts, and the village map (zones by occupancy, illegal-parking hot spots, shared vehicles).
"use strict";

(() => {
  const { t, api, localDay, number, row } = Maeul;
  const TABLE = ["entering_vehicles", "illegal_parking", "supply_ratio", "shared_slots_supplied", "satisfaction", "jobs"];
  const PUBLISHED = {
    entering_vehicles: ["entering_vehicles_per_day", "entering_vehicles_per_day"],
    illegal_parking: ["illegal_parking_weekday", "illegal_parking_weekend"],
    supply_ratio: ["supply_ratio_weekday", "supply_ratio_weekend"],
  };
  const charts = {};
  window.maeulCharts = charts; // the browser tests read what the charts show
  const map = Maeul.village("map");

  function published(summary) {
    const both = summary.published || {};
    const pick = (column) => {
      const values = [both.weekday && both.weekday[column], both.weekend && both.weekend[column]].filter((v) => v !== undefined);
      if (!values.length) return "-";
      return values[0] === values[values.length - 1] ? number(values[0], 3) : `${number(values[0], 3)} / ${number(values[1], 3)}`;
    };
    return [pick("before"), pick("after")];
  }

  async function kpiTable() {
    const month = localDay().slice(0, 7);
    document.getElementById("month").textContent = month;
    const answer = await api(`/kpi/monthly?month=${month}`);
    const body = document.querySelector("#kpi-table tbody");
    body.replaceChildren();
    for (const name of TABLE) {
      const summary = answer.kpis.find((kpi) => kpi.kpi === name);
      if (!summary) continue;
      const tr = row([t(name), number(summary.weekday, 3), number(summary.weekend, 3), ...published(summary)], [1, 2, 3, 4]);
      tr.dataset.kpi = name;
      body.appendChild(tr);
    }
  }

  function chart(id, config) {
    if (charts[id]) charts[id].destroy();
    charts[id] = new Chart(document.getElementById(id), { ...config, options: { animation: false, responsive: true, ...config.options } });
  }

  async function days() {
    const first = localDay(-13), last = localDay(0);
    document.getElementById("export-daily").href = `/kpi/daily?first=${first}&last=${last}&format=csv`;
    const rows = await api(`/kpi/daily?first=${first}&last=${last}`);
    chart("daily-chart", {
      type: "line",
      data: {
        labels: rows.map((day) => day.day.slice(5)),
        datasets: [
          { label: t("illegal_parking"), data: rows.map((day) => day.illegal_parking), borderColor: "#d93025", yAxisID: "y" },
          { label: t("entering_vehicles"), data: rows.map((day) => day.entering_vehicles), borderColor: "#1a73e8", yAxisID: "y1" },
          { label: t("shared_slots_supplied"), data: rows.map((day) => day.shared_slots_supplied), borderColor: "#188038", yAxisID: "y" },
        ],
      },
      options: { scales: { y: { beginAtZero: true, position: "left" }, y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false } } } },
    });
  }

  async function hours() {
    const answer = await api(`/kpi/hourly?day=${localDay(0)}`);
    const mean = (values) => {
      const kept = values.filter((v) => v !== null);
      return kept.length ? kept.reduce((a, b) => a + b, 0) / kept.length : null;
    };
    const occupancy = [...Array(24).keys()].map((hour) => mean(answer.zones.map((zone) => zone.occupancy[hour])));
    chart("hourly-chart", {
      type: "bar",
      data: {
        labels: [...Array(24).keys()].map((hour) => `${hour}${t("hour")}`),
        datasets: [
          { type: "line", label: t("supply_ratio"), data: answer.supply_ratio, borderColor: "#17405e" },
          { label: t("occupancy"), data: occupancy, backgroundColor: "#f9ab00" },
        ],
      },
      options: { scales: { y: { beginAtZero: true } } },
    });
    return answer;
  }

  Maeul.run(async () => {
    await kpiTable();
    await days();
    await map.draw(await hours(), localDay(-6));
  }, 60000);
})();
