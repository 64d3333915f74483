"""The report as one HTML page, from its Markdown by markdown-it-py (CommonMark + tables).

Three additions to the library's output, as a core rule and a render rule: headings get
GitHub's anchors (so the report's contents links work on the page and on GitHub), a
paragraph that is one image becomes a <figure> with its caption, and every image is
embedded as a data URI, so the page makes no request and reads offline. Numbers are
right-aligned by the tables themselves (`---:` columns, see `compare.markdown_table`).
"""

from __future__ import annotations

import base64
import re
from html import escape
from pathlib import Path
from typing import Any

CSS = """
body { font: 16px/1.5 system-ui, sans-serif; max-width: 62rem; margin: 2rem auto;
  padding: 0 1rem; color: #222; }
h1, h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; }
table { border-collapse: collapse; margin: 1em 0; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; vertical-align: top; }
th { background: #f3f3f3; }
td[style*="right"] { white-space: nowrap; font-variant-numeric: tabular-nums; }
code { background: #f3f3f3; padding: 0 .2em; border-radius: 3px; }
pre { background: #f6f6f6; padding: .8em; overflow-x: auto; }
pre code { background: none; padding: 0; }
figure { margin: 1em 0; } img { max-width: 100%; }
figcaption { color: #555; font-size: .9em; }
blockquote { background: #fff4e0; border-left: 4px solid #f0a020; margin: 1em 0;
  padding: .5em 1em; }
"""


def slug(title: str) -> str:
    """A heading's anchor as GitHub makes it, so the contents links work in both views."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def _anchors_and_figures(state: Any) -> None:
    """markdown-it core rule: ids on headings; a paragraph that is one image → <figure>."""
    tokens = state.tokens
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            token.attrSet("id", slug(tokens[i + 1].content))
        elif token.type == "paragraph_open":
            children = tokens[i + 1].children or []
            if len(children) == 1 and children[0].type == "image":
                token.tag = tokens[i + 2].tag = "figure"
                children[0].meta["caption"] = True


def _embedded_image(self: Any, tokens: list[Any], idx: int, options: Any, env: dict) -> str:
    """<img> with the PNG itself as a data URI (a page with no outside requests)."""
    from markdown_it.common.utils import escapeHtml

    token = tokens[idx]
    alt = escapeHtml(self.renderInlineAsText(token.children, options, env))
    data = base64.b64encode((env["base"] / token.attrGet("src")).read_bytes()).decode("ascii")
    img = f'<img src="data:image/png;base64,{data}" alt="{alt}">'
    return img + (f"<figcaption>{alt}</figcaption>" if token.meta.get("caption") else "")


def html_page(markdown: str, title: str, base: Path) -> str:
    """The report as one HTML page: CommonMark with tables (markdown-it-py), figures from
    `base` embedded, numbers right-aligned (the tables' `---:` columns)."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    md.core.ruler.push("anchors_and_figures", _anchors_and_figures)
    md.add_render_rule("image", _embedded_image)
    body = md.render(markdown, {"base": base})
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<style>{CSS}</style>\n</head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n"
    )
