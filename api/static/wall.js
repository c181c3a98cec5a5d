// The monitoring wall: districts, a trend chart, footfall vs swipes, and live flags over SSE.
(async function () {
  const get = (url) => fetch(url, { credentials: "same-origin" }).then((r) => r.json());
  const stats = await get("/api/v1/stats");
  const districts = document.getElementById("districts");
  districts.innerHTML = "<tr><th>District</th><th>Flags</th></tr>" + Object.entries(stats.by_district)
    .map(([d, n]) => `<tr><td>${d}</td><td>${n}</td></tr>`).join("");
  const days = Object.entries(stats.by_day);
  const canvas = document.getElementById("trend"), ctx = canvas.getContext("2d");
  const max = Math.max(1, ...days.map(([, n]) => n)), w = canvas.width / Math.max(1, days.length);
  ctx.fillStyle = "#23313f"; ctx.font = "11px sans-serif";
  days.forEach(([day, n], k) => {
    const h = (canvas.height - 30) * n / max;
    ctx.fillRect(k * w + 4, canvas.height - 18 - h, w - 8, h);
    ctx.fillText(day.slice(5), k * w + 4, canvas.height - 4);
    ctx.fillText(String(n), k * w + 4, canvas.height - 22 - h);
  });
  const footfall = await get("/api/v1/footfall");
  const table = document.getElementById("footfall");
  footfall.sort((a, b) => (b.swipes_per_visitor || 1e9) - (a.swipes_per_visitor || 1e9)).forEach((r) => {
    const tr = document.createElement("tr");
    if (r.alert) tr.className = "alert";
    tr.innerHTML = `<td>${r.pharmacy_id} ${r.name || ""}</td><td>${r.day}</td><td>${r.settlements}</td>` +
      `<td>${r.visitors}</td><td>${r.swipes_per_visitor ?? "no visitor"}</td>`;
    table.appendChild(tr);
  });
  const live = document.getElementById("live");
  const source = new EventSource("/api/v1/events?after_id=0");
  source.addEventListener("flag", (e) => {
    const f = JSON.parse(e.data), li = document.createElement("li");
    li.innerHTML = `<a href="/flags/${f.id}">${f.kind}</a> ${f.settlement_id} ${f.pharmacy_id} (${f.district || "—"}) ${f.score.toFixed(2)}`;
    live.prepend(li);
    while (live.children.length > 50) live.lastChild.remove();
  });
})();
