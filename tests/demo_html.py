"""HTML checks shared by the demo tests: image sources and tag balance, with the standard library's parser."""

from __future__ import annotations

from html.parser import HTMLParser

VOID_TAGS = {"meta", "br", "img", "hr", "link", "input"}


class ImageSources(HTMLParser):
    """Collects every ``<img src>`` and fails on a closing tag that does not close the innermost open one."""

    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.sources.append(dict(attrs)["src"])
        if tag not in VOID_TAGS:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open[-1:]}"
        self.open.pop()


def parse_html(text: str) -> ImageSources:
    """Parse ``text``; every opened element must be closed."""
    parser = ImageSources()
    parser.feed(text)
    parser.close()
    assert not parser.open, f"unclosed elements: {parser.open}"
    return parser
