"""Build the notice's embedded CJK font, `fonts/ConciergeSerifSC-Regular.ttf` (run once; the output is committed).

Why a committed font: a PDF that names a font without embedding it (reportlab's STSong-Light) shows empty
boxes on a machine without a Chinese font, and a PDF that embeds whatever the machine has would change its
bytes from machine to machine (the service compares SHA-256 on every download). So the project ships one
font, and every machine renders the same bytes.

Why this conversion: the only open-licensed (SIL OFL 1.1) Chinese serif fonts, Noto Serif CJK SC and Source
Han Serif SC, ship with CFF outlines, and reportlab embeds only TrueType (glyf) outlines. fontTools subsets
the font to the characters a notice uses (all of GB 2312, 6,763 hanzi and its symbols; the whole CJK Unified
Ideographs block, 20,971 hanzi, the basic set of GBK and GB 18030, since names use rare characters; ASCII;
full-width forms; CJK and general punctuation: 21,808 characters, 9.5 MB) and converts the cubic outlines to
quadratic ones (cu2qu, at most one font unit of error in a 1,000-unit em, invisible at print sizes). Layout
tables (GSUB, GPOS) and hints are dropped: reportlab uses neither. The family is renamed (a subset is a
"Modified Version" under the OFL, and "Noto" is a trademark); the copyright and licence fields are kept, and
`fonts/OFL.txt` travels with it.

The ideographs beyond the basic block that the source draws (all of Extension A, the GB 18030 ones of
Extensions B to F, the compatibility ideographs: 7,571) go into a second font, `ConciergeSerifSC-Supplement.ttf`,
made the same way. A separate file keeps the main font's bytes, and so every notice published before it.

Get the source font once (the wheel is big and drags matplotlib: never a runtime dependency)::

    pip download --no-deps mplfonts==0.0.11 -d /tmp/x
    unzip -j /tmp/x/mplfonts-0.0.11-py3-none-any.whl 'mplfonts/fonts/NotoSerifCJKsc-Regular.otf' -d /tmp/x
    python -m services.assignment.notice.build_font /tmp/x/NotoSerifCJKsc-Regular.otf

fontTools is needed only here (`pip install fonttools`); the service reads the result with reportlab alone.
The output is byte-for-byte the same for the same source font (timestamps are fixed).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

FONTS = Path(__file__).with_name("fonts")
OUTPUT = FONTS / "ConciergeSerifSC-Regular.ttf"
FAMILY = "Concierge Serif SC"
POSTSCRIPT = "ConciergeSerifSC-Regular"
# The ideographs names use beyond the basic block (䶮, 㛃, 𬌗): a font of their own, so that the main font, and
# with it every notice already published, keeps its bytes. A notice embeds it only when a character needs it.
SUPPLEMENT_OUTPUT = FONTS / "ConciergeSerifSC-Supplement.ttf"
SUPPLEMENT_FAMILY = "Concierge Serif SC Supplement"
SUPPLEMENT_POSTSCRIPT = "ConciergeSerifSCSupplement-Regular"
# CJK Unified Ideographs Extension A, Extensions B to H, the compatibility ideographs and their supplement.
SUPPLEMENT_RANGES = ((0x3400, 0x4DC0), (0x20000, 0x323B0), (0xF900, 0xFB00), (0x2F800, 0x2FA20))
# 2016-01-01T00:00:00Z in seconds since 1904-01-01, the epoch of the head table: a fixed stamp keeps the bytes.
FIXED_TIMESTAMP = 3534364800


def gb2312_characters() -> list[str]:
    """Every character GB 2312 encodes: 682 symbols and 6,763 hanzi (rows 0xA1-0xF7, cells 0xA1-0xFE)."""
    found = []
    for row in range(0xA1, 0xF8):
        for cell in range(0xA1, 0xFF):
            try:
                found.append(bytes((row, cell)).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return found


def wanted_codepoints() -> set[int]:
    """The characters the embedded font covers."""
    points = {ord(c) for c in gb2312_characters()}
    # The whole CJK Unified Ideographs block: the basic hanzi of GBK and GB 18030 (names use rare ones).
    points |= set(range(0x4E00, 0xA000))
    points |= set(range(0x20, 0x7F))  # ASCII
    points |= set(range(0xFF01, 0xFF5F))  # full-width forms
    points |= set(range(0x3000, 0x3040))  # CJK symbols and punctuation, 〔〕 included
    points |= set(range(0x2010, 0x2030)) | {0x00B7, 0x00D7, 0x00F7, 0x2103, 0x00A0}  # dashes, quotes, …, ·
    return points


def supplement_codepoints() -> set[int]:
    """The ideographs of the supplement: every one outside the basic block (the main font has those)."""
    return {point for start, stop in SUPPLEMENT_RANGES for point in range(start, stop)} - wanted_codepoints()


def build(source: Path) -> None:
    """Write both fonts from the source OTF."""
    _build(source, OUTPUT, wanted_codepoints(), FAMILY, POSTSCRIPT)
    _build(source, SUPPLEMENT_OUTPUT, supplement_codepoints(), SUPPLEMENT_FAMILY, SUPPLEMENT_POSTSCRIPT)


def _build(source: Path, output: Path, wanted: set[int], family: str, postscript: str) -> None:
    # Subset the OTF to `wanted`, convert it to TrueType outlines, rename it, write `output`.
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(source, recalcTimestamp=False)
    options = subset.Options()
    options.layout_features = []
    options.hinting = False
    options.desubroutinize = True
    options.notdef_outline = True
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6, 9, 11, 13, 14]
    options.drop_tables += ["BASE", "VORG", "DSIG", "vhea", "vmtx", "GSUB", "GPOS", "GDEF"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(wanted & set(font.getBestCmap())))
    subsetter.subset(font)
    _cff_to_glyf(font)
    _rename(font, family, postscript)
    font["head"].created = font["head"].modified = FIXED_TIMESTAMP
    output.parent.mkdir(parents=True, exist_ok=True)
    font.save(output)


def _cff_to_glyf(font: Any) -> None:
    # fontTools' own recipe (Snippets/otf2ttf.py): draw every CFF glyph through cu2qu into a TrueType glyph.
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import newTable

    order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyphs = {}
    for name in order:
        pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
        glyphs[name] = pen.glyph()
    font["loca"] = newTable("loca")
    font["glyf"] = glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = glyphs
    del font["CFF "]
    glyf.compile(font)
    for name, glyph in glyphs.items():  # left side bearing = xMin in TrueType
        advance, _ = font["hmtx"].metrics[name]
        font["hmtx"].metrics[name] = (advance, getattr(glyph, "xMin", 0))
    maxp = font["maxp"] = newTable("maxp")
    maxp.tableVersion = 0x00010000
    for field in (
        "maxZones",
        "maxTwilightPoints",
        "maxStorage",
        "maxFunctionDefs",
        "maxInstructionDefs",
        "maxStackElements",
        "maxSizeOfInstructions",
        "maxComponentElements",
    ):
        setattr(maxp, field, 0)
    maxp.maxZones = 1
    post = font["post"]
    post.formatType = 3.0  # no glyph names: reportlab does not need them and they cost space
    font.sfntVersion = "\x00\x01\x00\x00"


def _rename(font: Any, family: str, postscript: str) -> None:
    name = font["name"]
    for record in list(name.names):
        if record.nameID in (1, 4, 16):
            name.setName(family, record.nameID, record.platformID, record.platEncID, record.langID)
        elif record.nameID == 3:
            name.setName(f"1.001;{postscript}", 3, record.platformID, record.platEncID, record.langID)
        elif record.nameID == 6:
            name.setName(postscript, 6, record.platformID, record.platEncID, record.langID)
    name.setName(
        "A subset of Noto Serif CJK SC 1.001 with TrueType outlines, for the concierge system's notices.",
        10,
        3,
        1,
        0x409,
    )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m services.assignment.notice.build_font NotoSerifCJKsc-Regular.otf")
    build(Path(sys.argv[1]))
    for written in (OUTPUT, SUPPLEMENT_OUTPUT):
        print(f"wrote {written} ({written.stat().st_size:,} bytes)")
