// The flag page's customer-zone outline over the player: drawn by the server in the keyframe's
// pixels; once the clip's own size is known it is redrawn in those, so that the outline sits on the
// picture however the player letterboxes it (the SVG's "meet" matches the video's object-fit: contain).
(function () {
  "use strict";
  const svg = document.getElementById("zone-overlay"), video = document.getElementById("clip");
  if (!svg || !video) return;
  let zone;
  try { zone = JSON.parse(svg.dataset.zone); } catch (e) { return; }
  function fit() {
    const w = video.videoWidth, h = video.videoHeight;
    if (!w || !h || !Array.isArray(zone)) return;
    svg.setAttribute("viewBox", "0 0 " + w + " " + h);
    const poly = svg.querySelector("polygon");
    if (poly) poly.setAttribute("points", zone.map((p) => (p[0] * w).toFixed(1) + "," + (p[1] * h).toFixed(1)).join(" "));
  }
  video.addEventListener("loadedmetadata", fit);
  if (video.readyState >= 1) fit();
})();
