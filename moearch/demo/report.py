"""A self-contained HTML report: sections of prose, tables and images (embedded as data URIs).

The page needs nothing beside itself: images are base64 PNGs inside the HTML, styles inline,
no scripts, no network. Written atomically.
"""
from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

CSS = """
body { font-family: system-ui, -apple-system, Segoe UI, sans-serif; margin: 0; color: #1b1f24; background: #f6f7f9; }
header { background: #1f3b57; color: white; padding: 24px 40px; }
header h1 { margin: 0 0 6px 0; font-size: 26px; }
header p { margin: 0; opacity: 0.85; }
nav { padding: 10px 40px; background: #e8edf2; font-size: 14px; }
nav a { margin-right: 16px; color: #1f3b57; text-decoration: none; }
main { padding: 10px 40px 40px 40px; max-width: 1200px; }
section { background: white; border-radius: 8px; padding: 18px 24px; margin: 18px 0; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
h2 { margin-top: 0; color: #1f3b57; }
table { border-collapse: collapse; margin: 10px 0; font-size: 13px; }
th, td { border-bottom: 1px solid #dde3ea; padding: 4px 10px; text-align: right; }
th { background: #f0f3f6; }
td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #e3e7ec; border-radius: 4px; margin: 8px 0; }
.note { color: #57606a; font-size: 13px; }
.kpis { display: flex; flex-wrap: wrap; gap: 12px; }
.kpi { background: #f0f5fa; border-radius: 6px; padding: 10px 14px; min-width: 150px; }
.kpi b { display: block; font-size: 20px; color: #1f3b57; }
.pass { color: #1a7f37; font-weight: 600; } .fail { color: #cf222e; font-weight: 600; }
"""


@dataclass
class Table:
    header: Sequence[str]
    rows: Sequence[Sequence[object]]
    caption: str = ""

    def html(self) -> str:
        head = "".join(f"<th>{html.escape(str(h))}</th>" for h in self.header)
        body = "".join("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>" for row in self.rows)
        cap = f"<caption class='note'>{html.escape(self.caption)}</caption>" if self.caption else ""
        return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "<span class='pass'>pass</span>" if value else "<span class='fail'>fail</span>"
    if isinstance(value, float):
        # counts and large values in full with separators (19,910), small ones to 4 digits (0.0735)
        return f"{value:,.0f}" if value.is_integer() or abs(value) >= 1e3 else f"{value:.4g}"
    return html.escape(str(value))


@dataclass
class Section:
    anchor: str
    title: str
    intro: str = ""
    blocks: list[str] = field(default_factory=list)

    def text(self, paragraph: str, note: bool = False) -> "Section":
        cls = " class='note'" if note else ""
        self.blocks.append(f"<p{cls}>{html.escape(paragraph)}</p>")
        return self

    def table(self, table: Table) -> "Section":
        self.blocks.append(table.html())
        return self

    def image(self, png: Path, alt: str) -> "Section":
        data = base64.b64encode(Path(png).read_bytes()).decode("ascii")
        self.blocks.append(f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{data}'>")
        return self

    def kpis(self, items: Sequence[tuple[str, str]]) -> "Section":
        cells = "".join(f"<div class='kpi'><b>{html.escape(v)}</b>{html.escape(k)}</div>" for k, v in items)
        self.blocks.append(f"<div class='kpis'>{cells}</div>")
        return self

    def html(self) -> str:
        intro = f"<p>{html.escape(self.intro)}</p>" if self.intro else ""
        return f"<section id='{self.anchor}'><h2>{html.escape(self.title)}</h2>{intro}{''.join(self.blocks)}</section>"


def render(title: str, subtitle: str, sections: Sequence[Section]) -> str:
    nav = "".join(f"<a href='#{s.anchor}'>{html.escape(s.title)}</a>" for s in sections)
    body = "".join(s.html() for s in sections)
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body><header><h1>{html.escape(title)}</h1><p>{html.escape(subtitle)}</p>"
            f"</header><nav>{nav}</nav><main>{body}</main></body></html>")
