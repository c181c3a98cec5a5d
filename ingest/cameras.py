"""``cameras.yaml``: per pharmacy and counter, the customer zone, clock offset and business hours.

    defaults:                      # optional, applies where a pharmacy or counter says nothing
      zone: [[0, 0], [0.6, 0], [0.6, 1], [0, 1]]   # also for a counter listed without its own zone
      business_hours: "08:00-21:00"
      timezone: Asia/Shanghai
    pharmacies:
      PH001:
        business_hours: "08:30-20:00"
        counters:
          C1:
            zone: [[0, 0], [0.62, 0], [0.62, 1], [0, 1]]   # relative polygon, customer side
            goods_zone: [[0, 0.7], [1, 0.7], [1, 1], [0, 1]]  # the counter top: goods counted here
            display_zone: [[0.7, 0.8], [1, 0.8], [1, 1], [0.7, 1]]  # goods on display (a glass top): never counted
            clock_offset_s: 3.5                             # camera clock minus true time (|s| <= a day)
            clock_uncertainty_s: 1.0                        # how far it may still be off
            stream: rtsp://10.1.2.3:554/Streaming/Channels/102  # what `rxaudit record` records
            credentials: PH001_NVR     # user:password from $RXAUDIT_CAMERA_PH001_NVR or the secrets file

Strict: an unknown key is an error that names it.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from ingest.csv_reader import AUTO, read_text
from rxaudit.errors import ConfigError, InputError
from rxaudit.settings import format_validation_error

WHOLE_FRAME = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))
# the largest clock offset a counter may have: a day. Not the setting clock_max_offset_s (the reach of
# the clock-health search, 120 s by default): a camera left on another time zone is hours off and a
# confirmed offset is how it is corrected, and this file is read without the settings. Further than
# a day is a wrong date, not a clock offset (and 1e300 s overflows every datetime).
MAX_CLOCK_OFFSET_S = 86400.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _parse_hours(value: str) -> tuple[time, time]:
    try:
        start, end = (time.fromisoformat(part.strip()) for part in value.split("-"))
    except ValueError as exc:
        raise ValueError(f"business_hours {value!r} must look like '08:00-21:00'") from exc
    return start, end


def _check_hours(value: str) -> str:
    _parse_hours(value)
    return value


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {value!r}") from exc
    return value


def _check_zone(value: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
    if len(value) < 3:
        raise ValueError("zone needs at least 3 points")
    if any(not (0 <= x <= 1 and 0 <= y <= 1) for x, y in value):
        raise ValueError("zone points are relative coordinates in [0, 1]")
    return value


def _check_crop(value: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    x, y, w, h = value
    if x < 0 or y < 0 or w < 8 or h < 8:
        raise ValueError("osd_crop is [x, y, width, height] in pixels: x, y >= 0, width and height >= 8")
    return value


STREAM_SCHEMES = ("rtsp", "rtsps", "http", "https")  # RTSP cameras and NVRs; HTTP-FLV from a media server
_STREAM = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#]*)")
_CREDENTIAL_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")


def _check_stream(value: str) -> str:
    """Never echoes the value: a URL may carry a password."""
    match = _STREAM.match(value)
    if not match or match["scheme"].lower() not in STREAM_SCHEMES:
        raise ValueError(f"stream must be a URL with scheme {', '.join(STREAM_SCHEMES)}")
    if "@" in value:  # user:password@ (a password with an unescaped / would end the authority early)
        raise ValueError("stream must not carry credentials: name them with credentials: NAME "
                         "(user:password from $RXAUDIT_CAMERA_NAME or the secrets file)")
    if not match["authority"] or any(c.isspace() or ord(c) < 32 for c in value):
        raise ValueError("stream needs a host and no blanks or control characters")
    return value


def _check_credential_name(value: str) -> str:
    if not _CREDENTIAL_NAME.match(value):
        raise ValueError("credentials is a name (letters, digits, _; at most 64), not the secret itself")
    return value


StreamUrl = Annotated[str, AfterValidator(_check_stream)]
CredentialName = Annotated[str, AfterValidator(_check_credential_name)]
Hours = Annotated[str, AfterValidator(_check_hours)]
OsdCrop = Annotated[tuple[int, int, int, int], AfterValidator(_check_crop)]
TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]
Zone = Annotated[tuple[tuple[float, float], ...], AfterValidator(_check_zone)]


class CounterConfig(_Strict):
    zone: Zone = WHOLE_FRAME
    goods_zone: Zone = WHOLE_FRAME  # where goods and cards are counted (not shelves, not the OSD)
    display_zone: Zone | None = None  # the pharmacy's own goods on display (under a glass counter top)
    clock_offset_s: float = Field(default=0.0, ge=-MAX_CLOCK_OFFSET_S, le=MAX_CLOCK_OFFSET_S,
                                  allow_inf_nan=False)
    # how far the camera clock may still be off after the offset: a customer this close to a swipe
    # counts as present (None: the setting presence_tolerance_s)
    clock_uncertainty_s: float | None = Field(default=None, ge=0, le=600)
    # where the camera burns in its clock (pixels x, y, width, height), read as an independent check
    # of the segment timeline by `rxaudit clocks` (digits in year-month-day hour:minute:second order)
    osd_crop: OsdCrop | None = None
    # the live stream `rxaudit record` records (credentials never here: a name looked up elsewhere)
    stream: StreamUrl | None = None
    credentials: CredentialName | None = None


class PharmacyConfig(_Strict):
    business_hours: Hours | None = None
    timezone: TimeZoneName | None = None
    counters: dict[str, CounterConfig] = Field(default_factory=dict)


class Defaults(_Strict):
    business_hours: Hours = "08:00-21:00"
    timezone: TimeZoneName = "Asia/Shanghai"
    zone: Zone = WHOLE_FRAME
    goods_zone: Zone = WHOLE_FRAME
    display_zone: Zone | None = None


ZONE_FIELDS = ("zone", "goods_zone", "display_zone")


class CamerasConfig(_Strict):
    defaults: Defaults = Field(default_factory=Defaults)
    pharmacies: dict[str, PharmacyConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _counters_inherit_zones(self) -> CamerasConfig:
        """A counter listed only for its stream or clock takes the defaults' zones where it names none
        (else its customer zone would be the whole frame, the cashier a customer, and 空刷 missed)."""
        pharmacies = {}
        for pid, pharmacy in self.pharmacies.items():
            counters = {cid: _with_default_zones(c, self.defaults) for cid, c in pharmacy.counters.items()}
            pharmacies[pid] = pharmacy.model_copy(update={"counters": counters})
        return self.model_copy(update={"pharmacies": pharmacies}) if pharmacies else self

    def counter(self, pharmacy_id: str, counter_id: str) -> CounterConfig:
        pharmacy = self.pharmacies.get(pharmacy_id)
        if pharmacy and counter_id in pharmacy.counters:
            return pharmacy.counters[counter_id]
        return CounterConfig(zone=self.defaults.zone, goods_zone=self.defaults.goods_zone,
                             display_zone=self.defaults.display_zone)

    def camera_time(self, pharmacy_id: str, counter_id: str, t: datetime) -> datetime:
        """The one place where a camera's clock offset is applied: true time -> camera time."""
        offset = self.counter(pharmacy_id, counter_id).clock_offset_s
        return t + timedelta(seconds=offset)

    def clock_uncertainty(self, pharmacy_id: str, counter_id: str, default: float) -> float:
        """Seconds a customer may be from a swipe and still count as present at it."""
        value = self.counter(pharmacy_id, counter_id).clock_uncertainty_s
        return default if value is None else value

    def business_hours(self, pharmacy_id: str) -> tuple[time, time, ZoneInfo]:
        pharmacy = self.pharmacies.get(pharmacy_id)
        hours = (pharmacy and pharmacy.business_hours) or self.defaults.business_hours
        tz = (pharmacy and pharmacy.timezone) or self.defaults.timezone
        start, end = _parse_hours(hours)
        return start, end, ZoneInfo(tz)


def _with_default_zones(counter: CounterConfig, defaults: Defaults) -> CounterConfig:
    missing = {name: getattr(defaults, name) for name in ZONE_FIELDS if name not in counter.model_fields_set}
    return counter.model_copy(update=missing) if missing else counter


def read_yaml(path: Path, what: str, encoding: str = AUTO, *, detail: bool = True) -> Any:
    """A YAML file's data (None for an empty file) read as every input is (UTF-8 with or without BOM,
    or GB18030; or ``encoding``); ConfigError naming ``what`` when it cannot be read or parsed.
    ``detail=False`` leaves the parser's message out (it quotes the file: a secrets file's values)."""
    try:
        return yaml.safe_load(read_text(Path(path), encoding))
    except InputError as exc:
        raise ConfigError(f"cannot read {what}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: cannot read {what}" + (f": {exc}" if detail else "")) from exc


def load_cameras(path: Path | None, encoding: str = AUTO) -> CamerasConfig:
    """``encoding``: as for every input (UTF-8 with or without BOM, or GB18030; or named)."""
    if path is None:
        return CamerasConfig()
    data = read_yaml(path, "camera configuration", encoding) or {}
    try:
        return CamerasConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, str(path))) from exc
