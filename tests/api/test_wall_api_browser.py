"""A wall page on another origin, in a real browser (Debian chromium via Playwright): it reads
``/api/v1/flags`` with CORS and an API key, gets a stream token, follows the live feed with a plain
``EventSource`` (flags and verdicts) and shows a keyframe through a token URL. A page on an origin
that is not allowlisted gets nothing."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from api.app import create_app
from rxaudit.security import VerdictAction
from tests.api.conftest import free_port, running
from tests.api.test_case_file import judge

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>wall elsewhere</title></head><body>
<script>
const API = %(api)s, KEY = %(key)s;
window.result = {events: [], verdicts: []};
(async () => {
  try {
    const r = await fetch(API + "/api/v1/flags?page_size=100", {headers: {Authorization: "Bearer " + KEY}});
    const page = await r.json();
    result.flags = page.items.map(f => f.settlement_id).sort();
    const t = await (await fetch(API + "/api/v1/stream-tokens",
                                 {method: "POST", headers: {Authorization: "Bearer " + KEY}})).json();
    const flag = page.items.find(f => f.keyframe_urls.length);
    const img = new Image();
    img.onload = () => { result.img = img.naturalWidth; };
    img.onerror = () => { result.img = -1; };
    img.src = API + flag.keyframe_urls[0] + "?token=" + encodeURIComponent(t.token);
    const es = new EventSource(API + "/api/v1/events?after_id=0&token=" + encodeURIComponent(t.token));
    es.onopen = () => { result.open = true; };
    es.addEventListener("flag", e => result.events.push(JSON.parse(e.data).settlement_id));
    es.addEventListener("verdict", e => result.verdicts.push(JSON.parse(e.data)));
  } catch (e) { result.error = String(e); }
})();
</script></body></html>"""


@contextmanager
def page_server(port: int, html: str) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_wall_on_another_origin_reads_the_api_and_the_stream(city, browser):
    allowed, other = free_port(), free_port()
    settings = city.settings.model_copy(update={"cors_origins": [f"http://127.0.0.1:{allowed}"],
                                                "sse_poll_s": 0.1})
    with running(create_app(settings)) as api:
        html = PAGE % {"api": json.dumps(api), "key": json.dumps(city.keys["key_a"])}
        with page_server(allowed, html) as origin:
            page = browser.new_page()
            page.goto(origin + "/")
            page.wait_for_function("window.result.error || (window.result.open && window.result.img "
                                   "&& window.result.events.length >= 2)", timeout=15_000)
            result = page.evaluate("window.result")
            assert "error" not in result, result
            assert result["flags"] == ["A1", "U1"]  # district A only
            assert sorted(result["events"]) == ["A1", "U1"]
            assert result["img"] > 0  # the keyframe, through its token URL
            judge(city, "insp_a", city.flags["A1"], "", VerdictAction.CONFIRM)
            page.wait_for_function("window.result.verdicts.length >= 1", timeout=10_000)
            verdict = page.evaluate("window.result.verdicts[0]")
            assert verdict["flag_id"] == city.flags["A1"] and verdict["review_status"] == "confirmed"
            page.close()
        with page_server(other, html) as elsewhere:  # not on the allowlist: the browser blocks it
            page = browser.new_page()
            page.goto(elsewhere + "/")
            page.wait_for_function("window.result.error", timeout=15_000)
            assert "fetch" in page.evaluate("window.result.error").lower()
            assert page.evaluate("window.result.flags") is None
            page.close()
