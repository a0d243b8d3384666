"""Small DOCX files built by the tests, so each reader behaviour has a file made for it: text
boxes, checkboxes, merged cells, pictures, charts. ``write_docx`` wraps WordprocessingML body XML (and any
PNG images, referenced as ``r:embed="rIdN"``) in the minimum a DOCX needs."""

from __future__ import annotations

import zipfile
from pathlib import Path

NAMESPACES = (
    'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" '
    'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
    'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
    'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
    'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
    'xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture" '
    'xmlns:v="urn:schemas-microsoft-com:vml" '
    'xmlns:w14="http://schemas.microsoft.com/office/word/2010/wordml" mc:Ignorable="w14"'
)
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/><Default Extension="png" ContentType="image/png"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
_PACKAGE_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="word/document.xml"/></Relationships>'
)
_IMAGE_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/image"
_CHART_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/chart"


def paragraph(text: str, style: str = "") -> str:
    styled = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
    return f'<w:p>{styled}<w:r><w:t xml:space="preserve">{text}</w:t></w:r></w:p>'


def text_box(*blocks: str, fallback: bool = False) -> str:
    """A paragraph anchoring a DrawingML shape whose text box holds ``blocks``; with ``fallback``
    the shape also carries the VML copy Word writes for old readers."""
    shape = ('<w:drawing><wp:anchor><wp:docPr id="1" name="Text Box 1"/><a:graphic><a:graphicData '
             'uri="http://schemas.microsoft.com/office/word/2010/wordprocessingShape"><wps:wsp><wps:txbx>'
             f'<w:txbxContent>{"".join(blocks)}</w:txbxContent></wps:txbx></wps:wsp></a:graphicData></a:graphic>'
             '</wp:anchor></w:drawing>')
    if fallback:
        shape = (f'<mc:AlternateContent><mc:Choice Requires="wps">{shape}</mc:Choice><mc:Fallback><w:pict>'
                 f'<v:shape><v:textbox><w:txbxContent>{"".join(blocks)}</w:txbxContent></v:textbox></v:shape>'
                 '</w:pict></mc:Fallback></mc:AlternateContent>')
    return f"<w:p><w:r>{shape}</w:r></w:p>"


def picture(relationship: str, description: str = "", width_emu: int = 3_000_000, height_emu: int = 2_000_000) -> str:
    """A paragraph holding an inline picture whose image is the relationship ``relationship``."""
    return (f'<w:p><w:r><w:drawing><wp:inline><wp:extent cx="{width_emu}" cy="{height_emu}"/>'
            f'<wp:docPr id="9" name="Picture" descr="{description}"/><a:graphic><a:graphicData '
            'uri="http://schemas.openxmlformats.org/drawingml/2006/picture"><pic:pic><pic:blipFill>'
            f'<a:blip r:embed="{relationship}"/></pic:blipFill></pic:pic></a:graphicData></a:graphic>'
            '</wp:inline></w:drawing></w:r></w:p>')


def table(*rows: str) -> str:
    return f"<w:tbl>{''.join(rows)}</w:tbl>"


def row(*cells: str) -> str:
    return f"<w:tr>{''.join(cells)}</w:tr>"


def cell(content: str, properties: str = "") -> str:
    return f"<w:tc>{f'<w:tcPr>{properties}</w:tcPr>' if properties else ''}{content}</w:tc>"


def chart(relationship: str) -> str:
    """A run holding a chart drawing (its part given to ``write_docx`` as ``charts={relationship: xml}``)."""
    return ('<w:r><w:drawing><wp:inline><wp:extent cx="5000000" cy="3000000"/><wp:docPr id="9" name="Chart 1"/>'
            '<a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/chart">'
            '<c:chart xmlns:c="http://schemas.openxmlformats.org/drawingml/2006/chart" '
            f'r:id="{relationship}"/></a:graphicData></a:graphic></wp:inline></w:drawing></w:r>')


def chart_xml(title: str, categories: list[str], series: dict[str, list[float]]) -> bytes:
    """A line chart's part as Office writes it, with its cached data (python-pptx's chart XML writer)."""
    from pptx.chart.data import CategoryChartData
    from pptx.chart.xmlwriter import ChartXmlWriter
    from pptx.enum.chart import XL_CHART_TYPE

    data = CategoryChartData()
    data.categories = categories
    for name, values in series.items():
        data.add_series(name, values)
    xml = ChartXmlWriter(XL_CHART_TYPE.LINE, data).xml
    title_xml = f'<c:title><c:tx><c:rich><a:bodyPr/><a:p><a:r><a:t>{title}</a:t></a:r></a:p></c:rich></c:tx></c:title>'
    deleted = '<c:autoTitleDeleted val="0"/>'
    return xml.replace(deleted, title_xml + deleted, 1).encode("utf-8")


def write_docx(path: Path, body: str, images: dict[str, bytes] | None = None,
               charts: dict[str, bytes] | None = None) -> Path:
    images, charts = images or {}, charts or {}
    relationships = "".join(f'<Relationship Id="{rid}" Type="{_IMAGE_TYPE}" Target="media/{rid}.png"/>'
                            for rid in images) + "".join(
        f'<Relationship Id="{rid}" Type="{_CHART_TYPE}" Target="charts/{rid}.xml"/>' for rid in charts)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _PACKAGE_RELS)
        archive.writestr("word/_rels/document.xml.rels",
                         '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships '
                         f'xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{relationships}'
                         '</Relationships>')
        for rid, png in images.items():
            archive.writestr(f"word/media/{rid}.png", png)
        for rid, xml in charts.items():
            archive.writestr(f"word/charts/{rid}.xml", xml)
        archive.writestr("word/document.xml", '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                                              f"<w:document {NAMESPACES}><w:body>{body}</w:body></w:document>")
    return path
