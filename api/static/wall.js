// The monitoring wall: today's counts by kind and district, the trend, footfall alerts and the newest
// flags with their review status, kept current from the event stream (event: flag, event: verdict).
// Every value from the server is text: the DOM is built with createElement and textContent only.
(async function () {
  "use strict";
  const get = (url) => fetch(url, { credentials: "same-origin" }).then((r) => r.json());
  const el = (tag, text, cls) => {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  };
  const row = (cells, tag = "td") => {
    const tr = document.createElement("tr");
    cells.forEach((c) => tr.appendChild(el(tag, c)));
    return tr;
  };
  const $ = (id) => document.getElementById(id);
  const wall = $("wall").dataset;  // the page's own words, in its language
  const labels = (sel, key) => {
    const out = {};
    document.querySelectorAll(sel).forEach((li) => { out[li.dataset[key]] = li.textContent; });
    return out;
  };
  const kindLabel = labels("#kind-labels li", "kind"), statusLabel = labels("#status-labels li", "status");
  const localDay = (when) => new Intl.DateTimeFormat("en-CA", { timeZone: wall.tz }).format(when);
  const localTime = (iso) => `${localDay(new Date(iso))} ${new Intl.DateTimeFormat("en-GB", { timeZone: wall.tz,
    hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false }).format(new Date(iso))}`;  // one convention
  const today = localDay(new Date());

  const [all, now, newest, footfall] = await Promise.all([
    get("/api/v1/stats"), get(`/api/v1/stats?date_from=${today}&date_to=${today}`),
    get("/api/v1/flags?page_size=20&sort=newest"), get("/api/v1/footfall")]);

  const counts = { kind: { ...now.by_kind }, district: { ...now.by_district } };
  const allCounts = { kind: { ...all.by_kind }, district: { ...all.by_district } };
  const renderCounts = () => {
    const table = (node, key, head, label) => {
      const keys = Array.from(new Set([...Object.keys(counts[key]), ...Object.keys(allCounts[key])])).sort(
        (a, b) => (counts[key][b] || 0) - (counts[key][a] || 0) || (allCounts[key][b] || 0) - (allCounts[key][a] || 0));
      node.replaceChildren(row([head, wall.today, wall.all], "th"),
        ...keys.map((k) => row([label(k), counts[key][k] || 0, allCounts[key][k] || 0])));
    };
    table($("kinds"), "kind", wall.kind, (k) => kindLabel[k] || k);
    table($("districts"), "district", wall.district, (d) => (d === "(none)" ? wall.noDistrict : d));
    $("today-total").textContent = String(Object.values(counts.kind).reduce((a, b) => a + b, 0));
  };
  renderCounts();
  $("open-total").textContent = String(all.by_status.open || 0);
  $("confirmed-rate").textContent = all.confirmed_rate === null ? "–" : `${Math.round(all.confirmed_rate * 100)}%`;

  const days = Object.entries(all.by_day).slice(-30);
  const canvas = $("trend"), ctx = canvas.getContext("2d");
  const max = Math.max(1, ...days.map(([, n]) => n)), w = canvas.width / Math.max(1, days.length);
  ctx.fillStyle = "#23313f"; ctx.font = "11px sans-serif";
  days.forEach(([day, n], k) => {
    const h = (canvas.height - 30) * n / max;
    ctx.fillRect(k * w + 4, canvas.height - 18 - h, Math.min(w - 8, 48), h);
    ctx.fillText(String(day).slice(5), k * w + 4, canvas.height - 4);
    ctx.fillText(String(n), k * w + 4, canvas.height - 22 - h);
  });

  const table = $("footfall");
  let alerts = 0;
  footfall.sort((a, b) => (b.swipes_per_visitor || 1e9) - (a.swipes_per_visitor || 1e9)).forEach((r) => {
    const tr = row([`${r.pharmacy_id} ${r.name || ""}`, r.day, r.settlements, r.visitors,
      r.swipes_per_visitor ?? wall.noVisitor]);
    if (r.alert) { tr.className = "alert"; alerts += 1; }
    table.appendChild(tr);
  });
  $("alerts-total").textContent = String(alerts);

  const live = $("live");
  const item = (f) => {
    const li = el("li");
    li.dataset.flag = String(f.id);
    const link = el("a", kindLabel[f.kind] || f.kind, `kind k-${String(f.kind).replace(/[^a-z_]/g, "")}`);
    link.href = "/flags/" + encodeURIComponent(String(f.id));
    const status = el("span", statusLabel[f.review_status] || f.review_status, "st st-" + String(f.review_status).replace(/[^a-z]/g, ""));
    status.dataset.role = "status";
    li.append(el("span", f.settled_at ? localTime(f.settled_at) : "", "when"), " ", link, " ",
      [f.settlement_id, f.pharmacy_id, `(${f.district || wall.noDistrict})`, Number(f.score).toFixed(2)].join(" "), " ", status);
    return li;
  };
  newest.items.slice().reverse().forEach((f) => live.prepend(item(f)));
  const after = Math.max(0, ...newest.items.map((f) => f.id));
  const source = new EventSource(`/api/v1/events?after_id=${after}`);
  source.addEventListener("flag", (e) => {
    const f = JSON.parse(e.data);
    if (live.querySelector(`li[data-flag="${Number(f.id)}"]`)) return;
    live.prepend(item(f));
    while (live.children.length > 50) live.lastChild.remove();
    if (f.settled_at && localDay(new Date(f.settled_at)) === today) {
      counts.kind[f.kind] = (counts.kind[f.kind] || 0) + 1;
      const d = f.district || "(none)";
      counts.district[d] = (counts.district[d] || 0) + 1;
    }
    allCounts.kind[f.kind] = (allCounts.kind[f.kind] || 0) + 1;
    renderCounts();
  });
  source.addEventListener("verdict", (e) => {
    const v = JSON.parse(e.data);
    const li = live.querySelector(`li[data-flag="${Number(v.flag_id)}"]`);
    const status = li && li.querySelector("[data-role=status]");
    if (status) {
      status.textContent = statusLabel[v.review_status] || v.review_status;
      status.className = "st st-" + String(v.review_status).replace(/[^a-z]/g, "");
    }
  });
})();
