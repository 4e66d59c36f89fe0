// maeul dashboards: labels (Korean, English), the API with the session cookie, dates in the village's time zone,
// and the map (Leaflet, drawn on a canvas; base tiles only when configured).
"use strict";

const Maeul = (() => {
  const LABELS = {
    en: {
      city_title: "City dashboard", operator_title: "Village enterprise", sign_out: "Sign out",
      kpi_table: "The pilot's KPI table", kpi: "KPI", weekday: "Weekday", weekend: "Weekend",
      published_before: "Published before", published_after: "Published after",
      suppressed_note: "Cells from fewer than k people are not shown (-).",
      days_chart: "Over the last two weeks", hours_chart: "Today, hour by hour", exports: "Exports",
      daily_csv: "KPIs per day (CSV)", map_title: "The village: occupancy by zone, illegal parking, shared vehicles",
      legend_illegal: "illegal parking (7 days)", legend_vehicles: "shared vehicles now",
      legend_zones: "zones by occupancy this hour", legend_illegal_today: "illegal parking today",
      alerts: "Alerts", gauges: "Water gauges", todays_bookings: "Today's bookings",
      revenue_today: "Revenue today (KRW)", complaints: "Complaints queue", occupancy_now: "Occupancy this hour",
      live_map: "Live map", loading: "Loading…", updated: "Updated", failed: "Could not load",
      entering_vehicles: "Vehicles entering", illegal_parking: "Illegal parking (vehicles)",
      supply_ratio: "Parking supply ratio", shared_slots_open: "Shared slots open",
      shared_slots_supplied: "Shared slots booked", jobs: "Jobs (8-hour days)", satisfaction: "Satisfaction (0-100)",
      revenue_owners: "Slot owners", revenue_providers: "Fleet partners", revenue_enterprise: "Village enterprise",
      revenue_city: "City", revenue_platform: "Platform", vehicles_deployed: "Shared vehicles deployed",
      vehicles_active: "Shared vehicles ridden", trips: "Trips", trips_per_vehicle: "Trips per vehicle",
      idle_share: "Idle share", occupancy: "Occupancy (mean of zones)", hour: "h", zone: "Zone",
      no_alerts: "No alerts", no_complaints: "No open complaints", flooding: "flooding", level: "level",
      overdue: "overdue", status: "Status", count: "Bookings", reserved: "reserved", active: "parked",
      completed: "completed", cancelled: "cancelled", no_show: "no-show", overstayed: "overstayed", open: "open",
      in_progress: "in progress",
    },
    ko: {
      city_title: "시 현황판", operator_title: "마을기업 운영", sign_out: "로그아웃",
      kpi_table: "시범사업 성과지표", kpi: "지표", weekday: "평일", weekend: "주말",
      published_before: "발표 (사업 전)", published_after: "발표 (사업 후)",
      suppressed_note: "k명 미만으로 집계된 칸은 표시하지 않습니다 (-).",
      days_chart: "최근 2주", hours_chart: "오늘 시간대별", exports: "내려받기",
      daily_csv: "일별 지표 (CSV)", map_title: "마을 지도: 구역별 점유율, 불법주차, 공유 이동수단",
      legend_illegal: "불법주차 (7일)", legend_vehicles: "현재 공유 이동수단",
      legend_zones: "이번 시간 구역 점유율", legend_illegal_today: "오늘 불법주차",
      alerts: "알림", gauges: "수위계", todays_bookings: "오늘의 예약",
      revenue_today: "오늘 수입 (원)", complaints: "민원 처리", occupancy_now: "이번 시간 점유율",
      live_map: "실시간 지도", loading: "불러오는 중…", updated: "갱신", failed: "불러오지 못함",
      entering_vehicles: "마을 진입 차량", illegal_parking: "불법주차 차량",
      supply_ratio: "주차 공급률", shared_slots_open: "공유 주차면 (개방)",
      shared_slots_supplied: "공유 주차면 (이용)", jobs: "일자리 (8시간 기준)", satisfaction: "주민 만족도 (100점)",
      revenue_owners: "주차면 소유자", revenue_providers: "이동수단 협력사", revenue_enterprise: "마을기업",
      revenue_city: "시", revenue_platform: "플랫폼", vehicles_deployed: "배치된 공유 이동수단",
      vehicles_active: "이용된 공유 이동수단", trips: "이용 건수", trips_per_vehicle: "대당 이용 건수",
      idle_share: "미이용 비율", occupancy: "점유율 (구역 평균)", hour: "시", zone: "구역",
      no_alerts: "알림 없음", no_complaints: "처리할 민원 없음", flooding: "침수 위험", level: "수위",
      overdue: "기한 초과", status: "상태", count: "예약 수", reserved: "예약", active: "주차 중",
      completed: "완료", cancelled: "취소", no_show: "미이용", overstayed: "초과 주차", open: "접수",
      in_progress: "처리 중",
    },
  };
  const asked = new URLSearchParams(location.search).get("lang");
  if (asked === "ko" || asked === "en") localStorage.setItem("maeul-lang", asked);
  const lang = localStorage.getItem("maeul-lang") || (navigator.language.startsWith("ko") ? "ko" : "en");
  const meta = (name) => (document.querySelector(`meta[name="${name}"]`) || {}).content || "";
  const timezone = meta("maeul-timezone") || "Asia/Seoul";

  function t(key) {
    return (LABELS[lang] && LABELS[lang][key]) || LABELS.en[key] || key;
  }

  function translate() {
    document.documentElement.lang = lang;
    for (const element of document.querySelectorAll("[data-i18n]")) element.textContent = t(element.dataset.i18n);
  }

  function cookie(name) {
    const found = document.cookie.split("; ").find((part) => part.startsWith(`${name}=`));
    return found ? decodeURIComponent(found.slice(name.length + 1)) : null;
  }

  async function api(path, options = {}) {
    const headers = { Accept: "application/json", ...(options.headers || {}) };
    const method = (options.method || "GET").toUpperCase();
    if (!["GET", "HEAD", "OPTIONS"].includes(method)) headers["X-CSRF-Token"] = cookie("__Host-maeul_csrf") || cookie("maeul_csrf");
    const response = await fetch(path, { ...options, method, headers, credentials: "same-origin" });
    if (response.status === 401) {
      location.href = `/pages/sign-in?next=${encodeURIComponent(location.pathname)}`;
      throw new Error("signed out");
    }
    if (!response.ok) throw new Error(`${path}: ${response.status}`);
    return response.json();
  }

  // a local date (YYYY-MM-DD) in the village's time zone, `days` from today
  function localDay(days = 0) {
    const at = new Date(Date.now() + days * 86400000);
    return new Intl.DateTimeFormat("en-CA", { timeZone: timezone }).format(at);
  }

  function localHour() {
    return Number(new Intl.DateTimeFormat("en-GB", { timeZone: timezone, hour: "numeric", hourCycle: "h23" }).format(new Date()));
  }

  // the start of a local day as an ISO instant (Seoul has no daylight saving: +09:00)
  function dayStart(day) {
    const offset = new Intl.DateTimeFormat("en", { timeZone: timezone, timeZoneName: "longOffset" })
      .formatToParts(new Date()).find((part) => part.type === "timeZoneName").value.replace("GMT", "") || "+00:00";
    return `${day}T00:00:00${offset}`;
  }

  function number(value, digits = 0) {
    if (value === null || value === undefined) return "-";
    return Number(value).toLocaleString(lang === "ko" ? "ko-KR" : "en-GB", { maximumFractionDigits: digits });
  }

  function makeMap(element) {
    const map = L.map(element, { preferCanvas: true, zoomSnap: 0.25 }).setView([37.52, 126.78], 15.5);
    const tiles = meta("maeul-tiles");
    if (tiles) L.tileLayer(tiles, { attribution: meta("maeul-attribution"), maxZoom: 19 }).addTo(map);
    return map;
  }

  // green (empty) through amber to red (full)
  function occupancyColour(share) {
    if (share === null || share === undefined) return "#9aa5b1";
    if (share < 0.5) return "#34a853";
    if (share < 0.85) return "#f9ab00";
    return "#d93025";
  }

  function status(text) {
    document.getElementById("status").textContent = text;
  }

  async function who() {
    const me = await api("/me");
    document.getElementById("who").textContent = `${me.display_name} (${me.role})`;
    return me;
  }

  function element(tag, text, className) {
    const made = document.createElement(tag);
    if (text !== undefined) made.textContent = text;
    if (className) made.className = className;
    return made;
  }

  function row(cells, numeric = []) {
    const tr = document.createElement("tr");
    cells.forEach((cell, index) => tr.appendChild(element("td", cell, numeric.includes(index) ? "number" : undefined)));
    return tr;
  }

  // the village on the map: zones coloured by this hour's occupancy, illegal parking since a day, the shared vehicles
  function village(element) {
    const map = makeMap(element);
    const layers = { zones: L.layerGroup().addTo(map), violations: L.layerGroup().addTo(map), vehicles: L.layerGroup().addTo(map) };
    async function draw(hourly, sinceDay) {
      const now = localHour();
      const byZone = Object.fromEntries(hourly.zones.map((zone) => [zone.zone_id, zone.occupancy[now]]));
      layers.zones.clearLayers();
      for (const zone of await api("/zones")) {
        const share = byZone[zone.id];
        L.geoJSON(zone.area, { style: { color: "#17405e", weight: 1, fillColor: occupancyColour(share), fillOpacity: 0.25 } })
          .bindTooltip(`${zone.name}: ${share === null || share === undefined ? "-" : number(share * 100) + "%"}`)
          .addTo(layers.zones);
      }
      const violations = await api(`/violations?start=${encodeURIComponent(dayStart(sinceDay))}&limit=500`);
      layers.violations.clearLayers();
      for (const v of violations.items) {
        L.circleMarker([v.lat, v.lon], { radius: 4, color: "#d93025", fillOpacity: 0.5, weight: 1 }).bindTooltip(v.kind).addTo(layers.violations);
      }
      const feed = await api("/gbfs/vehicle_status.json");
      layers.vehicles.clearLayers();
      for (const vehicle of feed.data.vehicles) {
        L.circleMarker([vehicle.lat, vehicle.lon], { radius: 3, color: "#1a73e8", fillOpacity: 0.8, weight: 1 }).addTo(layers.vehicles);
      }
    }
    return { draw };
  }

  // a dashboard: labels, who is signed in, then `refresh` now and every `everyMs`, saying when it last worked
  function run(refresh, everyMs) {
    async function once() {
      try {
        await refresh();
        status(`${t("updated")} ${new Date().toLocaleTimeString()}`);
        document.body.dataset.ready = "true";
      } catch (error) {
        status(`${t("failed")}: ${error.message}`);
      }
    }
    translate();
    status(t("loading"));
    who().then(once);
    setInterval(once, everyMs);
  }

  return { t, translate, api, localDay, localHour, dayStart, number, occupancyColour, status, element, row, lang, village, run };
})();
