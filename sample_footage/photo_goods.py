"""Goods printed and photographed: one renderer for drug packaging and for non-covered goods, so
that the look of a package (real print, fonts, barcodes, gloss, camera) never tells the class.

What differs between the classes is what is printed, as on real shelves: drugs carry a generic name
with a dosage form (片, 胶囊, 颗粒, Tablets, Capsules), a strength, an approval number (国药准字
H/Z/J + 8 digits), an OTC or Rx mark, a maker named 制药 / Pharmaceutical; non-covered goods carry a
food or household name, a net content (净含量, Net Wt), a food licence (SC + 14 digits), food
pictures or product swatches. Both get the same card stock (white, pale or fully coloured), colour
bands, CJK and Latin type, EAN barcodes, box sides, bags, bottles with label paper and blister foil
(drugs only), then the same photographic finish (``photo_finish``): a light gradient, a gloss band,
a slight perspective, print noise. Cards and phones stay with ``sample_footage.goods``.

Fonts: a CJK font and DejaVu where the system has them (``FONTS_CJK``, ``FONTS_LATIN``); without
one, the glyphs are drawn as strokes (boxes of strokes for CJK), which at counter scale (50-150 px
per package) looks the same to a camera.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from sample_footage.goods import Sprite, _saturated

FONTS_CJK = ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
             "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
             "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
FONTS_LATIN = ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
               "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")

DRUG_ZH = ("阿莫西林", "布洛芬", "头孢克肟", "感冒灵", "连花清瘟", "蒙脱石", "奥美拉唑", "氯雷他定", "二甲双胍",
           "硝苯地平", "阿奇霉素", "维生素C", "板蓝根", "藿香正气", "头孢呋辛酯", "氨溴索", "对乙酰氨基酚",
           "甲硝唑", "左氧氟沙星", "阿托伐他汀钙", "复方甘草", "双黄连", "銀翘解毒", "氯沙坦钾", "多潘立酮")
DRUG_FORM_ZH = ("片", "胶囊", "颗粒", "缓释片", "肠溶胶囊", "分散片", "口服溶液", "散", "软膏", "滴眼液")
DRUG_EN = ("Amoxicillin", "Ibuprofen", "Cefixime", "Omeprazole", "Loratadine", "Metformin", "Nifedipine",
           "Azithromycin", "Paracetamol", "Metronidazole", "Levofloxacin", "Atorvastatin", "Ambroxol",
           "Domperidone", "Losartan", "Cetirizine", "Ornidazole", "Diclofenac", "Naproxen", "Aspirin")
DRUG_FORM_EN = ("Tablets", "Capsules", "Film-coated Tablets", "Granules", "Sustained-release Tablets",
                "Enteric Capsules", "Oral Solution", "Film Tablet")
FOOD_ZH = ("薯片", "夹心饼干", "雪饼", "方便面", "巧克力", "口香糖", "牛奶", "酸奶", "果汁", "饮料", "瓜子",
           "牛肉干", "蛋卷", "威化饼干", "果冻", "海苔", "辣条", "咖啡", "绿茶", "矿泉水")
HOUSEHOLD_ZH = ("牙膏", "洗发水", "沐浴露", "护手霜", "面霜", "洗衣液", "纸巾", "湿巾", "洗面奶", "防晒霜")
GOODS_EN = ("Potato Chips", "Cookies", "Crackers", "Chocolate", "Wafers", "Instant Noodles", "Green Tea",
            "Toothpaste", "Shampoo", "Hand Cream", "Body Wash", "Tissues", "Face Cream", "Milk", "Juice")
BRAND_ZH = ("康", "华", "恒", "瑞", "美", "乐", "旺", "福", "新", "同", "仁", "金", "天", "信", "达", "安", "佳", "宝")
SYLLABLES = ("a", "fe", "rin", "do", "lo", "rex", "bi", "te", "ral", "mu", "nol", "ce", "xa", "vi", "zo",
             "ta", "pi", "ko", "lu", "mi", "na", "sen", "tor", "dex")


@lru_cache(maxsize=64)
def _font(kind: str, size: int):
    from PIL import ImageFont

    for path in (FONTS_CJK if kind == "cjk" else FONTS_LATIN):
        if Path(path).is_file():
            return ImageFont.truetype(path, size)
    return None


def _runs(text: str) -> list[tuple[str, bool]]:
    """The text cut into runs of CJK and of other characters."""
    out: list[tuple[str, bool]] = []
    for ch in text:
        cjk = ord(ch) > 0x2E80
        if out and out[-1][1] == cjk:
            out[-1] = (out[-1][0] + ch, cjk)
        else:
            out.append((ch, cjk))
    return out


def _brand(rng: random.Random) -> str:
    word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3)))
    return word.capitalize() if rng.random() < 0.7 else word.upper()


def _digits(rng: random.Random, n: int) -> str:
    return "".join(str(rng.randint(0, 9)) for _ in range(n))


class Printer:
    """Text and marks on an RGB face, with PIL fonts where present (all text drawn at once)."""

    def __init__(self, face: np.ndarray) -> None:
        self.face = face
        self.items: list[tuple[str, tuple[int, int], int, tuple[int, int, int], bool]] = []

    def text(self, text: str, xy: tuple[int, int], size: int, colour: tuple[int, int, int], cjk: bool = False) -> None:
        self.items.append((text, xy, max(6, size), colour, cjk))

    def flush(self) -> np.ndarray:
        from PIL import Image, ImageDraw

        pil = Image.fromarray(self.face)
        draw = ImageDraw.Draw(pil)
        for text, (x, y), size, colour, _ in self.items:
            for run, cjk in _runs(text):  # CJK fonts here lack good Latin and digits: one font per run
                font = _font("cjk" if cjk else "latin", size)
                if font is not None:
                    draw.text((x, y), run, fill=colour, font=font)
                    x += int(draw.textlength(run, font=font))
                else:
                    x = self._strokes(draw, run, x, y, size, colour)
        return np.asarray(pil).copy()

    @staticmethod
    def _strokes(draw, text: str, x: int, y: int, size: int, colour: tuple[int, int, int]) -> int:
        rng = random.Random(text)
        for ch in text:
            w = size if ord(ch) > 0x2E80 else size // 2
            for _ in range(3 if w == size else 2):
                x1, y1 = x + rng.randint(0, w - 1), y + rng.randint(0, size - 1)
                draw.line((x1, y1, x + rng.randint(0, w - 1), y + rng.randint(0, size - 1)), fill=colour,
                          width=max(1, size // 8))
            x += w
        return x


def _barcode(face: np.ndarray, x: int, y: int, w: int, h: int, rng: random.Random) -> None:
    cv2.rectangle(face, (x - 2, y - 2), (x + w + 2, y + h + 2), (255, 255, 255), -1)
    bx = x
    while bx < x + w:
        bar = rng.choice([1, 1, 2, 3])
        if rng.random() < 0.55:
            cv2.rectangle(face, (bx, y), (min(x + w, bx + bar - 1), y + h), (15, 15, 15), -1)
        bx += bar


def _mark(face: np.ndarray, p: Printer, x: int, y: int, size: int, rng: random.Random) -> None:
    """OTC (green 乙类 / red 甲类) oval, or 'Rx' / 处方药 on a red ground."""
    kind = rng.choice(["otc_green", "otc_red", "rx"])
    colour = {"otc_green": (20, 150, 70), "otc_red": (210, 30, 40), "rx": (200, 25, 35)}[kind]
    cv2.ellipse(face, (x + size, y + size // 2), (size, size // 2), 0, 0, 360, colour, -1)
    p.text("OTC" if kind != "rx" else rng.choice(["Rx", "处方药"]), (x + size // 3, y + size // 8),
           int(size * 0.7), (255, 255, 255), cjk=kind == "rx")


def _card(w: int, h: int, rng: random.Random) -> tuple[np.ndarray, tuple[int, int, int], tuple[int, int, int]]:
    """Card stock: white / pale (most drug boxes, many goods) or fully coloured, with a colour band."""
    accent = _saturated(rng)
    if rng.random() < 0.6:
        paper = rng.choice([(248, 248, 246), (244, 244, 238), (236, 242, 250), (250, 246, 238)])
    else:
        paper = tuple(int(c * rng.uniform(0.55, 0.95)) for c in _saturated(rng))
    face = np.empty((h, w, 3), np.uint8)
    face[:] = paper
    style = rng.choice(["band", "diagonal", "corner", "wave", "none"])
    if style == "band":
        y = rng.randint(0, h - h // 4)
        cv2.rectangle(face, (0, y), (w, y + rng.randint(h // 10, h // 4)), accent, -1)
    elif style == "diagonal":
        x = rng.randint(w // 3, w)
        cv2.fillPoly(face, [np.array([(x, 0), (w, 0), (w, h), (x - w // 4, h)], np.int32)], accent)
    elif style == "corner":
        r = rng.randint(h // 3, h)
        cv2.circle(face, (rng.choice([0, w]), rng.choice([0, h])), r, accent, -1)
    elif style == "wave":
        xs = np.arange(w)
        ys = (h * rng.uniform(0.55, 0.8) + np.sin(xs / w * rng.uniform(3, 7)) * h * 0.08).astype(np.int32)
        pts = np.concatenate([np.stack([xs, ys], 1), [[w - 1, h - 1], [0, h - 1]]]).astype(np.int32)
        cv2.fillPoly(face, [pts], accent)
    ink = (20, 30, 60) if sum(paper) > 450 else (250, 250, 250)
    return face, accent, ink


def _drug_lines(rng: random.Random) -> dict[str, str]:
    zh = rng.choice(DRUG_ZH) + rng.choice(DRUG_FORM_ZH)
    en = f"{rng.choice(DRUG_EN)} {rng.choice(DRUG_FORM_EN)}"
    strength = rng.choice([f"{rng.choice([0.1, 0.25, 0.5, 1])}g×{rng.choice([6, 10, 12, 24])}{rng.choice(['片', '粒', '袋'])}",
                           f"{rng.choice([5, 10, 20, 25, 50, 100, 200, 250, 500])} mg",
                           f"{rng.choice([10, 20, 30])} {rng.choice(['Film Tablet', 'Tablets', 'Capsules'])}"])
    return {"title": zh if rng.random() < 0.65 else _brand(rng), "sub": en if rng.random() < 0.7 else zh,
            "line": strength, "code": f"国药准字{rng.choice('HZJS')}{rng.choice(['19', '20'])}{_digits(rng, 6)}",
            "maker": rng.choice(BRAND_ZH) + rng.choice(BRAND_ZH) + rng.choice(["制药有限公司", "药业股份有限公司"])
            if rng.random() < 0.6 else f"{_brand(rng)} Pharmaceutical Co., Ltd."}


def _goods_lines(rng: random.Random) -> dict[str, str]:
    zh = rng.choice(FOOD_ZH + HOUSEHOLD_ZH)
    return {"title": (rng.choice(BRAND_ZH) + rng.choice(BRAND_ZH) + zh) if rng.random() < 0.65 else _brand(rng),
            "sub": rng.choice(GOODS_EN) if rng.random() < 0.6 else zh,
            "line": rng.choice([f"净含量 {rng.choice([45, 70, 100, 120, 250, 500])}{rng.choice(['g', 'ml', '克'])}",
                                f"Net Wt {rng.choice([45, 70, 100, 150])}g", f"{rng.choice([2, 6, 10, 20])}包装"]),
            "code": f"SC{_digits(rng, 14)}" if rng.random() < 0.6 else f"生产日期 2026{_digits(rng, 4)}",
            "maker": rng.choice(BRAND_ZH) + rng.choice(BRAND_ZH) + rng.choice(["食品有限公司", "日化有限公司", "饮料有限公司"])}


def _layout(face: np.ndarray, lines: dict[str, str], accent, ink, rng: random.Random, drug: bool) -> np.ndarray:
    h, w = face.shape[:2]
    p = Printer(face)
    title = lines["title"]
    pale = int(face[0, 0].astype(int).sum()) > 450
    cjk = any(ord(c) > 0x2E80 for c in title)
    size = int(min(h * rng.uniform(0.16, 0.26), w * 0.85 / max(1, len(title)) * (1.0 if cjk else 1.7)))
    x0 = rng.randint(w // 20, w // 8)
    y = int(h * rng.uniform(0.12, 0.3))
    p.text(title, (x0, y), size, accent if rng.random() < 0.4 and pale else ink, cjk=cjk)
    y += int(size * 1.25)
    p.text(lines["sub"], (x0, y), int(size * 0.45), ink, cjk=any(ord(c) > 0x2E80 for c in lines["sub"]))
    y += int(size * 0.6)
    p.text(lines["line"], (x0, y), int(size * 0.5), accent if pale else ink,
           cjk=any(ord(c) > 0x2E80 for c in lines["line"]))
    p.text(lines["code"], (x0, int(h * 0.86)), max(6, int(h * 0.06)), ink, cjk=True)
    p.text(lines["maker"], (x0, int(h * 0.93)), max(6, int(h * 0.05)), ink, cjk=True)
    if drug and rng.random() < 0.8:
        _mark(face, p, w - int(h * 0.3) - 4, 4, int(h * 0.14), rng)
    if not drug:  # food pictures / product swatches
        for _ in range(rng.randint(1, 4)):
            cx, cy = rng.randint(w // 2, w - 4), rng.randint(h // 3, h - 4)
            cv2.ellipse(face, (cx, cy), (rng.randint(h // 10, h // 4), rng.randint(h // 12, h // 5)),
                        rng.randint(0, 180), 0, 360, _saturated(rng), -1)
    elif rng.random() < 0.4:  # a tablet or capsule picture
        cx, cy = rng.randint(w // 2, w - h // 5), rng.randint(h // 2, h - h // 5)
        cv2.ellipse(face, (cx, cy), (h // 8, h // 14), rng.randint(0, 180), 0, 360, (250, 250, 250), -1)
        cv2.ellipse(face, (cx, cy), (h // 8, h // 14), 0, 0, 360, (160, 160, 160), 1)
    if rng.random() < 0.6:
        _barcode(face, w - w // 3 - 4, int(h * 0.62), w // 3, int(h * 0.16), rng)
    return p.flush()


def _box(rng: random.Random, drug: bool) -> Sprite:
    w = rng.randint(220, 340)
    h = int(w * rng.uniform(0.35, 0.75)) if rng.random() < 0.8 else int(w * rng.uniform(1.1, 1.4))
    face, accent, ink = _card(w, h, rng)
    face = _layout(face, _drug_lines(rng) if drug else _goods_lines(rng), accent, ink, rng, drug)
    side = int(h * rng.uniform(0.0, 0.22))  # the carton's top seen from above
    img = np.concatenate([(face[:1].astype(np.float32) * rng.uniform(0.6, 0.85)).astype(np.uint8).repeat(side, 0),
                          face]) if side else face
    return Sprite(img, np.ones(img.shape[:2], np.float32), "photo_drug_box" if drug else "photo_goods_box",
                  "drug" if drug else "non_covered")


def photo_drug_box(rng: random.Random) -> Sprite:
    return _box(rng, True)


def photo_goods_box(rng: random.Random) -> Sprite:
    return _box(rng, False)


def photo_blister(rng: random.Random) -> Sprite:
    """A blister sheet: foil printed with the drug's name, pills under clear bubbles."""
    cols, rows, cell = rng.randint(3, 6), rng.randint(2, 3), rng.randint(36, 48)
    w, h = cols * cell + 20, rows * cell + 40
    foil = np.empty((h, w, 3), np.uint8)
    foil[:] = rng.choice([(205, 205, 210), (190, 195, 205), (220, 212, 190)])
    p = Printer(foil)
    lines = _drug_lines(rng)
    p.text(lines["title"][:8], (8, 4), 16, _saturated(rng), cjk=True)
    foil = p.flush()
    pill = rng.choice([(250, 250, 250), (240, 200, 80), (220, 90, 90), (120, 170, 230)])
    for r in range(rows):
        for c in range(cols):
            cx, cy = 10 + c * cell + cell // 2, 34 + r * cell + cell // 2
            cv2.ellipse(foil, (cx, cy), (cell // 2 - 6, cell // 3), 0, 0, 360, (235, 235, 240), -1)
            cv2.ellipse(foil, (cx, cy), (cell // 2 - 9, cell // 3 - 4), 0, 0, 360, pill, -1)
            cv2.circle(foil, (cx - 5, cy - 4), 3, (255, 255, 255), -1)
    return Sprite(foil, np.ones((h, w), np.float32), "photo_blister", "drug")


def _bottle(rng: random.Random, drug: bool) -> Sprite:
    w, h = rng.randint(90, 120), rng.randint(140, 220)
    body = rng.choice([(245, 245, 245), (150, 85, 30), (235, 235, 225)] if drug else
                      [(200, 225, 240), (240, 240, 240), _saturated(rng), (120, 60, 40)])
    img = np.empty((h, w, 3), np.uint8)
    img[:] = body
    alpha = np.zeros((h, w), np.float32)
    cap = h // 6 if drug else h // 9
    neck = w // 6 if drug else w // 3
    cv2.rectangle(alpha, (neck, 0), (w - 1 - neck, cap), 1.0, -1)
    cv2.rectangle(alpha, (0, cap), (w - 1, h - 1), 1.0, -1)
    cv2.rectangle(img, (neck, 0), (w - 1 - neck, cap), rng.choice([(250, 250, 250), (30, 90, 170), (200, 40, 40)]), -1)
    label_y = cap + h // 8
    label = img[label_y:h - h // 10]
    face, accent, ink = _card(w, label.shape[0], rng)
    img[label_y:h - h // 10] = _layout(face, _drug_lines(rng) if drug else _goods_lines(rng), accent, ink, rng, drug)
    return Sprite(img, alpha, "photo_pill_bottle" if drug else "photo_goods_bottle", "drug" if drug else "non_covered")


def photo_pill_bottle(rng: random.Random) -> Sprite:
    return _bottle(rng, True)


def photo_goods_bottle(rng: random.Random) -> Sprite:
    return _bottle(rng, False)


def photo_goods_bag(rng: random.Random) -> Sprite:
    """A snack bag printed like the boxes: crimped top and bottom, the same type and barcodes."""
    w, h = rng.randint(180, 260), rng.randint(220, 320)
    face, accent, ink = _card(w, h, rng)
    img = _layout(face, _goods_lines(rng), accent, ink, rng, False)
    alpha = np.ones((h, w), np.float32)
    for x in range(0, w, 10):  # serrated crimps
        alpha[:8, x:x + 5] = 0.0
        alpha[h - 8:, x + 5:x + 10] = 0.0
    for _ in range(4):  # crinkles
        x = rng.randint(5, w - 5)
        cv2.line(img, (x, 10), (x + rng.randint(-20, 20), h - 10), tuple(min(255, int(c) + 50) for c in face[h // 2, x]), 2)
    return Sprite(img, alpha, "photo_goods_bag", "non_covered")


def photo_finish(sprite: Sprite, rng: random.Random) -> Sprite:
    """Light falling across the package, a gloss band, print noise and a slight perspective."""
    img = sprite.image.astype(np.float32)
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    theta = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(theta) * xx / w + np.sin(theta) * yy / h)
    img *= (1.0 + rng.uniform(0.05, 0.3) * (ramp - ramp.mean()))[..., None]
    if rng.random() < 0.6:  # gloss: a soft bright band
        phi = rng.uniform(0, np.pi)
        d = np.cos(phi) * xx + np.sin(phi) * yy
        centre = rng.uniform(d.min(), d.max())
        band = np.exp(-((d - centre) / (rng.uniform(0.04, 0.15) * max(w, h))) ** 2)
        img += (band * rng.uniform(40, 120))[..., None]
    img += np.random.default_rng(rng.randrange(1 << 30)).normal(0, rng.uniform(1, 5), img.shape)
    img = np.clip(img, 0, 255).astype(np.uint8)
    alpha = sprite.alpha
    if rng.random() < 0.7:  # the package seen a little from one side
        k = 0.08
        src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        dst = src + np.float32([[rng.uniform(-k, k) * w, rng.uniform(-k, k) * h] for _ in range(4)])
        dst -= dst.min(axis=0)
        size = (int(dst[:, 0].max()) + 1, int(dst[:, 1].max()) + 1)
        m = cv2.getPerspectiveTransform(src, dst)
        img = cv2.warpPerspective(img, m, size, flags=cv2.INTER_LINEAR)
        alpha = cv2.warpPerspective(alpha, m, size, flags=cv2.INTER_LINEAR)
    return Sprite(img, alpha, sprite.variant, sprite.cls)


def place_with_shadow(canvas: np.ndarray, sprite: Sprite, cx: float, cy: float, width: float, rng: random.Random,
                      **pose: float) -> tuple[float, float, float, float] | None:
    """``goods.place`` with a soft shadow cast on the counter first (the package's own footprint,
    turned and tilted like it, shifted away from the light)."""
    from sample_footage.goods import place

    mask = np.zeros_like(canvas)
    place(mask, Sprite(np.full_like(sprite.image, 255), sprite.alpha, sprite.variant, sprite.cls), cx, cy, width,
          **{**pose, "light": 1.0})
    foot = mask[..., 0].astype(np.float32) / 255.0
    if foot.any():
        size = max(1.0, width * rng.uniform(0.02, 0.06))
        m = np.float32([[1, 0, rng.uniform(-0.06, 0.06) * width], [0, 1, rng.uniform(0.02, 0.1) * width]])
        foot = cv2.GaussianBlur(cv2.warpAffine(foot, m, foot.shape[::-1]), (0, 0), size)
        canvas[:] = (canvas.astype(np.float32) * (1 - foot[..., None] * rng.uniform(0.25, 0.5))).astype(np.uint8)
    return place(canvas, sprite, cx, cy, width, **pose)


MAKERS: dict[str, Callable[[random.Random], Sprite]] = {
    "photo_drug_box": photo_drug_box, "photo_blister": photo_blister, "photo_pill_bottle": photo_pill_bottle,
    "photo_goods_box": photo_goods_box, "photo_goods_bag": photo_goods_bag, "photo_goods_bottle": photo_goods_bottle,
}
VARIANTS_BY_CLASS = {"drug": ("photo_drug_box", "photo_drug_box", "photo_blister", "photo_pill_bottle"),
                     "non_covered": ("photo_goods_box", "photo_goods_box", "photo_goods_bag", "photo_goods_bottle")}


def make(cls: str, rng: random.Random) -> Sprite:
    """A photo-styled package of ``cls`` (drug or non_covered), finished."""
    return photo_finish(MAKERS[rng.choice(VARIANTS_BY_CLASS[cls])](rng), rng)
