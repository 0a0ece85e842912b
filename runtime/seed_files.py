"""Small valid files for the attachment fields of demo records: a one-page PDF, or a PNG image."""

from __future__ import annotations

import struct
import zlib

from metamodel import model as m


def demo_file(field: m.Field, title: str) -> tuple[str, bytes] | None:
    """Return a file name and content the field accepts, or None when it accepts neither PDF nor PNG."""
    accepted = field.accept or ("pdf",)
    stem = "".join(character if character.isalnum() else "-" for character in title).strip("-") or "document"
    if "pdf" in accepted:
        return f"{stem}.pdf", pdf(title)
    if "png" in accepted:
        return f"{stem}.png", png(title)
    return None


def pdf(title: str) -> bytes:
    """Return a one-page A4 PDF showing the title (ASCII) in Helvetica."""
    text = "".join(character for character in title if 32 <= ord(character) < 127).replace("\\", "").replace("(", "").replace(")", "")
    stream = f"BT /F1 16 Tf 72 760 Td (metadesk demo document) Tj 0 -28 Td ({text}) Tj ET".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    start = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{start}\n%%EOF\n".encode()
    return bytes(out)


def png(title: str, width: int = 160, height: int = 100) -> bytes:
    """Return a PNG of one colour, the colour taken from the title so different titles give different files."""
    shade = zlib.crc32(title.encode())
    pixel = bytes((64 + shade % 160, 64 + (shade >> 8) % 160, 64 + (shade >> 16) % 160))
    raw = b"".join(b"\x00" + pixel * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
