"""The Handlebars renderer, table-driven: escaping, helpers, else branches, paths, errors."""

from __future__ import annotations

from typing import Any

import pytest

from mailwright.messages.handlebars import TemplateError, compile_template, render

DATA: dict[str, Any] = {
    "name": "Ann",
    "html": "<b>&'\"`=</b>",
    "zero": 0,
    "empty": "",
    "none": None,
    "no": False,
    "yes": True,
    "list": ["a", "b", "c"],
    "none_list": [],
    "obj": {"x": 1, "y": "two", "deep": {"z": "<z>"}},
    "empty_obj": {},
    "people": [{"first": "Ann", "tags": ["x", "y"]}, {"first": "Bob", "tags": []}],
    "price": 12.5,
    "whole": 3.0,
    "kind": "gold",
    "num": 7,
}

CASES = [
    # variables and escaping
    ("plain text, no tags", "plain text, no tags"),
    ("Hi {{name}}!", "Hi Ann!"),
    ("{{html}}", "&lt;b&gt;&amp;&#x27;&quot;&#x60;&#x3D;&lt;/b&gt;"),
    ("{{{html}}}", "<b>&'\"`=</b>"),
    ("{{& html}}", "<b>&'\"`=</b>"),
    ("{{ name }}", "Ann"),
    ("[{{missing}}]", "[]"),
    ("[{{missing.deeper.still}}]", "[]"),
    ("[{{none}}][{{no}}][{{yes}}][{{zero}}]", "[][false][true][0]"),
    ("{{price}} {{whole}} {{num}}", "12.5 3 7"),
    ("{{list}}", "a,b,c"),
    ("{{obj}}", "[object Object]"),
    # nested objects and paths
    ("{{obj.y}} {{obj.deep.z}} {{{obj.deep.z}}}", "two &lt;z&gt; <z>"),
    ("{{list.1}} {{people.1.first}}", "b Bob"),
    ("{{this.name}} {{./name}}", "Ann Ann"),
    ("{{@root.kind}}", "gold"),
    # if / else / unless
    ("{{#if name}}yes{{/if}}", "yes"),
    ("{{#if missing}}yes{{else}}no{{/if}}", "no"),
    ("{{#if zero}}y{{else}}n{{/if}}{{#if empty}}y{{else}}n{{/if}}", "nn"),
    ("{{#if none_list}}y{{else}}n{{/if}}{{#if empty_obj}}y{{else}}n{{/if}}", "ny"),
    ("{{#if no}}y{{^}}n{{/if}}", "n"),
    ("{{#unless missing}}shown{{else}}hidden{{/unless}}", "shown"),
    ("{{#unless name}}shown{{else}}hidden{{/unless}}", "hidden"),
    ("{{#if yes}}{{#if no}}a{{else}}b{{/if}}{{else}}c{{/if}}", "b"),
    # each over lists and objects
    ("{{#each list}}[{{@index}}:{{this}}]{{/each}}", "[0:a][1:b][2:c]"),
    ("{{#each list}}{{#if @first}}<{{/if}}{{.}}{{#if @last}}>{{/if}}{{/each}}", "<abc>"),
    ("{{#each obj.deep}}{{@key}}={{this}}{{/each}}", "z=&lt;z&gt;"),
    ("{{#each obj}}{{@key}};{{/each}}", "x;y;deep;"),
    ("{{#each none_list}}x{{else}}empty{{/each}}", "empty"),
    ("{{#each missing}}x{{else}}empty{{/each}}", "empty"),
    ("{{#each people}}{{first}}({{#each tags}}{{this}}{{/each}}){{/each}}", "Ann(xy)Bob()"),
    ("{{#each people}}{{first}}-{{../kind}} {{/each}}", "Ann-gold Bob-gold "),
    # with
    ("{{#with obj}}{{y}}/{{deep.z}}/{{../name}}{{/with}}", "two/&lt;z&gt;/Ann"),
    ("{{#with missing}}x{{else}}none{{/with}}", "none"),
    # equal (Mailgun's helper: string forms compared)
    ('{{#equal kind "gold"}}G{{else}}other{{/equal}}', "G"),
    ("{{#equal kind 'silver'}}S{{else}}other{{/equal}}", "other"),
    ('{{#equal num "7"}}seven{{/equal}}', "seven"),
    ("{{#equal num 7}}seven{{/equal}}", "seven"),
    ("{{#equal name kind}}same{{else}}differ{{/equal}}", "differ"),
    # blocks named after data behave as in handlebars.js
    ("{{#obj}}{{y}}{{/obj}}", "two"),
    ("{{#list}}{{this}}{{/list}}", "abc"),
    ("{{#missing}}x{{else}}no{{/missing}}", "no"),
    # comments and whitespace control
    ("a{{! a comment }}b{{!-- {{name}} --}}c", "abc"),
    ("a  {{~name~}}  b", "aAnnb"),
    (
        "<ul>\n  {{~#each list~}}\n  <li>{{this}}</li>\n  {{~/each~}}\n</ul>",
        "<ul><li>a</li><li>b</li><li>c</li></ul>",
    ),
]


@pytest.mark.parametrize(("source", "expected"), CASES)
def test_render(source: str, expected: str) -> None:
    assert render(source, DATA) == expected


ERRORS = [
    ("{{#if name}}open", "line 1: '{{#if}}' is never closed"),
    ("{{/if}}", "closes nothing"),
    ("{{#if a}}x{{/each}}", "does not match"),
    ("a\nb\n{{name", "line 3: '{{' is never closed"),
    ("{{{name}}", "unbalanced"),
    ("{{}}", "empty"),
    ("{{> partial}}", "partials are not supported"),
    ("{{^name}}x{{/name}}", "inverted sections are not supported"),
    ("{{else}}", "outside a block"),
    ("{{#if a}}x{{else}}y{{else}}z{{/if}}", "outside a block"),
    ("{{#if}}x{{/if}}", "'#if' takes 1 argument"),
    ("{{#equal a}}x{{/equal}}", "'#equal' takes 2 arguments"),
    ("{{#each a b}}x{{/each}}", "'#each' takes 1 argument"),
    ("{{#custom a}}x{{/custom}}", "'#custom' takes no arguments"),
    ("{{upper name}}", "helpers are not supported"),
    ("{{#if a=b}}x{{/if}}", "hash arguments are not supported"),
    ("{{a..b}}", "not a valid name"),
    ('{{#"x"}}y{{/"x"}}', "a block needs a helper name"),
    ("{{#if a}}" * 101 + "{{/if}}" * 101, "line 1: blocks are nested more than 100 deep"),
]


@pytest.mark.parametrize(("source", "message"), ERRORS)
def test_syntax_errors(source: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message.replace("{", r"\{").replace("}", r"\}")):
        compile_template(source)


def test_nesting_up_to_the_limit_renders() -> None:
    assert render("{{#if yes}}" * 100 + "deep" + "{{/if}}" * 100, DATA) == "deep"


def test_compiled_template_is_cached_and_reusable() -> None:
    template = compile_template("{{a}}")
    assert compile_template("{{a}}") is template
    assert [template.render({"a": n}) for n in (1, "<", None)] == ["1", "&lt;", ""]
