"""``templates.preview``: the send renderer over typed text and JSON sample variables; bad
input is ``InvalidInput`` naming the field."""

from __future__ import annotations

import pytest

from mailwright.errors import InvalidInput
from mailwright.messages import templates


@pytest.mark.parametrize(
    ("source", "variables", "expected"),
    [
        ("<p>Hi {{name}}</p>", '{"name": "Ada"}', "<p>Hi Ada</p>"),
        ("<p>Hi {{name}}</p>", '{"name": "<b>"}', "<p>Hi &lt;b&gt;</p>"),
        ("<p>Hi {{{name}}}</p>", '{"name": "<b>"}', "<p>Hi <b></p>"),
        ("{{#each xs}}{{this}},{{/each}}", '{"xs": [1, 2]}', "1,2,"),
        ("<p>Hi {{name}}</p>", "", "<p>Hi </p>"),
        ("<p>Hi {{name}}</p>", None, "<p>Hi </p>"),
    ],
)
def test_renders(source: str, variables: str | None, expected: str) -> None:
    assert templates.preview(source, variables) == expected


@pytest.mark.parametrize(
    ("source", "variables", "field", "message"),
    [
        ("{{#if x}}open", "{}", "template", "not a valid handlebars template: line 1"),
        ("{{/if}}", "{}", "template", "closes nothing"),
        ("", "{}", "template", "'template' parameter is missing"),
        ("ok", "{name: 1}", "variables", "'variables' is not valid JSON"),
        ("ok", "[1]", "variables", "'variables' must be a JSON object"),
        ("ok", '"x"', "variables", "'variables' must be a JSON object"),
    ],
)
def test_bad_input(source: str, variables: str, field: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        templates.preview(source, variables)
    assert caught.value.field == field
    assert message in caught.value.message
