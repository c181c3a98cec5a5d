// The flag page: the player (controls below the picture, a mark at the swipe), the keyframe strip
// (before / at / after, click to zoom), verdicts saved at once with auto-advance to the next open
// flag (the undo notice travels there: api/templates/_undo_notice.html), shortcuts.
// Every text shown comes from the page (data-* attributes rendered by the server) or is a number;
// the DOM is changed with textContent and attributes only.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const store = {
    get: (k, d) => { try { const v = localStorage.getItem(k); return v === null ? d : v === "1"; } catch (e) { return d; } },
    set: (k, v) => { try { localStorage.setItem(k, v ? "1" : "0"); } catch (e) { /* private mode */ } },
  };

  // ---- player -------------------------------------------------------------------------------
  const video = $("clip"), player = $("player");
  let swipe = null;
  const pad = (n) => String(n).padStart(2, "0");
  const clockAt = (t) => {
    if (!player || swipe === null) return "--:--:--";
    const when = new Date((parseFloat(player.dataset.settled) + (t - swipe)) * 1000);
    try {
      return new Intl.DateTimeFormat("en-GB", { timeZone: player.dataset.tz, hour: "2-digit", minute: "2-digit",
        second: "2-digit", hour12: false }).format(when);
    } catch (e) { return `${pad(when.getHours())}:${pad(when.getMinutes())}:${pad(when.getSeconds())}`; }
  };
  const unavailable = () => {
    if (!player) return;
    const note = document.createElement("p");
    note.className = "novideo";
    note.id = "clip-unavailable";
    note.textContent = player.dataset.unavailable;
    player.replaceChildren(note);
    const strip = $("strip");
    if (strip) strip.querySelectorAll("canvas").forEach((c) => c.closest("figure").remove());
  };

  function drawStrip(src, offset) {
    // a second, hidden video seeks to each moment and paints it into the strip's canvases
    const shots = [[$("frame-before"), offset - 1], [$("frame-at-canvas"), offset], [$("frame-after"), offset + 1]]
      .filter(([c]) => c);
    if (!shots.length) return;
    const grab = document.createElement("video");
    grab.muted = true; grab.preload = "auto"; grab.src = src;
    let k = 0;
    const next = () => {
      if (k >= shots.length) { grab.removeAttribute("src"); grab.load(); return; }
      grab.currentTime = Math.max(0, Math.min(shots[k][1], (grab.duration || 1e9) - 0.05));
    };
    grab.addEventListener("seeked", () => {
      const canvas = shots[k][0];
      canvas.width = grab.videoWidth || canvas.width; canvas.height = grab.videoHeight || canvas.height;
      canvas.getContext("2d").drawImage(grab, 0, 0, canvas.width, canvas.height);
      canvas.dataset.ready = "1";
      k += 1; next();
    });
    grab.addEventListener("loadedmetadata", next, { once: true });
    grab.addEventListener("error", () => shots.forEach(([c]) => c.closest("figure").classList.add("failed")));
  }

  if (video) {
    const seek = $("seek"), mark = $("swipe-mark"), play = $("play"), clock = $("clock");
    const playLabel = play ? play.textContent : "";
    video.addEventListener("error", unavailable);
    fetch(video.src, { headers: { Range: "bytes=0-0" }, credentials: "same-origin" }).then((r) => {
      if (!r.ok) { unavailable(); return; }
      const offset = parseFloat(r.headers.get("X-Swipe-Offset") || "0");
      swipe = offset;
      video.dataset.swipe = String(offset);
      const ready = () => {
        video.currentTime = offset;
        if (mark && video.duration) mark.style.left = `${(100 * offset / video.duration).toFixed(2)}%`;
        if (mark) mark.hidden = false;
      };
      if (video.readyState >= 1) ready(); else video.addEventListener("loadedmetadata", ready, { once: true });
      drawStrip(video.src, offset);
    }).catch(unavailable);
    video.addEventListener("timeupdate", () => {
      if (seek && video.duration) seek.value = String(Math.round(1000 * video.currentTime / video.duration));
      if (clock) clock.textContent = clockAt(video.currentTime);
    });
    video.addEventListener("play", () => { if (play) play.textContent = "❚❚"; });
    video.addEventListener("pause", () => { if (play) play.textContent = playLabel; });
    const toggle = () => (video.paused ? video.play() : video.pause());
    const step = (s) => { video.pause(); video.currentTime = Math.max(0, Math.min(video.duration || 0, video.currentTime + s)); };
    const toSwipe = () => { video.pause(); if (swipe !== null) video.currentTime = swipe; };
    if (play) play.addEventListener("click", toggle);
    if ($("back1")) $("back1").addEventListener("click", () => step(-1));
    if ($("fwd1")) $("fwd1").addEventListener("click", () => step(1));
    if ($("to-swipe")) $("to-swipe").addEventListener("click", toSwipe);
    video.addEventListener("click", toggle);
    if (seek) seek.addEventListener("input", () => {
      if (video.duration) video.currentTime = video.duration * parseInt(seek.value, 10) / 1000;
    });
    player.playerKeys = { " ": toggle, s: toSwipe, ArrowLeft: () => step(-1), ArrowRight: () => step(1) };
  }

  // ---- zoom ---------------------------------------------------------------------------------
  const zoom = $("zoom");
  const openZoom = (node) => {
    if (!zoom || !node) return;
    const img = $("zoom-img"), canvas = $("zoom-canvas");
    if (node.tagName === "IMG") {
      img.src = node.src; img.hidden = false; canvas.hidden = true;
    } else {
      canvas.width = node.width; canvas.height = node.height;
      canvas.getContext("2d").drawImage(node, 0, 0);
      canvas.hidden = false; img.hidden = true;
    }
    zoom.hidden = false;
  };
  const closeZoom = () => { if (zoom) zoom.hidden = true; };
  if (zoom) zoom.addEventListener("click", closeZoom);
  document.querySelectorAll("#strip figure").forEach((fig) => {
    fig.addEventListener("click", () => openZoom(fig.querySelector("img,canvas")));
  });

  // ---- face crops beside the linked settlements' keyframes (same-face card pooling) -------------
  document.querySelectorAll("canvas.face[data-src]").forEach((canvas) => {
    const [x1, y1, x2, y2] = canvas.dataset.box.split(",").map(Number);
    if (![x1, y1, x2, y2].every(Number.isFinite) || x2 <= x1 || y2 <= y1) return;
    const img = new Image();
    img.addEventListener("load", () => {
      const pad = 0.25 * Math.max(x2 - x1, y2 - y1);
      const sx = Math.max(0, x1 - pad), sy = Math.max(0, y1 - pad);
      const sw = Math.min(img.naturalWidth - sx, x2 - x1 + 2 * pad), sh = Math.min(img.naturalHeight - sy, y2 - y1 + 2 * pad);
      canvas.height = Math.round(canvas.width * sh / sw);
      canvas.getContext("2d").drawImage(img, sx, sy, sw, sh, 0, 0, canvas.width, canvas.height);
      canvas.dataset.ready = "1";
    });
    img.src = canvas.dataset.src;
  });

  // ---- verdicts: saved at once, then the next open flag; that page carries the undo notice ------
  const form = $("verdict");
  const undoBox = $("undo"), undoText = $("undo-text");
  const auto = $("auto-advance"), then = $("then");
  if (auto) {
    auto.checked = store.get("rxaudit.autoAdvance", true);
    const apply = () => { if (then) then.disabled = !auto.checked; store.set("rxaudit.autoAdvance", auto.checked); };
    auto.addEventListener("change", apply);
    apply();
  }
  // not form.action: the buttons are named "action", which shadows the form's property
  const target = form ? form.getAttribute("action") : "";
  const send = (data) => fetch(target, { method: "POST", body: data, credentials: "same-origin" });
  const say = (text) => { if (!undoBox) return; undoBox.hidden = false; $("undo-btn").hidden = true; undoText.textContent = text; };
  // 503: the database is held by an audit and nothing was saved; send the same verdict again after
  // Retry-After, saying so, and keep the page from being left silently while it is unsaved
  const BUSY_TRIES = 60;
  let unsaved = 0;
  window.addEventListener("beforeunload", (e) => { if (unsaved) e.preventDefault(); });
  const post = (data, tries = 1) => send(data).then((r) => {
    if (r.status !== 503) return r;
    if (tries >= BUSY_TRIES) throw new Error(form.dataset.busyGaveUp);
    const wait = Math.min(60, Math.max(1, parseInt(r.headers.get("Retry-After") || "5", 10) || 5));
    say(form.dataset.busy.replace("{s}", String(wait)));
    return new Promise((resolve) => setTimeout(resolve, wait * 1000)).then(() => post(data, tries + 1));
  });
  const give = (data) => {
    form.classList.add("waiting");
    unsaved += 1;
    post(data).finally(() => { unsaved -= 1; }).then((r) => {
      if (!r.ok) {
        return r.json().catch(() => ({})).then((j) => {
          const d = j.detail;
          throw new Error(Array.isArray(d) ? d.map((x) => `${(x.loc || []).slice(-1)}: ${x.msg}`).join("; ") : String(d || r.status));
        });
      }
      const dest = r.url.split("#")[0];  // a fetch's final URL has no fragment
      if (dest === location.href.split("#")[0]) { location.hash = "history"; location.reload(); }
      else location.assign(dest);
    }).catch((e) => {
      say(`${form.dataset.failed} ${e.message}`);
      form.classList.remove("waiting");
    });
  };
  if (form) {
    // Enter in the note would submit with the first button (confirm): a note is never a verdict
    $("note").addEventListener("keydown", (e) => { if (e.key === "Enter") e.preventDefault(); });
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const button = e.submitter;
      if (!button || button.name !== "action" || unsaved) return;
      const data = new FormData(form);
      data.set("action", button.value);
      if (button.value === "dismiss" && !form.querySelector("input[name=reason]:checked")) {
        $("dismiss-reasons").classList.add("need");
        say(form.dataset.needReason);
        return;
      }
      if (button.value !== "dismiss") data.delete("reason");
      if (form.dataset.status !== "open" && !window.confirm(form.dataset.askChange)) return;
      give(data);
    });
  }
  const undoLast = () => { const b = $("undo-notice-btn"); if (b) b.click(); };

  // ---- keyboard -----------------------------------------------------------------------------
  const shortcuts = $("shortcuts-on");
  if (shortcuts) {
    shortcuts.checked = store.get("rxaudit.shortcuts", true);
    shortcuts.addEventListener("change", () => store.set("rxaudit.shortcuts", shortcuts.checked));
  }
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.target.closest("input[type=text],input:not([type]),select,textarea")) return;
    if (e.key === "Escape") { closeZoom(); return; }
    if (shortcuts && !shortcuts.checked) return;
    const click = (id) => { const b = $(id); if (b) { e.preventDefault(); b.click(); } };
    if (e.key === "c") click("btn-confirm");
    else if (e.key === "e") click("btn-escalate");
    else if (e.key === "d") click("btn-dismiss");
    else if (e.key === "u") { e.preventDefault(); undoLast(); }
    else if (/^[1-4]$/.test(e.key) && form) {
      const radio = form.querySelectorAll("input[name=reason]")[parseInt(e.key, 10) - 1];
      if (radio) { radio.checked = true; click("btn-dismiss"); }
    } else if (e.key === "j") click("next");
    else if (e.key === "k") click("prev");
    else if (e.key === "z") { e.preventDefault(); openZoom(document.querySelector("#strip img,#strip canvas[data-ready]")); }
    else if (player && player.playerKeys && player.playerKeys[e.key] && !e.target.closest("button")) {
      e.preventDefault(); player.playerKeys[e.key]();
    }
  });
})();
