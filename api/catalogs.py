"""The review UI's gettext catalogs (``api/locale/<lang>/LC_MESSAGES/messages.po``, compiled to
``.mo``): the languages, the ``N_`` marker and the translation of a text into one language. Below
``api.i18n`` (pages, requests) and ``api.reasons`` (flag reasons), which both translate with it."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGS = {"zh_CN": "中文", "en": "English"}  # code -> the name shown on the switch, in its own language
DEFAULT = "en"


def N_(message: str) -> str:  # noqa: N802 - the gettext convention: marks a text for extraction
    return message


@cache
def translations(lang: str) -> NullTranslations:
    if lang == "en":
        return NullTranslations()
    return Translations.load(str(LOCALE_DIR), [lang], domain="messages")


def gettext_for(lang: str) -> Callable[[str], str]:
    return translations(lang if lang in LANGS else DEFAULT).gettext
