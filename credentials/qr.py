"""The QR code on a printed credential: the verification page's URL, as SVG (``segno``), drawn at a
size a phone camera reads from paper; error correction "M" survives a crease or a smudge."""

from __future__ import annotations

import io

import segno


def svg(url: str) -> str:
    code = segno.make(url, error="m", micro=False)
    out = io.BytesIO()
    code.save(out, kind="svg", scale=4, border=2, xmldecl=False, svgns=True, title="QR")
    return out.getvalue().decode("utf-8")
