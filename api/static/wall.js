// The monitoring wall, one 1920x1080 screen: today's counts by kind and district, the trend, the
// pharmacies on a map and ranked (wall_board.js), footfall alerts and the newest flags with their review
// status, kept current from the event stream (event: flag, event: verdict) and a refresh every minute.
// Every value from the server is text: the DOM is built with createElement and textContent only.
(async function () {
  "use strict";
  const get = (url) => fetch(url, { credentials: "same-origin" }).then((r) => {
    if (!r.ok) throw new Error(`${url}: ${r.status}`);
    return r.json();
  });
  const { el } = window.RxDom;
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
  const DAYS = 30;  // the trend's days and the footfall window
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
    const box = canvas.parentElement.getBoundingClientRect(), ratio = window.devicePixelRatio || 1;
    const W = Math.max(200, Math.floor(box.width)), H = Math.max(80, Math.floor(box.height));
    canvas.width = W * ratio; canvas.height = H * ratio;
    canvas.style.width = `${W}px`; canvas.style.height = `${H}px`;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, W, H);
    const max = Math.max(1, ...days.map(([, n]) => n)), w = W / days.length;
    ctx.font = "13px system-ui, sans-serif"; ctx.textAlign = "center";
    days.forEach(([day, n], k) => {
      const h = (H - 40) * n / max, mid = k * w + w / 2;
      ctx.fillStyle = n ? "#23313f" : "#c5ccd3";
      ctx.fillRect(k * w + 2, H - 20 - Math.max(h, 1), Math.max(1, w - 4), Math.max(h, 1));  // a day without flags: a 0 line
      ctx.fillStyle = "#333";
      if (k % 5 === 4 || k === days.length - 1) {  // a label never runs off the canvas
        const text = String(day).slice(5), half = ctx.measureText(text).width / 2;
        ctx.fillText(text, Math.min(Math.max(mid, half), W - half), H - 4);
      }
      if (w >= 18 || n) ctx.fillText(String(n), mid, H - 24 - h);
    });
  };

  let lastTrend = {}, lastBoard = null;
  const renderBoard = () => { if (lastBoard) window.RxWallBoard.render(lastBoard, wall); };
  const stamp = (failed) => {
    const node = $("updated");
    node.textContent = failed ? wall.failed : localTime(new Date().toISOString()).slice(11);
    node.classList.toggle("stale", failed);
  };

  // Every tile from the server: the counts as /stats gives them (the feed only adds flags after its head)
  const load = async () => {
    today = localDay(new Date());
    const from = localDay(new Date(Date.now() - (DAYS - 1) * 86_400_000));
    const [all, now, footfall, board] = await Promise.all([
      get("/api/v1/stats"), get(`/api/v1/stats?date_from=${today}&date_to=${today}`),
      get(`/api/v1/footfall?date_from=${from}&date_to=${today}`), get(`/api/v1/pharmacies?days=${DAYS}&top=10`)]);
    counts.kind = { ...now.by_kind }; counts.district = { ...now.by_district };
    allCounts.kind = { ...all.by_kind }; allCounts.district = { ...all.by_district };
    head = Math.max(head, Math.min(all.head_id, now.head_id));
    renderCounts();
    $("open-total").textContent = String(all.by_status.open || 0);
    $("confirmed-rate").textContent = all.confirmed_rate === null ? "–" : `${Math.round(all.confirmed_rate * 100)}%`;
    const lost = all.by_district["(none)"] || 0, warn = $("without-district");
    warn.hidden = !lost;
    warn.textContent = warn.dataset.text.replace("{n}", String(lost));
    lastTrend = all.by_day;
    renderTrend(lastTrend);
    $("alerts-total").textContent = String(footfall.filter((r) => r.alert).length);
    lastBoard = board;
    renderBoard();
    const win = $("ratio-window");
    win.textContent = win.dataset.text.replace("{n}", String(DAYS)).replace("{min}", String(board.min_swipes));
    stamp(false);
    return all;
  };
  const refresh = () => load().catch(() => stamp(true));  // a failed refresh keeps the last values, marked
  // drawn again to their boxes whenever those change (the first layout, full screen, a resize)
  let resized = null;
  const redraw = () => {
    clearTimeout(resized);
    resized = setTimeout(() => { renderTrend(lastTrend); renderBoard(); }, 100);
  };
  if (window.ResizeObserver) {
    const watch = new ResizeObserver(redraw);
    watch.observe($("map")); watch.observe($("trend").parentElement);
  } else window.addEventListener("resize", redraw);

  // Full screen, and the chrome (header, footer) hidden: with the button, or always with ?kiosk=1
  const screenButton = $("fullscreen"), urlKiosk = $("wall").classList.contains("kiosk");
  let chosen = false;
  const kiosk = () => {
    const on = chosen || Boolean(document.fullscreenElement);
    $("wall").classList.toggle("kiosk", urlKiosk || on);
    screenButton.textContent = on ? wall.leave : wall.enter;
  };
  screenButton.addEventListener("click", () => {
    if (chosen || document.fullscreenElement) {
      chosen = false;
      if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    } else {
      chosen = true;  // the chrome goes even where the browser refuses full screen
      if (document.documentElement.requestFullscreen) document.documentElement.requestFullscreen().catch(() => {});
    }
    kiosk();
  });
  document.addEventListener("fullscreenchange", () => {
    if (!document.fullscreenElement) chosen = false;
    kiosk();
  });
  let soon = null;
  const refreshSoon = () => { if (!soon) soon = setTimeout(() => { soon = null; refresh(); }, 2_000); };

  const [first, newest] = await Promise.all([load(), get("/api/v1/flags?page_size=30&sort=newest")]);
  setInterval(refresh, REFRESH_MS);
  window.RxWallBacklog.start(5_000);

  const live = $("live");
  const item = (f) => {
    const li = el("li");
    li.dataset.flag = String(f.id);
    const link = el("a", kindLabel[f.kind] || f.kind, `kind k-${String(f.kind).replace(/[^a-z_]/g, "")}`);
    link.href = "/flags/" + encodeURIComponent(String(f.id));
    const status = el("span", statusLabel[f.review_status] || f.review_status, "st st-" + String(f.review_status).replace(/[^a-z]/g, ""));
    status.dataset.role = "status";
    const view = el("a", live.dataset.liveView, "to-live");  // one click to the counter's live picture
    view.href = `/live/${encodeURIComponent(f.pharmacy_id)}?counter=${encodeURIComponent(f.counter_id)}`;
    li.append(el("span", f.settled_at ? localTime(f.settled_at) : "", "when"), " ", link, " ",
      [f.settlement_id, f.pharmacy_name || f.pharmacy_id, `(${f.district || wall.noDistrict})`, Number(f.score).toFixed(2)].join(" "), " ", status,
      " ", view);
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
