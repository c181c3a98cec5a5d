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
  const REFRESH_MS = 60_000;  // every tile is read again from the server this often (and soon after a verdict)
  const counts = { kind: {}, district: {} }, allCounts = { kind: {}, district: {} };
  let today = localDay(new Date()), head = 0;  // head: the highest flag id the counts hold

  const renderCounts = () => {
    const table = (node, key, title, label) => {
      const keys = Array.from(new Set([...Object.keys(counts[key]), ...Object.keys(allCounts[key])])).sort(
        (a, b) => (counts[key][b] || 0) - (counts[key][a] || 0) || (allCounts[key][b] || 0) - (allCounts[key][a] || 0));
      node.replaceChildren(row([title, wall.today, wall.all], "th"),
        ...keys.map((k) => row([label(k), counts[key][k] || 0, allCounts[key][k] || 0])));
    };
    table($("kinds"), "kind", wall.kind, (k) => kindLabel[k] || k);
    table($("districts"), "district", wall.district, (d) => (d === "(none)" ? wall.noDistrict : d));
    $("today-total").textContent = String(Object.values(counts.kind).reduce((a, b) => a + b, 0));
  };

  // the last 30 days up to today, a day without flags drawn as zero
  const lastDays = (byDay) => {
    const out = [];
    for (let k = 29; k >= 0; k -= 1) {
      const day = localDay(new Date(Date.now() - k * 86_400_000));
      if (!out.length || out[out.length - 1][0] !== day) out.push([day, byDay[day] || 0]);
    }
    return out;
  };
  const renderTrend = (byDay) => {
    const days = lastDays(byDay), canvas = $("trend"), ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const max = Math.max(1, ...days.map(([, n]) => n)), w = canvas.width / days.length;
    ctx.fillStyle = "#23313f"; ctx.font = "11px sans-serif";
    days.forEach(([day, n], k) => {
      const h = (canvas.height - 30) * n / max;
      ctx.fillRect(k * w + 2, canvas.height - 18 - h, Math.max(1, Math.min(w - 4, 48)), h);
      if (k % 5 === 4 || k === days.length - 1) ctx.fillText(String(day).slice(5), k * w, canvas.height - 4);
      if (n) ctx.fillText(String(n), k * w + 2, canvas.height - 22 - h);
    });
  };

  const renderFootfall = (footfall) => {
    const table = $("footfall");
    while (table.rows.length > 1) table.deleteRow(1);
    let alerts = 0;
    footfall.sort((a, b) => (b.swipes_per_visitor || 1e9) - (a.swipes_per_visitor || 1e9)).forEach((r) => {
      const tr = row([`${r.pharmacy_id} ${r.name || ""}`, r.day, r.settlements, r.visitors,
        r.swipes_per_visitor ?? wall.noVisitor]);
      if (r.alert) { tr.className = "alert"; alerts += 1; }
      table.appendChild(tr);
    });
    $("alerts-total").textContent = String(alerts);
  };

  // Every tile from the server: the counts as /stats gives them (the feed only adds flags after its head)
  const refresh = async () => {
    today = localDay(new Date());
    const [all, now, footfall] = await Promise.all([
      get("/api/v1/stats"), get(`/api/v1/stats?date_from=${today}&date_to=${today}`), get("/api/v1/footfall")]);
    counts.kind = { ...now.by_kind }; counts.district = { ...now.by_district };
    allCounts.kind = { ...all.by_kind }; allCounts.district = { ...all.by_district };
    head = Math.max(head, Math.min(all.head_id, now.head_id));
    renderCounts();
    $("open-total").textContent = String(all.by_status.open || 0);
    $("confirmed-rate").textContent = all.confirmed_rate === null ? "–" : `${Math.round(all.confirmed_rate * 100)}%`;
    const lost = all.by_district["(none)"] || 0, warn = $("without-district");
    warn.hidden = !lost;
    warn.textContent = warn.dataset.text.replace("{n}", String(lost));
    renderTrend(all.by_day);
    renderFootfall(footfall);
    return all;
  };
  let soon = null;
  const refreshSoon = () => { if (!soon) soon = setTimeout(() => { soon = null; refresh(); }, 2_000); };

  const [first, newest] = await Promise.all([refresh(), get("/api/v1/flags?page_size=20&sort=newest")]);
  setInterval(refresh, REFRESH_MS);

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
  // resumed after the highest flag id the counts hold, never after the newest by settlement time
  // (a flag with a higher id but an older swipe would come again and be counted twice)
  const source = new EventSource(`/api/v1/events?after_id=${first.head_id}`);
  source.addEventListener("flag", (e) => {
    const f = JSON.parse(e.data);
    if (!live.querySelector(`li[data-flag="${Number(f.id)}"]`)) {
      live.prepend(item(f));
      while (live.children.length > 50) live.lastChild.remove();
    }
    if (Number(f.id) <= head) return;  // already in the counts of the last refresh
    head = Number(f.id);
    if (f.settled_at && localDay(new Date(f.settled_at)) === today) {
      counts.kind[f.kind] = (counts.kind[f.kind] || 0) + 1;
      const d = f.district || "(none)";
      counts.district[d] = (counts.district[d] || 0) + 1;
    }
    allCounts.kind[f.kind] = (allCounts.kind[f.kind] || 0) + 1;
    const d = f.district || "(none)";
    allCounts.district[d] = (allCounts.district[d] || 0) + 1;
    renderCounts();
    refreshSoon();  // open flags, trend and footfall follow within seconds
  });
  source.addEventListener("verdict", (e) => {
    const v = JSON.parse(e.data);
    const li = live.querySelector(`li[data-flag="${Number(v.flag_id)}"]`);
    const status = li && li.querySelector("[data-role=status]");
    if (status) {
      status.textContent = statusLabel[v.review_status] || v.review_status;
      status.className = "st st-" + String(v.review_status).replace(/[^a-z]/g, "");
    }
    refreshSoon();  // the open count and the confirmed rate
  });
})();
