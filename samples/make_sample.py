"""Regenerate samples/dossier-sample.pdf: a small scanned dossier, as a counter scans it.

Page 1: the one-stop receipt (A5) with its dossier code; page 2: a driver's-licence
exchange request (A4), fed upside down and a little skewed; page 3: a blank back.
Run: .venv/bin/python samples/make_sample.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import synth

RECEIPT = [
    "UBND TỈNH QUẢNG NINH",
    "TRUNG TÂM PHỤC VỤ HÀNH CHÍNH CÔNG",
    "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ",
    "Mã hồ sơ: 000.00.00.H49-251103-0042",
    "Tiếp nhận hồ sơ của: Nguyễn Văn An",
    "Địa chỉ: Phường Hồng Hải, thành phố Hạ Long, tỉnh Quảng Ninh",
    "Số điện thoại: 0912345678 Email: an.nguyen@example.vn",
    "Nội dung yêu cầu giải quyết: Đổi giấy phép lái xe",
    "1. Thành phần hồ sơ nộp gồm: đơn đề nghị, bản sao căn cước công dân",
    "2. Số lượng hồ sơ: 01 (bộ)",
    "3. Thời gian giải quyết hồ sơ theo quy định là: 05 ngày",
    "4. Thời gian nhận hồ sơ: 09 giờ 15 phút, ngày 03 tháng 11 năm 2025",
    "5. Thời gian trả kết quả giải quyết hồ sơ: ngày 10 tháng 11 năm 2025",
    "6. Đăng ký nhận kết quả tại: Bưu điện tỉnh Quảng Ninh",
]

FORM = [
    "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
    "Độc lập - Tự do - Hạnh phúc",
    "ĐỀ NGHỊ ĐỔI (CẤP LẠI) GIẤY PHÉP LÁI XE",
    "Kính gửi: Sở Xây dựng tỉnh Quảng Ninh",
    "Tôi là: Nguyễn Văn An",
    "Ngày tháng năm sinh: 12/03/1990",
    "Số định danh cá nhân: 022090012345 ngày cấp: 15/04/2021 nơi cấp: Cục Cảnh sát",
    "Đã học lái xe tại: Trường Cao đẳng Giao thông năm 2012",
    "Hiện đã có giấy phép lái xe hạng: B2 số: 220123456789 do: Sở Giao thông vận tải cấp",
    "Đề nghị cho tôi được đổi hoặc cấp lại giấy phép lái xe hạng: B",
    "Lý do: giấy phép lái xe sắp hết hạn sử dụng",
    "Tôi xin cam đoan những điều ghi trên là đúng sự thật.",
    "Người đề nghị ký và ghi rõ họ tên",
]


def main() -> None:
    out = Path(__file__).resolve().parent / "dossier-sample.pdf"
    receipt = synth.degrade(
        synth.render_page(RECEIPT, dpi=200, font_pt=10, page_mm=(148, 210), margin_mm=12),
        synth.Degradation(skew_deg=1.2, noise_sigma=5),
        seed=1,
    )
    form = synth.degrade(
        synth.render_page(FORM, dpi=200, font_pt=12, font_path=synth.find_font("serif")),
        synth.Degradation(rotation=180, skew_deg=-2.0, noise_sigma=6, dark_border_px=30),
        seed=2,
    )
    blank = synth.degrade(
        synth.render_page([], dpi=200), synth.Degradation(noise_sigma=6, speckles=20), seed=3
    )
    synth.save_pdf([receipt, form, blank], out, jpeg_quality=70)
    print(f"wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
