"""Reading the dashboard's HTML in tests: a table row found by its ``data-*`` attribute, and
an attribute's value unescaped."""

from __future__ import annotations

import html
import re


def row(page: str, attribute: str, value: str) -> str:
    """The ``<tr>`` whose ``attribute`` is ``value``, markup included, up to its ``</tr>``."""
    pattern = rf'<tr\b[^>]*\b{attribute}="{re.escape(html.escape(value))}"[^>]*>.*?</tr>'
    found = re.search(pattern, page, re.DOTALL)
    assert found, f"no row with {attribute}={value!r}"
    return found.group(0)


def rows(page: str, attribute: str) -> list[str]:
    return re.findall(rf'<tr\b[^>]*\b{attribute}="[^"]*"[^>]*>.*?</tr>', page, re.DOTALL)


def attribute_of(markup: str, name: str) -> str:
    found = re.search(rf'\b{name}="([^"]*)"', markup)
    assert found, f"no {name} attribute"
    return html.unescape(found.group(1))
