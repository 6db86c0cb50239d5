"""WordprocessingML pieces python-docx has no API for: the document grid, paragraph borders, fields, the seal."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn

from services.assignment.notice.geometry import LINE, PITCH, SIZE_3

W = nsdecls("w")
VML = 'xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office"'
RED_HEX = "E60012"


def set_document_grid(section: Any) -> None:
    """22 lines of 28 characters (Word's 文档网格 "指定行和字符网格"), as GB/T 9704 counts them."""
    sect = section._sectPr
    grid = sect.find(qn("w:docGrid"))
    if grid is None:
        grid = sect.makeelement(qn("w:docGrid"), {})
        sect.append(grid)
    grid.set(qn("w:type"), "linesAndChars")
    grid.set(qn("w:linePitch"), str(round(LINE * 20)))  # twentieths of a point
    # Word's character pitch is the default font size plus charSpace/4096 points.
    grid.set(qn("w:charSpace"), str(round((PITCH - SIZE_3) * 4096)))


def bottom_border(paragraph: Any, space_pt: int, width_pt: float) -> None:
    """A red rule under the paragraph, as wide as the text column (a border, not a row of characters)."""
    size = round(width_pt * 8)  # eighths of a point
    border = parse_xml(
        f'<w:pBdr {W}><w:bottom w:val="single" w:sz="{size}" w:space="{space_pt}" w:color="{RED_HEX}"/></w:pBdr>'
    )
    _insert_ppr(paragraph._p, border)


def no_grid_snap(paragraph: Any) -> None:
    """Let a small-type paragraph (table cell, footer) keep its own line height instead of the body grid."""
    _insert_ppr(paragraph._p, parse_xml(f'<w:snapToGrid {W} w:val="0"/>'))


def kinsoku(style: Any) -> None:
    """Turn on Word's East Asian line-breaking rules (禁则) explicitly in a paragraph style."""
    _insert_ppr(style.element, parse_xml(f'<w:kinsoku {W} w:val="1"/>'))
    # No punctuation hanging past the right margin: the line gives a character to the next instead.
    _insert_ppr(style.element, parse_xml(f'<w:overflowPunct {W} w:val="0"/>'))


def page_field(paragraph: Any, size_half_points: int) -> None:
    """Append "— PAGE —" in 宋体 (a field Word fills with the page number)."""
    fonts = '<w:rFonts w:ascii="宋体" w:hAnsi="宋体" w:eastAsia="宋体"/>'  # §7.5: 半角宋体阿拉伯数字
    rpr = f'<w:rPr>{fonts}<w:sz w:val="{size_half_points}"/><w:szCs w:val="{size_half_points}"/></w:rPr>'
    runs = [
        f'<w:r {W}>{rpr}<w:t xml:space="preserve">— </w:t></w:r>',
        f'<w:r {W}>{rpr}<w:fldChar w:fldCharType="begin"/></w:r>',
        f'<w:r {W}>{rpr}<w:instrText xml:space="preserve"> PAGE </w:instrText></w:r>',
        f'<w:r {W}>{rpr}<w:fldChar w:fldCharType="separate"/></w:r>',
        f"<w:r {W}>{rpr}<w:t>1</w:t></w:r>",
        f'<w:r {W}>{rpr}<w:fldChar w:fldCharType="end"/></w:r>',
        f'<w:r {W}>{rpr}<w:t xml:space="preserve"> —</w:t></w:r>',
    ]
    for run in runs:
        paragraph._p.append(parse_xml(run))


def seal_placeholder(paragraph: Any, left_pt: float, top_pt: float, diameter_pt: float) -> None:
    """A red circle behind the text, anchored to the paragraph, labelled as the seal's place (not a seal)."""
    label = escape("印章位置（示意）")
    xml = (
        f"<w:r {W} {VML}><w:pict>"
        f'<v:oval id="seal-placeholder" filled="f" stroked="t" strokecolor="#{RED_HEX}" strokeweight="1.2pt" '
        f'style="position:absolute;margin-left:{left_pt:.1f}pt;margin-top:{top_pt:.1f}pt;'
        f"width:{diameter_pt:.1f}pt;height:{diameter_pt:.1f}pt;z-index:-1;"
        'mso-position-horizontal-relative:text;mso-position-vertical-relative:text">'
        '<v:textbox inset="0,6pt,0,0"><w:txbxContent>'
        f'<w:p><w:pPr><w:jc w:val="center"/></w:pPr><w:r><w:rPr><w:color w:val="{RED_HEX}"/>'
        f'<w:sz w:val="16"/></w:rPr><w:t>{label}</w:t></w:r></w:p>'
        "</w:txbxContent></v:textbox></v:oval></w:pict></w:r>"
    )
    paragraph._p.append(parse_xml(xml))


def fixed_table_geometry(table: Any, widths_pt: list[float], padding_pt: float) -> None:
    """Give the table its exact width (python-docx leaves it "auto") and the PDF's cell padding left and right.

    `table.autofit = False` already fixes the layout, so Word keeps these widths instead of fitting its fonts.
    """
    tbl_pr = table._tbl.tblPr
    tbl_w = tbl_pr.find(qn("w:tblW"))
    tbl_w.set(qn("w:w"), str(round(sum(widths_pt) * 20)))
    tbl_w.set(qn("w:type"), "dxa")
    twips = round(padding_pt * 20)
    margins = parse_xml(
        f'<w:tblCellMar {W}><w:left w:w="{twips}" w:type="dxa"/><w:right w:w="{twips}" w:type="dxa"/></w:tblCellMar>'
    )
    tbl_pr.insert_element_before(margins, "w:tblLook", "w:tblCaption", "w:tblDescription", "w:tblPrChange")


def east_asian_defaults(doc: Any, size_pt: float) -> None:
    """Chinese as the East Asian language (Word's 禁则 and punctuation follow it) and the body size as default."""
    rpr = doc.styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    for tag in ("w:sz", "w:szCs"):
        rpr.find(qn(tag)).set(qn("w:val"), str(round(size_pt * 2)))
    rpr.find(qn("w:lang")).set(qn("w:eastAsia"), "zh-CN")


def _insert_ppr(element_holder: Any, element: Any) -> None:
    # pPr children have a fixed schema order (ECMA-376 CT_PPrBase); insert before every later sibling.
    ppr = element_holder.get_or_add_pPr()
    local = element.tag.split("}")[1]
    later = PPR_ORDER[PPR_ORDER.index(local) + 1 :]
    ppr.insert_element_before(element, *(f"w:{tag}" for tag in later))


PPR_ORDER = (
    "pStyle keepNext keepLines pageBreakBefore framePr widowControl numPr suppressLineNumbers pBdr shd tabs "
    "suppressAutoHyphens kinsoku wordWrap overflowPunct topLinePunct autoSpaceDE autoSpaceDN bidi "
    "adjustRightInd snapToGrid spacing ind contextualSpacing mirrorIndents suppressOverlap jc textDirection "
    "textAlignment textboxTightWrap outlineLvl divId cnfStyle rPr sectPr pPrChange"
).split()
