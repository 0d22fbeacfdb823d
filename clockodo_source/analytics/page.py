"""The HTML skeleton and stylesheet of the report page (inline, so the file stands alone).

The markup is also well-formed XML, which keeps it easy to check and to post-process.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

STYLE = """
:root { color-scheme: light; }
body { margin: 0 auto; max-width: 1180px; padding: 24px 32px 48px;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
  color: #1f2933; background: #f7f8fa; }
header { border-bottom: 2px solid #d9dee5; margin-bottom: 8px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 0 0 2px; }
h3 { font-size: 14px; margin: 14px 0 0; color: #52606d; }
.meta { color: #52606d; margin: 0 0 12px; }
section { background: #fff; border: 1px solid #e1e5ea; border-radius: 6px;
  padding: 16px 20px; margin: 18px 0; }
.summary { color: #52606d; margin: 0 0 8px; }
.empty { color: #7b8794; font-style: italic; }
.note { color: #52606d; margin: 4px 0 0; font-size: 12px; }
svg.chart { display: block; max-width: 1080px; }
svg.chart text { font-size: 12px; fill: #1f2933; }
svg.chart text.tick { font-size: 10px; fill: #7b8794; }
svg.chart text.value { fill: #3e4c59; paint-order: stroke; stroke: #fff; stroke-width: 3px; }
svg.chart line.grid { stroke: #e4e7eb; stroke-width: 1; }
svg.chart line.reference { stroke: #9aa5b1; stroke-width: 1.5; stroke-dasharray: 4 3; }
rect.bar { fill: #4c78a8; }
rect.bar.ok { fill: #54a24b; }
rect.bar.warn { fill: #e8a33d; }
rect.bar.over { fill: #d64545; }
rect.bar.muted { fill: #bcc3cc; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { padding: 3px 8px; border-bottom: 1px solid #e4e7eb; }
th { background: #f0f2f5; text-align: left; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.text { text-align: left; }
tr.critical td:first-child { color: #d64545; font-weight: 600; }
tr.warning td:first-child { color: #b7791f; font-weight: 600; }
"""


def page(title: str, subtitle: str, sections: Sequence[str]) -> str:
    """A complete document; ``sections`` are HTML fragments, each put in its own box."""
    body = "\n".join(f"<section>\n{section}\n</section>" for section in sections)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title>{escape(title)}</title>
<style>{STYLE}</style>
</head>
<body>
<header>
<h1>{escape(title)}</h1>
<p class="meta">{escape(subtitle)}</p>
</header>
{body}
</body>
</html>
"""
