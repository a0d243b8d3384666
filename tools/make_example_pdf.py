"""Regenerate examples/ashby-field-station.pdf, the sample PDF (two pages, English and Chinese).

Run: python tools/make_example_pdf.py
"""

from pathlib import Path

import pymupdf

PAGES = [
    ("Ashby Field Station Handbook", "helv", [
        "1. Opening hours",
        "The field station is open from 1 May to 30 September. Visitors sign in at the front desk "
        "before they enter the laboratories.",
        "2. Safety",
        "Everyone who works on the river must wear a life jacket. Boats may not leave the jetty when "
        "the wind is stronger than 30 kilometres per hour. The first-aid kit is kept in the boathouse.",
    ]),
    ("阿什比野外站 设备说明", "china-s", [
        "三、设备借用",
        "水质检测仪共有四台，每次最多借用两天。借用前须在登记簿上签名，归还时须清洗探头。",
        "四、样品保存",
        "采集的水样须在六小时内放入四摄氏度的冷藏柜保存，并贴上采样日期和地点标签。",
    ]),
]


def main() -> None:
    pdf = pymupdf.open()
    for title, font, paragraphs in PAGES:
        page = pdf.new_page(width=595, height=842)
        page.insert_text((72, 80), title, fontname=font, fontsize=18)
        box = pymupdf.Rect(72, 110, 523, 770)
        page.insert_textbox(box, "\n\n".join(paragraphs), fontname=font, fontsize=11)
    target = Path(__file__).resolve().parents[1] / "examples" / "ashby-field-station.pdf"
    pdf.save(target, garbage=4, deflate=True)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
