"""Render a notice with the layout it was published with: the recorded digests are of those bytes.

Layout 1 is the first version (STSong-Light not embedded, US-Letter DOCX, Chinese-numeral date); layout 2
follows GB/T 9704-2012 and embeds its font. A published notice keeps its layout for ever; new ones get
CURRENT_LAYOUT. Bump it (and keep the old renderer) whenever a change alters the bytes of the same content.
"""

from __future__ import annotations

from services.assignment.notice.content import NoticeContent
from services.assignment.notice.docx import render_docx
from services.assignment.notice.legacy_v1 import render_docx_v1, render_pdf_v1
from services.assignment.notice.pdf import render_pdf

CURRENT_LAYOUT = 2


def render(content: NoticeContent, layout: int = CURRENT_LAYOUT) -> tuple[bytes, bytes]:
    """Return (pdf, docx) of the content in the given layout; ValueError for an unknown layout."""
    if layout == 1:
        return render_pdf_v1(content), render_docx_v1(content)
    if layout == 2:
        return render_pdf(content), render_docx(content)
    raise ValueError(f"unknown notice layout {layout}")
