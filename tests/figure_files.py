"""Small PDF, DOCX and HTML files with figures, built by the tests: a chart with a caption and text
inside it, a logo repeated on every page, an image-only page, a tiny icon, a remote image."""

from __future__ import annotations

import io
from pathlib import Path

import pymupdf
from PIL import Image, ImageDraw, ImageFont

from tests.office_files import paragraph, picture, write_docx


def picture_png(words: list[str], size: tuple[int, int] = (600, 400), colour: str = "#2f5bea") -> bytes:
    """A bar chart-like picture with ``words`` written large enough to OCR."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=36)
    width, height = size
    for i in range(4):
        top = height - 60 - (i + 1) * (height - 140) // 5
        draw.rectangle([60 + i * (width - 120) // 4, top, 40 + (i + 1) * (width - 120) // 4, height - 60], fill=colour)
    for i, word in enumerate(words):
        draw.text((30, 20 + i * 44), word, fill="black", font=font)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def logo_png() -> bytes:
    image = Image.new("RGB", (240, 100), "#c0392b")
    ImageDraw.Draw(image).ellipse([20, 10, 100, 90], fill="white")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


CHART_WORDS = ["EAST 420", "WEST 180"]
SCAN_WORDS = ["MAINTENANCE", "SCHEDULE"]


def report_pdf(path: Path) -> Path:
    """Three pages, a logo at the top of each. Page 1: text citing Figure 1, the chart, its
    caption. Page 2: text. Page 3: one picture and nothing else (an image-only page)."""
    pdf = pymupdf.open()
    logo = logo_png()
    for number in range(3):
        page = pdf.new_page(width=595, height=842)
        page.insert_image(pymupdf.Rect(460, 30, 550, 67.5), stream=logo)
        if number == 0:
            page.insert_text((72, 120), "Regional sales report", fontsize=20)
            page.insert_textbox(pymupdf.Rect(72, 140, 523, 220),
                                "As Figure 1 shows, the eastern region sold more than twice as much as the west "
                                "in the last quarter. The numbers come from the finance team.", fontsize=11)
            page.insert_image(pymupdf.Rect(97, 240, 497, 507), stream=picture_png(CHART_WORDS))
            page.insert_text((97, 530), "Figure 1: Quarterly sales by region", fontsize=10)
            page.insert_textbox(pymupdf.Rect(72, 560, 523, 700),
                                "Sales in the south were not counted this year. The next report covers them.",
                                fontsize=11)
        elif number == 1:
            page.insert_textbox(pymupdf.Rect(72, 100, 523, 300),
                                "The second page discusses staffing. Hiring continued in every office, and the "
                                "training budget grew.", fontsize=11)
        else:
            page.insert_image(pymupdf.Rect(60, 120, 535, 750), stream=picture_png(SCAN_WORDS, (600, 800), "#888"))
    pdf.save(path)
    return path


def report_docx(path: Path) -> Path:
    """A paragraph citing Figure 1, the chart with alt text, its caption; a 20-pixel icon."""
    icon = Image.new("RGB", (20, 20), "black")
    out = io.BytesIO()
    icon.save(out, format="PNG")
    body = (paragraph("如图1所示，东部地区的销量最高。")
            + picture("rId10", description="柱状图：各地区季度销量")
            + paragraph("图1 各地区季度销量", style="Caption")
            + picture("rId11", width_emu=190_500, height_emu=190_500)
            + paragraph("西部地区的销量较低。"))
    return write_docx(path, body, images={"rId10": picture_png(CHART_WORDS), "rId11": out.getvalue()})


def report_html(folder: Path) -> Path:
    """A <figure> whose image is a file beside the page, an inline logo three times, a 16-pixel icon
    and a remote image with alt text (never fetched)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "chart.png").write_bytes(picture_png(CHART_WORDS))
    import base64

    logo = "data:image/png;base64," + base64.b64encode(logo_png()).decode()
    page = folder / "report.html"
    page.write_text(
        "<html><body><main><h1>Regional sales</h1>"
        + "".join(f"<p><img src='{logo}'> Section {i}</p>" for i in range(3))
        + "<p>As Figure 1 shows, the east leads.</p>"
        "<figure><img src='chart.png' alt='bar chart of sales by region'>"
        "<figcaption>Figure 1: Quarterly sales by region</figcaption></figure>"
        "<p>An icon <img src='icon.png' width='16' height='16'> and a map "
        "<img src='https://example.com/map.png' alt='map of the sales regions'>.</p>"
        "<p><img src='../outside.png' alt=''></p></main></body></html>", encoding="utf-8")
    return page
