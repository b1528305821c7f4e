"""The field-id layout as an SVG picture, with one id decoded on it.

Drawn from fieldid.LAYOUT (the codec's own table of bit ranges), so the
picture cannot drift from the code that encodes and decodes ids.  Every
coordinate is an integer computed here; no clock, font metrics or random
state enter, so the bytes depend only on the layout and the example.

    title
    63 62 61   56 ...             bit numbers at each sub-field's edges
    [1][0][010001]...             one cell per bit, the example's bits
     1  0   0x11 ...              each sub-field's value under its bits
        CLASS_CODE ...            names: inside when they fit, else below on a leader
"""

from __future__ import annotations

from html import escape

from codegen.abi import fieldid

BIT_W = 18  # px per bit
X0 = 24  # left margin
WIDTH = X0 * 2 + 64 * BIT_W
CHAR_W = 6.7  # advance of the 11 px monospace font, for placing labels
TITLE_Y, NUMBER_Y, BOX_Y, BOX_H = 20, 42, 48, 26
VALUE_Y = BOX_Y + BOX_H + 16
LABEL_Y, ROW_H = VALUE_Y + 22, 16
FILLS = ("#dbeafe", "#fde68a")  # alternate sub-fields; reserved ones are grey
RESERVED_FILL = "#e5e7eb"


def _text_w(text: str) -> int:
    return int(len(text) * CHAR_W + 0.999)


def _value_text(value: int, width: int) -> str:
    return str(value) if width == 1 else f"{value:#x}"


def _label_rows(subs: list[tuple[str, int, int]]) -> dict[str, int]:
    """Row of each name (0: under its own bits; 1, 2, ...: below, on a leader).

    A name too wide for its bits hangs on a leader from the middle of its bits
    and starts there, growing rightwards.  Placed right to left, each goes in
    the first row where it overlaps no name placed before and no leader
    placed before passes through or ends at it, so no line crosses a name.
    """
    rows: dict[str, int] = {}
    placed: list[tuple[int, int, int]] = []  # (row, start, end)
    leaders: list[tuple[int, int]] = []  # (x, row)
    for name, x, w in reversed(subs):
        tw, cx = _text_w(name), x + w // 2
        if tw + 4 <= w:
            rows[name] = 0
            continue
        start, end = cx - 3, cx - 3 + tw
        row = 1
        while any(r == row and a < end + 6 and start < b + 6 for r, a, b in placed) or any(
            start - 4 <= lx <= end + 4 and row <= lr for lx, lr in leaders
        ):
            row += 1
        rows[name] = row
        placed.append((row, start, end))
        leaders.append((cx, row))
    return rows


def layout_svg(example: int, title: str) -> str:
    """The SVG element (no XML declaration) of the layout with `example` decoded."""
    subs = [
        (name, X0 + (63 - (lo + width - 1)) * BIT_W, width * BIT_W)
        for name, lo, width in reversed(fieldid.LAYOUT)
    ]
    label_rows = _label_rows(subs)
    rows_used = max(label_rows.values())
    parts = []
    colour = 0
    for name, lo, width in reversed(fieldid.LAYOUT):
        hi = lo + width - 1
        x = X0 + (63 - hi) * BIT_W
        w = width * BIT_W
        cx = x + w // 2
        reserved = name.startswith("RESERVED")
        fill = RESERVED_FILL if reserved else FILLS[colour % 2]
        colour += 0 if reserved else 1
        value = fieldid.get(example, name)
        parts.append(f'<g class="fid-sub-field" data-name="{name}">')
        parts.append(
            f'<rect x="{x}" y="{BOX_Y}" width="{w}" height="{BOX_H}" fill="{fill}" '
            'stroke="#1f2937" stroke-width="2"/>'
        )
        for bit in range(hi, lo - 1, -1):
            bx = X0 + (63 - bit) * BIT_W
            if bit != hi:
                parts.append(
                    f'<line x1="{bx}" y1="{BOX_Y + 4}" x2="{bx}" y2="{BOX_Y + BOX_H - 4}" '
                    'stroke="#9ca3af" stroke-width="1"/>'
                )
            parts.append(
                f'<text x="{bx + BIT_W // 2}" y="{BOX_Y + 18}" class="fid-bit">'
                f"{(example >> bit) & 1}</text>"
            )
        parts.append(
            f'<text x="{x + 2}" y="{NUMBER_Y}" class="fid-num fid-start">{hi}</text>'
            if width > 1
            else f'<text x="{cx}" y="{NUMBER_Y}" class="fid-num">{hi}</text>'
        )
        if width > 1:
            parts.append(
                f'<text x="{x + w - 2}" y="{NUMBER_Y}" class="fid-num fid-end">{lo}</text>'
            )
        parts.append(
            f'<text x="{cx}" y="{VALUE_Y}" class="fid-value">{_value_text(value, width)}</text>'
        )
        row = label_rows[name]
        if row == 0:
            parts.append(f'<text x="{cx}" y="{LABEL_Y}" class="fid-name">{name}</text>')
        else:
            y = LABEL_Y + row * ROW_H
            parts.append(
                f'<line x1="{cx}" y1="{VALUE_Y + 5}" x2="{cx}" y2="{y - 10}" '
                'stroke="#6b7280" stroke-width="1"/>'
            )
            parts.append(f'<text x="{cx - 3}" y="{y}" class="fid-name fid-start">{name}</text>')
        parts.append("</g>")
    height = LABEL_Y + rows_used * ROW_H + 12
    head = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" class="fid" role="img" aria-labelledby="field-id-title">',
        f'<title id="field-id-title">{escape(title)}</title>',
        "<style>",
        # scoped to this picture: the HTML page inlines it
        "svg.fid text { font-family: 'DejaVu Sans Mono', monospace; fill: #111827; "
        "text-anchor: middle; }",
        "svg.fid .fid-bit { font-size: 12px; } "
        "svg.fid .fid-num { font-size: 10px; fill: #4b5563; }",
        "svg.fid .fid-value { font-size: 11px; font-weight: bold; fill: #1d4ed8; }",
        "svg.fid .fid-name { font-size: 11px; } svg.fid .fid-title { font-size: 13px; "
        "font-weight: bold; }",
        "svg.fid .fid-start, svg.fid .fid-title { text-anchor: start; } "
        "svg.fid .fid-end { text-anchor: end; }",
        "</style>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        f'<text x="{X0}" y="{TITLE_Y}" class="fid-title">{escape(title)}</text>',
    ]
    return "\n".join(head + parts + ["</svg>"]) + "\n"
