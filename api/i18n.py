"""The review UI's languages: gettext catalogs (``api/locale/<lang>/LC_MESSAGES/messages.po``, compiled
to ``.mo``), the locale each request gets, and the one date/time format of every page.

Chinese (zh_CN) is the default for a browser that asks for it, English for the rest; the cookie
``rxaudit_lang`` (set by ``/lang/<code>``) overrides the browser. The msgids are the English texts,
so English needs no catalog. Templates use ``{% trans %}`` / ``_()`` (Jinja2's i18n extension with
new-style gettext: ``%(name)s`` placeholders, autoescaped); Python code marks its texts with ``N_``
and translates them at render time with :func:`gettext_for`.

To change a text: edit the template or module, then ``make locale`` (extract, update, compile), fill
the msgstr in ``api/locale/zh_CN/LC_MESSAGES/messages.po`` and compile again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel import negotiate_locale
from jinja2 import Environment, pass_context
from starlette.requests import Request

from api.catalogs import DEFAULT, LANGS, LOCALE_DIR, N_, gettext_for, translations  # noqa: F401 - re-exported
from api.reasons import install_filters
from api.timefmt import duration_filter, localize
from rxaudit.bounds import clipped_json

COOKIE = "rxaudit_lang"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def pick_lang(cookie: str | None, accept_language: str | None) -> str:
    """The cookie's choice when it names a known language, else the browser's first acceptable one
    (q-values honoured; ``zh``, ``zh-CN``, ``zh-Hans`` all mean zh_CN), else English."""
    if cookie in LANGS:
        return cookie
    wanted = []
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if tag and q > 0:
            wanted.append((q, tag.strip()))
    wanted.sort(key=lambda qt: -qt[0])  # stable: equal q keeps the browser's order
    for _, tag in wanted:
        lowered = tag.replace("-", "_").lower()
        if lowered == "zh" or lowered.startswith(("zh_cn", "zh_hans", "zh_sg")):
            return "zh_CN"
        found = negotiate_locale([tag.replace("-", "_")], ["en"], sep="_")
        if found or lowered.startswith("en"):
            return "en"
    return DEFAULT


def request_lang(request: Request) -> str:
    return pick_lang(request.cookies.get(COOKIE), request.headers.get("accept-language"))


def local_time(value: datetime | str | None, tz: ZoneInfo) -> str:
    """The one date/time convention of the pages: ``YYYY-MM-DD HH:MM:SS`` in the pharmacy's zone
    (the zone itself is named once per page, see :func:`zone_label`)."""
    if value is None or value == "":
        return "—"
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is None:
        raise ValueError(f"naive datetime {when!r}: times are stored aware (UTC)")
    return when.astimezone(tz).strftime(TIME_FORMAT)


def zone_label(tz: ZoneInfo) -> str:
    offset = datetime.now(tz).strftime("%z")
    return f"{tz.key} (UTC{offset[:3]}:{offset[3:]})"


def context(request: Request) -> dict[str, Any]:
    """Every page's language, its switch and its zone (a Jinja2Templates context processor)."""
    lang = request_lang(request)
    tz = request.app.state.tz
    return {"lang": lang, "html_lang": lang.replace("_", "-"), "langs": LANGS, "zone": zone_label(tz)}


@pass_context
def _gettext(ctx, message: str) -> str:
    return gettext_for(ctx.get("lang", DEFAULT))(message)


@pass_context
def _ngettext(ctx, singular: str, plural: str, n: int) -> str:
    return translations(ctx.get("lang", DEFAULT)).ngettext(singular, plural, n)


def install(env: Environment, tz: ZoneInfo) -> None:
    """Jinja2's i18n extension, translating in each page's own language; the ``localtime`` filter."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["localtime"] = lambda value: local_time(value, tz)
    # stored JSON (what the camera saw) with its times in the same convention
    env.filters["localize_json"] = lambda value: localize(value, tz, local_time)
    env.filters["duration"] = duration_filter  # "45 s", "3 min 20 s" in the page's language
    env.filters["clipped"] = clipped_json  # stored text and lists within rxaudit.bounds' caps, however old
    install_filters(env)
