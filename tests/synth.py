"""Generated scans with ground truth: Vietnamese text rendered, then degraded like a counter scan.

Used by the tests and the benchmarks; deterministic for a given seed.
"""

from __future__ import annotations

import io
import random
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_CANDIDATES = {
    "sans": [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
        "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    ],
    "serif": [
        "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
        "/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf",
        "/usr/share/fonts/truetype/noto/NotoSerif-Regular.ttf",
    ],
}

CORPUS = [
    "Cộng hòa xã hội chủ nghĩa Việt Nam",
    "Độc lập - Tự do - Hạnh phúc",
    "Giấy tiếp nhận hồ sơ và hẹn trả kết quả",
    "Mã hồ sơ: 000.17.22.H56-210531-0001",
    "Tiếp nhận hồ sơ của: Nguyễn Thị Thu Hằng",
    "Địa chỉ: số 12 đường Trần Hưng Đạo, phường Bến Nghé, quận Một",
    "Số điện thoại: 0912345678 Email: hang.nguyen@example.vn",
    "Nội dung yêu cầu giải quyết: đổi giấy phép lái xe",
    "Thành phần hồ sơ nộp gồm: đơn đề nghị, bản sao căn cước công dân",
    "Số lượng hồ sơ: một bộ",
    "Thời gian giải quyết hồ sơ theo quy định là năm ngày làm việc",
    "Thời gian nhận hồ sơ: mười giờ ba mươi phút, ngày mười lăm tháng sáu",
    "Đăng ký nhận kết quả tại bưu điện tỉnh Quảng Ninh",
    "Kính gửi: Sở Giao thông vận tải tỉnh Quảng Ninh",
    "Tôi là: Trần Văn Bình, sinh ngày mười hai tháng ba năm một nghìn chín trăm tám mươi",
    "Đề nghị cho tôi được đổi giấy phép lái xe hạng B hai",
    "Lý do: giấy phép lái xe sắp hết hạn sử dụng",
    "Tôi xin cam đoan những lời khai trên là đúng sự thật",
    "Người đề nghị ký và ghi rõ họ tên",
    "Phiếu lý lịch tư pháp số một cấp cho công dân Việt Nam",
    "Nơi thường trú: thôn Đông, xã Hưng Đạo, huyện Tiên Lữ, tỉnh Hưng Yên",
    "Quốc tịch: Việt Nam. Dân tộc: Kinh. Giới tính: Nữ",
    "Ủy ban nhân dân tỉnh xác nhận bản sao đúng với bản chính",
    "Những điều cần lưu ý khi nhận kết quả giải quyết thủ tục hành chính",
    "Bộ phận một cửa tiếp nhận hồ sơ vào buổi sáng các ngày trong tuần",
    "Người nhận hồ sơ phải kiểm tra kỹ thông tin trước khi ký nhận",
]


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def find_font(style: str = "sans") -> str:
    for candidate in FONT_CANDIDATES[style]:
        if Path(candidate).exists():
            return candidate
    raise FileNotFoundError(f"no {style} font with Vietnamese glyphs found (apt fonts-dejavu-core)")


def available_fonts() -> list[str]:
    return [p for style in FONT_CANDIDATES.values() for p in style if Path(p).exists()]


@dataclass
class SynthPage:
    image: Image.Image  # RGB
    lines: list[str]
    dpi: int
    meta: dict[str, object] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def render_page(
    lines: list[str],
    *,
    dpi: int = 300,
    font_path: str | None = None,
    font_pt: float = 12.0,
    page_mm: tuple[float, float] = (210.0, 297.0),
    margin_mm: float = 20.0,
) -> SynthPage:
    """Black text on white paper, wrapped to the page width."""
    width = int(page_mm[0] / 25.4 * dpi)
    height = int(page_mm[1] / 25.4 * dpi)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(font_path or find_font("sans"), round(font_pt * dpi / 72))
    margin = int(margin_mm / 25.4 * dpi)
    line_height = int(font_pt * dpi / 72 * 1.6)
    y = margin
    placed: list[str] = []
    for line in lines:
        for wrapped in _wrap(nfc(line), font, width - 2 * margin):
            if y + line_height > height - margin:
                break
            draw.text((margin, y), wrapped, font=font, fill=(20, 20, 30))
            placed.append(wrapped)
            y += line_height
    return SynthPage(image=image, lines=placed, dpi=dpi)


def _wrap(text: str, font: ImageFont.FreeTypeFont, max_width: int) -> list[str]:
    words = text.split()
    out: list[str] = []
    current = ""
    for word in words:
        trial = f"{current} {word}".strip()
        if font.getlength(trial) <= max_width or not current:
            current = trial
        else:
            out.append(current)
            current = word
    if current:
        out.append(current)
    return out


def corpus_lines(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(CORPUS) for _ in range(count)]


@dataclass(frozen=True)
class Degradation:
    rotation: int = 0  # clockwise degrees the *scan* is turned (0/90/180/270)
    skew_deg: float = 0.0
    noise_sigma: float = 0.0
    blur_sigma: float = 0.0
    jpeg_quality: int | None = None
    dark_border_px: int = 0
    background: int = 255  # paper tone
    gradient: float = 0.0  # 0..1 illumination falloff across the page
    speckles: int = 0


# A mixed degraded set: one page per kind of trouble a counter scan has.
MIXED_DEGRADATIONS = [
    Degradation(noise_sigma=6),
    Degradation(rotation=180, noise_sigma=8),
    Degradation(skew_deg=4, noise_sigma=6),
    Degradation(rotation=90, skew_deg=-2, noise_sigma=6),
    Degradation(blur_sigma=1.0, noise_sigma=5),
    Degradation(jpeg_quality=45, noise_sigma=4),
    Degradation(dark_border_px=50, gradient=0.35, background=225),
    Degradation(rotation=270, skew_deg=3, speckles=300),
    Degradation(skew_deg=-7, noise_sigma=10),
    Degradation(rotation=180, skew_deg=1.5, blur_sigma=0.7, jpeg_quality=60),
    Degradation(background=205, noise_sigma=12),
    Degradation(rotation=90, dark_border_px=40, jpeg_quality=55),
]


def degrade(page: SynthPage, spec: Degradation, seed: int = 0) -> SynthPage:
    rng = np.random.default_rng(seed)
    img = np.asarray(page.image).astype(np.float32)
    if spec.background < 255:
        img = img * (spec.background / 255.0)
    if spec.gradient:
        ramp = np.linspace(1.0, 1.0 - spec.gradient, img.shape[1], dtype=np.float32)
        img = img * ramp[None, :, None]
    if spec.skew_deg:
        h, w = img.shape[:2]
        m = cv2.getRotationMatrix2D((w / 2, h / 2), spec.skew_deg, 1.0)
        fill = float(spec.background)
        img = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=(fill, fill, fill))
    if spec.blur_sigma:
        img = cv2.GaussianBlur(img, (0, 0), spec.blur_sigma)
    if spec.speckles:
        h, w = img.shape[:2]
        ys = rng.integers(0, h, spec.speckles)
        xs = rng.integers(0, w, spec.speckles)
        for y, x in zip(ys, xs, strict=True):
            cv2.circle(img, (int(x), int(y)), int(rng.integers(1, 3)), (40, 40, 40), -1)
    if spec.noise_sigma:
        img = img + rng.normal(0, spec.noise_sigma, img.shape).astype(np.float32)
    if spec.dark_border_px:
        b = spec.dark_border_px
        img[:b, :] = 25
        img[:, :b] = 25
        img[:, -b // 2 :] = 30
    img8 = np.clip(img, 0, 255).astype(np.uint8)
    if spec.rotation:
        img8 = np.ascontiguousarray(np.rot90(img8, k=-(spec.rotation // 90)))
    out = Image.fromarray(img8, "RGB")
    if spec.jpeg_quality:
        buf = io.BytesIO()
        out.save(buf, "JPEG", quality=spec.jpeg_quality)
        out = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    return SynthPage(image=out, lines=page.lines, dpi=page.dpi, meta={"degradation": spec})


def varied_pages(count: int, *, dpi: int, seed: int, sizes: tuple[float, ...]) -> list[SynthPage]:
    """``count`` clean pages of corpus text, cycling through the fonts and ``sizes``."""
    fonts = available_fonts()
    return [
        render_page(
            corpus_lines(16, seed=seed + index),
            dpi=dpi,
            font_path=fonts[index % len(fonts)],
            font_pt=sizes[index % len(sizes)],
        )
        for index in range(count)
    ]


def mixed_degraded_pages(count: int = 12, *, dpi: int = 200, seed: int = 100) -> list[SynthPage]:
    """``count`` pages cycling through MIXED_DEGRADATIONS, fonts and sizes."""
    return [
        degrade(base, MIXED_DEGRADATIONS[index % len(MIXED_DEGRADATIONS)], seed=index)
        for index, base in enumerate(varied_pages(count, dpi=dpi, seed=seed, sizes=(10, 11, 12)))
    ]


def save_pdf(pages: list[SynthPage], path: Path, *, jpeg_quality: int = 85) -> None:
    """An image-only PDF, as a scanner writes it (one JPEG per page at its dpi)."""
    images = [p.image.convert("RGB") for p in pages]
    images[0].save(
        path,
        "PDF",
        resolution=float(pages[0].dpi),
        save_all=True,
        append_images=images[1:],
        quality=jpeg_quality,
    )


def save_tiff(pages: list[SynthPage], path: Path) -> None:
    images = [p.image.convert("RGB") for p in pages]
    images[0].save(
        path,
        "TIFF",
        save_all=True,
        append_images=images[1:],
        compression="tiff_deflate",
        dpi=(pages[0].dpi, pages[0].dpi),
    )


def char_error_rate(reference: str, hypothesis: str) -> float:
    """Levenshtein distance over characters / reference length, whitespace collapsed, NFC."""
    ref = " ".join(nfc(reference).split())
    hyp = " ".join(nfc(hypothesis).split())
    if not ref:
        return 0.0 if not hyp else 1.0
    try:
        from rapidfuzz.distance import Levenshtein
    except ImportError:  # pragma: no cover - rapidfuzz is a dev dependency
        return _levenshtein(ref, hyp) / len(ref)
    return Levenshtein.distance(ref, hyp) / len(ref)


def _levenshtein(a: str, b: str) -> int:
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def add_seal_and_signature(page: SynthPage, seed: int = 0) -> SynthPage:
    """A round red seal and a blue-ink signature over the text, as on a certified copy.

    The seal is two rings, a star and lettering around the rim, printed semi-transparent
    (multiplied onto the page as stamp ink is); the signature is a few thick blue strokes.
    Both cross printed lines. The ground truth is the printed text alone.
    """
    rng = np.random.default_rng(seed)
    img = np.asarray(page.image.convert("RGB")).astype(np.float32) / 255.0
    height, width = img.shape[:2]
    scale = page.dpi / 200.0
    ink = np.zeros((height, width), np.uint8)
    radius = int(rng.uniform(150, 190) * scale)
    rows = np.nonzero((img.min(axis=2) < 0.5).any(axis=1))[0]  # where the printed lines are
    top, bottom = (int(rows[0]), int(rows[-1])) if rows.size else (0, height)
    centre = (int(rng.uniform(0.3, 0.7) * width), int(rng.uniform(top + radius * 0.5, bottom)))
    cv2.circle(ink, centre, radius, 255, max(2, int(7 * scale)))
    cv2.circle(ink, centre, int(radius * 0.72), 255, max(1, int(3 * scale)))
    star = [
        (
            centre[0] + int(radius * (0.32 if k % 2 == 0 else 0.13) * np.sin(k * np.pi / 5)),
            centre[1] - int(radius * (0.32 if k % 2 == 0 else 0.13) * np.cos(k * np.pi / 5)),
        )
        for k in range(10)
    ]
    cv2.fillPoly(ink, [np.array(star, np.int32)], 255)
    for k in range(22):  # lettering around the rim: short strokes standing on the ring
        angle = k * 2 * np.pi / 22
        r0, r1 = radius * 0.78, radius * 0.93
        p0 = (int(centre[0] + r0 * np.cos(angle)), int(centre[1] + r0 * np.sin(angle)))
        p1 = (int(centre[0] + r1 * np.cos(angle)), int(centre[1] + r1 * np.sin(angle)))
        cv2.line(ink, p0, p1, 255, max(1, int(4 * scale)))
    red = np.array([0.86, 0.12, 0.14], np.float32)  # RGB of stamp ink
    alpha = (ink.astype(np.float32) / 255.0 * 0.85)[:, :, None]
    img = img * (1 - alpha) + img * red[None, None, :] * alpha  # ink multiplies the paper
    sign = np.zeros((height, width), np.uint8)
    sx, sy = centre[0] + int(radius * 0.4), centre[1] - int(radius * 0.1)
    for _stroke in range(4):
        points = [
            (sx + int(rng.uniform(-120, 160) * scale), sy + int(rng.uniform(-50, 50) * scale))
        ]
        for _ in range(6):
            last = points[-1]
            points.append(
                (
                    last[0] + int(rng.uniform(20, 60) * scale),
                    last[1] + int(rng.uniform(-40, 40) * scale),
                )
            )
        cv2.polylines(sign, [np.array(points, np.int32)], False, 255, max(2, int(4 * scale)))
    blue = np.array([0.12, 0.22, 0.78], np.float32)
    beta = (sign.astype(np.float32) / 255.0 * 0.9)[:, :, None]
    img = img * (1 - beta) + img * blue[None, None, :] * beta
    out = Image.fromarray(np.clip(img * 255.0, 0, 255).astype(np.uint8), "RGB")
    return SynthPage(image=out, lines=page.lines, dpi=page.dpi, meta={"stamped": True})


def stamped_pages(count: int = 6, *, dpi: int = 200, seed: int = 300) -> list[SynthPage]:
    """``count`` colour pages with a seal and a signature over 11-13 pt text."""
    return [
        degrade(
            add_seal_and_signature(base, seed=seed + index),
            Degradation(noise_sigma=4, jpeg_quality=85),
            seed=index,
        )
        for index, base in enumerate(varied_pages(count, dpi=dpi, seed=seed, sizes=(11, 12, 13)))
    ]
