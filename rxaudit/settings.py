"""One strict settings model for the whole application.

Values come from (highest first) explicit keyword arguments, an optional YAML file (``--config``),
environment variables prefixed ``RXAUDIT_``, and a ``.env`` file in the working directory. Unknown keys
are errors that name the key. Nothing is built at import time: call :func:`load_settings`.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (AwareDatetime, Field, SecretStr, ValidationError, field_validator,
                      model_validator)
from pydantic_settings import BaseSettings, SettingsConfigDict

from rxaudit.domain import FlagKind
from rxaudit.encodings import check_encoding
from rxaudit.errors import ConfigError
from rxaudit.timezones import zone

MODELS_DIR = Path(__file__).resolve().parent.parent / "vision" / "models"
# per-visit face distance that merges no two people on real clips (`rxaudit calibrate-faces`)
ENCODER_THRESHOLDS = {"dlib": 0.28, "sface": 0.89}
DEFAULT_FACE_ENCODER = "sface"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RXAUDIT_", env_file=".env", extra="forbid", frozen=True
    )

    db_url: str = "sqlite:///rxaudit.db"
    card_hash_key: SecretStr = Field(
        default=SecretStr(""), description="HMAC key for card ids; required to ingest a log"
    )
    evidence_dir: Path = Path("evidence")
    snapshot_dir: Path | None = Field(default=None, description="the recorder's latest picture per counter "
                                      "(<pharmacy>/<counter>.jpg) for the wall; default: snapshots/ in evidence_dir")

    # Models
    pose_model: Path = MODELS_DIR / "yolo11n-pose.onnx"
    pose_input_size: int = Field(default=320, ge=160, le=1280)
    pose_runtime: Literal["openvino", "onnxruntime"] = Field(
        default="openvino", description="openvino: bfloat16 where the CPU has it (AMX, AVX-512 BF16), "
        "half the cost, same detections (vision/models/PROVENANCE.md); onnxruntime: float32")
    person_min_score: float = Field(default=0.4, gt=0, lt=1)
    onnx_threads: int = Field(default=1, ge=1, le=64)
    face_detector: Literal["yunet", "hog"] = Field(default="yunet", description="yunet finds faces "
                                                   "from ~10 px; dlib's hog misses those under ~40 px")
    face_encoder: Literal["dlib", "sface"] = Field(default=DEFAULT_FACE_ENCODER,
                                                   description="sface needs face_detector: yunet")
    face_detector_model: Path = MODELS_DIR / "yunet-2023mar.onnx"
    face_encoder_model: Path = MODELS_DIR / "sface-2021dec.onnx"
    face_min_score: float = Field(default=0.6, gt=0, lt=1, description="yunet face score")
    face_upsample: int = Field(default=1, ge=0, le=3, description="hog only")
    faces_per_visit: int = Field(default=3, ge=1, le=50)
    face_min_count: int = Field(default=2, ge=1, le=50)
    face_max_attempts: int = Field(default=4, ge=1, le=100, description="face tries per track")
    face_every_n: int = Field(default=1, ge=1, le=50, description="try faces on every n-th frame")
    face_distance_threshold: float = Field(
        default=ENCODER_THRESHOLDS[DEFAULT_FACE_ENCODER], gt=0, lt=2,
        description="per-visit identity distance (default: the encoder's); `rxaudit calibrate-faces` "
        "measures it on real footage"
    )
    face_retention_days: int = Field(default=90, ge=0)
    object_model: Path = MODELS_DIR / "counter-objects.onnx"
    detect_objects: bool = Field(default=True, description="run the card/goods detector near swipes")
    object_min_score: float = Field(default=0.35, gt=0, lt=1, description="detections kept as evidence")
    goods_head: bool = Field(default=False, description="a second opinion on each non-covered reading: "
                             "is the crop drug packaging? (vision.goods_head; disagreement is goods_unclear; "
                             "off by default: it also turns some rendered goods swaps into goods_unclear, "
                             "vision/models/PROVENANCE.md)")
    goods_head_features: Path = MODELS_DIR / "goods-crop-features.onnx"
    goods_head_model: Path = MODELS_DIR / "goods-crop-head.json"
    goods_head_drug_score: float = Field(default=0.5, gt=0, lt=1, description="the goods head's P(drug) "
                                         "from which a non-covered reading is read as a drug")
    goods_head_strict: bool = Field(default=False, description="also contest a non-covered reading the "
                                    "head is unsure of (P(drug) from the head file's accuse_below, fixed on "
                                    "rendered drugs): fewer accusations on real drug boxes, and fewer "
                                    "goods_mismatch on drug-like goods (vision/models/PROVENANCE.md)")

    # Sampling and presence
    sample_fps: float = Field(default=1.0, gt=0, le=1000, description="1000: every frame (naive)")
    keyframes_only: bool = Field(default=True, description="decode keyframes only when they are dense enough")
    merge_windows: bool = Field(default=True, description="decode overlapping windows once")
    bridge_gap_s: float = Field(default=60.0, ge=0, description="decode the gap between windows of "
                                "one counter closer than this, so a customer's stay is one track")
    motion_threshold: float = Field(
        default=3.0, ge=0, description="mean abs grey difference (0-255) under which a frame reuses "
        "the last detections; 0 runs the detector on every sampled frame")
    motion_max_reuse_s: float = Field(default=3.0, ge=0)
    far_detect_every_s: float = Field(default=6.0, ge=0, description="farther than the clock tolerance "
                                      "from every swipe, the person detector runs at most this often "
                                      "while a customer stands in the zone (their track must carry on "
                                      "to the next swipe); 0 runs it on every sampled frame")
    far_idle_every_s: float = Field(default=12.0, ge=0, description="as far_detect_every_s, while nobody "
                                    "stood in the customer zone at the last frame (only an arrival is "
                                    "awaited, and one near a swipe is seen there at the full rate)")
    window_before_s: float = Field(default=12.0, ge=0)
    window_after_s: float = Field(default=6.0, ge=0)
    dense_fps: float = Field(default=4.0, gt=0, le=1000, description="frames per second decoded within "
                             "dense_window_s of each swipe (1000: every frame)")
    dense_window_s: float = Field(default=3.0, ge=0, description="decode densely this close to a swipe")
    presence_tolerance_s: float = Field(
        default=1.0, ge=0, description="camera clock uncertainty: a customer this close to the swipe "
        "counts as present; cameras.yaml clock_uncertainty_s overrides it per counter")
    min_coverage: float = Field(default=0.8, gt=0, le=1)
    track_max_gap_s: float = Field(default=2.0, gt=0)
    track_min_iou: float = Field(default=0.2, gt=0, lt=1)

    # Rules
    pooling_min_cards: int = Field(default=3, ge=2)
    pooling_period_days: int = Field(default=30, ge=1)
    burst_min_cards: int = Field(default=6, ge=2)
    burst_window_s: float = Field(default=300.0, gt=0)
    duplicate_window_s: float = Field(default=120.0, gt=0)
    item_catalogue: Path | None = Field(
        default=None, description="CSV item_code -> covered/other; default item_catalogue.csv beside the log")
    # Live audit (rxaudit live, audit/live.py)
    live_max_wait_s: float = Field(default=300.0, ge=0, description="a settlement whose footage is not in "
                                   "the store this long after it was due is unverifiable (footage not recorded)")
    live_lease_s: float = Field(default=120.0, gt=0, description="a claim lasts this long unless renewed; "
                                "a worker killed mid-settlement leaves it to be claimed again after this")
    live_poll_s: float = Field(default=1.0, gt=0, le=60, description="how often an idle worker looks for due rows")
    live_batch: int = Field(default=4, ge=1, le=100, description="rows one claim takes at most")
    live_lane_s: float = Field(default=120.0, gt=0, description="rows due within this of now are the live "
                               "lane; older ones the backlog")
    live_backlog_share: float = Field(default=0.25, ge=0, le=1, description="share of the rows claimed that "
                                      "go to the backlog, oldest first, while live rows wait")
    live_max_attempts: int = Field(default=3, ge=1, le=20, description="claims of one settlement before it "
                                   "is finished as unverifiable with the reason")
    live_chain_s: float = Field(default=120.0, ge=0, description="a settlement's footage is decoded with its "
                                "counter's stored swipes whose windows join its own, this far back and ahead "
                                "at most (batch decodes the whole joined span: live sees a customer staying "
                                "longer than this as batch does only from here; CPU grows with it)")
    live_memo_frames: int = Field(default=4096, ge=0, le=100_000, description="the live worker's models "
                                  "remember their answers on this many recent frames each (a frame decoded again "
                                  "with a neighbouring swipe is not detected again; 0: off)")
    # Ingest (every CSV input; see ingest/csv_reader.py)
    input_encoding: str = Field(default="auto", description="'auto' (UTF-8 with or without BOM, "
                                "else GB18030) or a codec name such as gb18030; --encoding")
    input_timezone: str | None = Field(
        default="Asia/Shanghai", description="the zone of times written without a UTC offset (the "
        "local time of a Chinese HIS export, an .xlsx date cell); empty: such times are rejected rows")
    settled_at_min: AwareDatetime = Field(default=datetime(2000, 1, 1, tzinfo=UTC),
                                          description="earlier settled_at values are rejected rows")
    settled_at_max: AwareDatetime = Field(default=datetime(2100, 1, 1, tzinfo=UTC),
                                          description="settled_at values from here on are rejected rows")
    goods_window_s: float = Field(default=1.5, ge=0, description="base frames this close to a swipe "
                                  "are searched for cards and goods (default: the frames that decide "
                                  "presence at a 1 s clock tolerance, at 1 fps)")
    goods_min_score: float = Field(default=0.8, gt=0, lt=1, description="detections a rule counts: "
                                   "calibrated confidence (the share right on unseen renders) per class")
    goods_min_frames: int = Field(default=2, ge=1, description="a count must hold in this many frames")
    goods_excess_margin: int = Field(default=2, ge=1, description="goods seen beyond the billed "
                                     "quantity by this many raise goods_mismatch")
    goods_min_share: float = Field(default=0.5, ge=0, le=1, description="goods_mismatch accuses only "
                                   "on a non-covered reading held in this share of the frames checked")
    goods_rival_min_score: float = Field(default=0.5, gt=0, le=1, description="a drug reading of the "
                                         "same object at this calibrated score (the box's runner-up "
                                         "class, or a drug box over it) makes a non-covered reading "
                                         "indecisive: goods_unclear, never goods_mismatch")
    goods_review_min_score: float = Field(default=0.5, gt=0, le=1, description="goods that may be "
                                          "non-covered at this calibrated score, beyond the bill but "
                                          "not decisive, raise goods_unclear (for review)")
    goods_still_iou: float = Field(default=0.5, gt=0, le=1, description="goods over goods seen before "
                                   "the customer arrived by this IoU were lying there already")
    goods_arrival_lookback_s: float = Field(default=12.0, ge=0, le=120, description="the counter is "
                                            "looked at this long before each window, and a customer-free "
                                            "frame this close before a customer's arrival shows what "
                                            "lay there before (0: off)")
    column_map: Path | None = Field(
        default=None, description="YAML 'exported header: column' entries added to the built-in "
        "Chinese/English column map (ingest.header_map)")
    travel_speed_kmh: float = Field(default=60.0, gt=0, description="card_conflict: how fast a card "
                                    "holder can get from one pharmacy to another")
    card_conflict_min_gap_s: float = Field(default=600.0, ge=0, description="one card at two "
                                           "pharmacies closer than this is a conflict, coordinates or not")
    card_conflict_counter_gap_s: float = Field(default=60.0, ge=0, description="one card at two "
                                               "counters of a pharmacy closer than this")

    # Clock health (a diagnostic: never changes the offset used; see reconcile/clock_health.py)
    clock_max_offset_s: float = Field(default=120.0, gt=0, le=3600, description="offsets searched: "
                                      "configured +- this")
    clock_tolerance_s: float = Field(default=1.0, ge=0, description="a customer this close to the "
                                     "shifted swipe counts as present")
    clock_min_swipes: int = Field(default=6, ge=2, description="fewer swipes with footage: insufficient")
    clock_suspect_offset_s: float = Field(default=20.0, gt=0, description="a best fit farther than this "
                                          "from the configured offset can make a counter suspect")
    clock_min_gain: float = Field(default=0.3, gt=0, le=1, description="agreement gained at the best fit")
    clock_min_agreement: float = Field(default=0.8, gt=0, le=1)
    clock_max_chance: float = Field(default=0.01, gt=0, lt=1, description="a best fit more likely "
                                    "than this to be a chance maximum never makes a counter suspect")
    clock_suspect_score_factor: float = Field(default=0.5, ge=0, le=1, description="no_customer "
                                              "scores on a suspect counter are multiplied by this")

    # Video store (s3:// and https:// through fsspec; credentials from the standard AWS_* variables)
    s3_endpoint_url: str | None = None
    store_block_size: int = Field(default=512 * 1024, ge=16 * 1024)
    store_retries: int = Field(default=3, ge=0, le=10)

    # Review UI and wall API
    display_timezone: str = "Asia/Shanghai"
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    cookie_secure: bool = Field(default=False, description="set true behind HTTPS")
    login_max_failures: int = Field(default=5, ge=1)
    login_window_s: float = Field(default=300.0, gt=0)
    login_max_failures_per_address: int = Field(
        default=30, ge=1, description="failed sign-ins from one address, whatever the names, in the window")
    trusted_proxies: list[str] = Field(
        default_factory=list, description="addresses or networks (CIDR) of reverse proxies whose "
        "X-Forwarded-For is believed; empty: the peer address is the client")
    sse_poll_s: float = Field(default=2.0, gt=0)
    clip_before_s: float = Field(default=10.0, ge=0)
    clip_after_s: float = Field(default=10.0, gt=0)
    footfall_alert_ratio: float = Field(default=3.0, gt=1)
    footfall_alert_min_swipes: int = Field(default=20, ge=1)
    cors_origins: list[str] = Field(
        default_factory=list, description="origins (scheme://host[:port]) whose pages may call the "
        "wall API and fetch evidence from a browser (CORS, no cookies); empty: CORS off")
    stream_token_ttl_s: int = Field(default=300, ge=10, le=300, description="lifetime of a stream "
                                    "token (POST /api/v1/stream-tokens), at most 5 minutes")

    # Live ingest (POST /api/v1/settlements, rxaudit pull): bounds of one request, when footage is due
    ingest_max_bytes: int = Field(default=16 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024,
                                  description="bytes of one POST /api/v1/settlements body, and of its "
                                  "JSON after gzip decompression (a larger one: 413, nothing stored)")
    ingest_max_records: int = Field(default=5000, ge=1, le=100_000, description="settlements in one "
                                    "POST /api/v1/settlements or one JetStream message (more: 413)")
    live_segment_s: float = Field(default=10.0, gt=0, le=600, description="the recorder's segment "
                                  "length: a live settlement's footage is due at settled_at + "
                                  "window_after_s + this (live_settlements.due_at)")

    # Case files (api/case_file.py, rxaudit/case_seal.py): the bureau's Ed25519 key signs SHA256SUMS
    case_signing_key_file: Path | None = Field(default=None, description="PEM file of the bureau's "
                                               "Ed25519 private key (`rxaudit case-key generate`)")
    case_signing_key: SecretStr = Field(default=SecretStr(""), description="the PEM itself (e.g. "
                                        "RXAUDIT_CASE_SIGNING_KEY), instead of the file; never logged")
    case_two_reviewer_kinds: list[str] = Field(
        default_factory=lambda: ["no_customer", "card_pooling", "goods_mismatch"],
        description="flag kinds whose case file needs a second reviewer's confirmation (else it says "
        "it awaits one)")
    verdict_undo_s: float = Field(default=120.0, gt=0, le=3600, description="a reviewer may undo a "
                                  "verdict (one flag or a cluster) this long; the next page offers it")
    bulk_undo_s: float = Field(default=1800.0, gt=0, le=7 * 24 * 3600, description="the author of a "
                               "bulk verdict may undo it this long (from the queue)")
    view_log_window_s: float = Field(default=600.0, ge=0, description="viewing a flag's evidence is "
                                     "recorded in the audit log once per person, flag and item in this window")

    @model_validator(mode="before")
    @classmethod
    def _face_threshold_per_encoder(cls, data: Any) -> Any:
        """Unset face_distance_threshold: the measured one of the configured face_encoder."""
        if isinstance(data, dict) and data.get("face_distance_threshold") is None:
            encoder = data.get("face_encoder", DEFAULT_FACE_ENCODER)
            if encoder in ENCODER_THRESHOLDS:
                data = {**data, "face_distance_threshold": ENCODER_THRESHOLDS[encoder]}
        return data

    @field_validator("db_url")
    @classmethod
    def _db_url_scheme(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("db_url must be a sqlite:// or postgresql:// URL")
        return value

    @field_validator("input_encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        return check_encoding(value)

    @field_validator("input_timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        zone(value or None)
        return value or None

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        import re

        for item in value:
            if not re.fullmatch(r"https?://[A-Za-z0-9.\-\[\]:]+", item) or item.endswith("/"):
                raise ValueError(f"{item!r} is not an origin (scheme://host[:port], no path, no '*')")
        return value

    @field_validator("case_two_reviewer_kinds")
    @classmethod
    def _known_kinds(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - {str(k) for k in FlagKind})
        if unknown:
            raise ValueError(f"unknown flag kind(s) {', '.join(unknown)}")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item, strict=False)  # ValueError names the bad entry
        return value

    @property
    def snapshots(self) -> Path:
        """Where ``rxaudit record`` writes each counter's latest picture and the API reads it."""
        return self.snapshot_dir if self.snapshot_dir is not None else self.evidence_dir / "snapshots"

    def require_card_key(self) -> bytes:
        key = self.card_hash_key.get_secret_value()
        if len(key) < 16:
            raise ConfigError(
                "card_hash_key: set RXAUDIT_CARD_HASH_KEY (at least 16 characters) to hash card ids"
            )
        return key.encode()


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from a YAML file, the environment and overrides; errors name the bad key."""
    data: dict[str, Any] = {}
    if config_file is not None:
        try:
            loaded = yaml.safe_load(Path(config_file).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{config_file}: cannot read settings: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"{config_file}: settings must be a mapping of key: value")
        data.update(loaded)
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, str(config_file or "settings"))) from exc


def format_validation_error(exc: ValidationError, source: str) -> str:
    parts = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(root)"
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        parts.append(f"{key}: {msg}")
    return f"{source}: " + "; ".join(parts)
