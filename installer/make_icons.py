"""Render resources/wldesk.svg into the icons a bundle needs, with PySide6 itself (QtSvg).

``wldesk.ico`` (PNG-compressed entries of 16-256 px, what Windows Vista and later read) for the
executables and the installers, ``wldesk.png`` (256 px) for Linux. No QGuiApplication is needed:
QSvgRenderer paints into a QImage. Run by ``wldesk.spec``; usable alone:
``python installer/make_icons.py resources/wldesk.svg OUTDIR``.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

ICO_SIZES = (16, 20, 24, 32, 40, 48, 64, 96, 128, 256)


def _png(svg: Path, size: int) -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"make_icons: {svg} is not a valid SVG for Qt")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):  # type: ignore[call-overload]  # (the stubs say bytes; Qt wants str)
        raise SystemExit("make_icons: Qt could not encode a PNG")
    buffer.close()
    return bytes(data.data())


def make_icons(svg: Path, out_dir: Path) -> tuple[Path, Path]:
    """Write ``out_dir/wldesk.ico`` and ``out_dir/wldesk.png``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    images = [(size, _png(svg, size)) for size in ICO_SIZES]
    header = struct.pack("<HHH", 0, 1, len(images))
    offset = len(header) + 16 * len(images)
    entries, blobs = b"", b""
    for size, png in images:
        side = 0 if size >= 256 else size  # 0 means 256 in an ICONDIRENTRY
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(png), offset)
        blobs += png
        offset += len(png)
    ico = out_dir / "wldesk.ico"
    ico.write_bytes(header + entries + blobs)
    png_path = out_dir / "wldesk.png"
    png_path.write_bytes(images[-1][1])
    return ico, png_path


if __name__ == "__main__":
    for made in make_icons(Path(sys.argv[1]), Path(sys.argv[2])):
        print(made)
