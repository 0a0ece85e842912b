"""HTML to PDF with WeasyPrint, and a clear message when its system libraries are missing.

WeasyPrint lays text out with Pango, HarfBuzz and fontconfig, which it loads from the
system when first imported. On Debian, `make browser-deps` (as root) installs them with
the CJK fonts. Without them the import raises OSError, which becomes PrintingUnavailable
naming the library and the command to install it. Chinese text needs a CJK font that
fontconfig finds. The font stack below names Noto CJK SC (Debian's fonts-noto-cjk) first,
then common alternatives.

Templates may load images and style sheets from their own folder, and from `data:` URLs,
but from nowhere else, so rendering never opens a network connection.
"""

from __future__ import annotations

import functools
import logging
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

logger = logging.getLogger(__name__)

#: Paper sizes of the template schema, width and height in millimetres.
PAPER_SIZES_MM: dict[str, tuple[float, float]] = {"A4": (210, 297), "A5": (148, 210), "B5": (176, 250), "letter": (215.9, 279.4)}

SERIF_FONTS = '"Noto Serif CJK SC", "Source Han Serif SC", "Noto Sans CJK SC", "SimSun", "Songti SC", serif'
SANS_FONTS = '"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif'

#: Debian packages that provide each library WeasyPrint loads, by a part of the library's name. The first
#: part found wins, so pangoft2 comes before pango, which its name contains.
_DEBIAN_PACKAGES = {
    "gobject": "libglib2.0-0",
    "pangoft2": "libpangoft2-1.0-0",
    "pango": "libpango-1.0-0",
    "harfbuzz": "libharfbuzz0b",
    "fontconfig": "libfontconfig1",
}
INSTALL_COMMAND = "sudo make browser-deps"
# NOTE: WeasyPrint does not document whether it may lay out documents in several threads at once, and it
# shares Pango and fontconfig state, so one process renders one PDF at a time. Server workers still run in parallel.
_RENDERING = threading.Lock()
_LIBRARY = re.compile(r"cannot load library '([^']+)'")


class PrintingUnavailable(Exception):
    """PDF rendering cannot work on this machine, because a system library that WeasyPrint loads is missing."""

    def __init__(self, message_en: str, message_zh: str) -> None:
        self.message_en = message_en
        self.message_zh = message_zh
        super().__init__(message_en)

    def message(self, lang: str) -> str:
        return self.message_en if lang == "en" else self.message_zh


@dataclass(frozen=True)
class PdfSupport:
    """The result of `check_pdf_support`: no problem for a working set-up, else the problem in both languages."""

    problem: PrintingUnavailable | None
    #: Whether fontconfig lists a font for Chinese; None when fc-list is not installed to ask.
    chinese_font: bool | None


def _unavailable(error: OSError) -> PrintingUnavailable:
    found = _LIBRARY.search(str(error))
    library = found.group(1) if found else "Pango"
    package = next((name for key, name in _DEBIAN_PACKAGES.items() if key in library.lower()), "libpango-1.0-0 libpangoft2-1.0-0")
    return PrintingUnavailable(
        f"PDF printing is not available: WeasyPrint could not load the system library {library}. "
        f"Install it as root with `{INSTALL_COMMAND}` in the metadesk folder, or `apt-get install {package}` on Debian, "
        "then restart the server.",
        f"PDF 打印不可用：WeasyPrint 无法加载系统库 {library}。"
        f"请在 metadesk 目录下以 root 身份运行 `{INSTALL_COMMAND}`，或在 Debian 上运行 `apt-get install {package}`，然后重启服务。",
    )


@functools.lru_cache(maxsize=1)
def _weasyprint() -> Any:
    """Import WeasyPrint once; raise PrintingUnavailable when its system libraries do not load."""
    try:
        import weasyprint
    except OSError as error:
        raise _unavailable(error) from error
    return weasyprint


@functools.lru_cache(maxsize=1)
def _has_chinese_font() -> bool | None:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    try:
        listed = subprocess.run([fc_list, ":lang=zh-cn", "family"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return bool(listed.stdout.strip())


def check_pdf_support(*, log: bool = True) -> PdfSupport:
    """Try to load WeasyPrint and look for a Chinese font; with `log`, log a warning for each problem found."""
    problem: PrintingUnavailable | None = None
    try:
        _weasyprint()
    except PrintingUnavailable as unavailable:
        problem = unavailable
        if log:
            logger.warning("%s", unavailable.message_en)
    chinese_font = _has_chinese_font()
    if chinese_font is False and log:
        logger.warning("fontconfig lists no font for Chinese, so printed Chinese text shows as empty boxes; "
                       "install fonts-noto-cjk with `%s`", INSTALL_COMMAND)
    return PdfSupport(problem, chinese_font)


def paper_size(paper: str) -> tuple[float, float]:
    """Return a paper's width and height in millimetres; unknown names raise KeyError."""
    return PAPER_SIZES_MM[paper]


def _page_css(paper: str) -> str:
    width, height = paper_size(paper)
    return f"@page {{ size: {width}mm {height}mm; }}\nhtml {{ font-family: {SERIF_FONTS}; }}\n"


def _fetcher(folder: Path) -> Any:
    """Return a WeasyPrint URL fetcher limited to `data:` URLs and the files inside `folder`."""
    weasyprint = _weasyprint()
    root = folder.resolve()
    base: Any = weasyprint.URLFetcher

    class FolderFetcher(base):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            scheme = urlsplit(url).scheme.lower()
            if scheme == "file":
                path = Path(unquote(urlsplit(url).path)).resolve()
                if not path.is_relative_to(root):
                    raise ValueError(f"{url} lies outside the template folder {root}")
            elif scheme != "data":
                raise ValueError(f"{url}: print templates may load only files of their own folder and data: URLs")
            return super().fetch(url, headers)

    return FolderFetcher()


def html_to_pdf(html: str, *, paper: str, folder: Path) -> bytes:
    """Lay out HTML as a PDF on the given paper; relative URLs resolve inside `folder`.

    The paper size and the CJK font stack come as a user style sheet, so a template's own
    `@page` and `font-family` rules take precedence (author rules win over user rules in the
    CSS cascade, which WeasyPrint 70 follows). Raises PrintingUnavailable without the
    system libraries.
    """
    weasyprint = _weasyprint()
    with _RENDERING:
        document = weasyprint.HTML(string=html, base_url=str(folder.resolve()) + "/", url_fetcher=_fetcher(folder))
        pdf: bytes = document.write_pdf(stylesheets=[weasyprint.CSS(string=_page_css(paper))])
    return pdf
