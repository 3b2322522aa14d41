"""A small Handlebars renderer for stored templates (Mailgun's default engine); pure, no I/O.

Supported: ``{{path}}`` (HTML-escaped as handlebars.js escapes), ``{{{path}}}`` and ``{{& path}}``
(raw), dotted paths into nested objects and lists (``a.b.0``), ``this``, ``../`` and ``@root``,
``@index``/``@key``/``@first``/``@last`` inside ``each``, comments (``{{! }}``, ``{{!-- --}}``),
``~`` whitespace control, and the block helpers Mailgun documents: ``if``, ``unless``, ``each``,
``with`` and ``equal`` (true when both arguments' string forms are equal), each with
``{{else}}``. Any other block name behaves as in handlebars.js (``blockHelperMissing``): a list
iterates, an object becomes the context, ``true`` renders the body once. A missing variable
renders empty. Partials and custom helpers are not supported: they are syntax errors.

pybars3, the Python Handlebars implementation on PyPI, had its last release in 2019 and depends
on PyMeta3 (2015); this module is small enough to own and test completely instead.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Template", "TemplateError", "compile_template", "render"]


class TemplateError(ValueError):
    """A template that does not parse; the message says what and on which line."""


@dataclass(frozen=True, slots=True)
class _Path:
    parts: tuple[str, ...]  # "@index" style data names keep their "@"
    depth: int = 0  # how many "../"
    is_root: bool = False


@dataclass(frozen=True, slots=True)
class _Literal:
    value: Any


_Arg = _Path | _Literal


@dataclass(frozen=True, slots=True)
class _Text:
    text: str


@dataclass(frozen=True, slots=True)
class _Var:
    path: _Arg
    escape: bool


@dataclass(slots=True)
class _Block:
    name: str
    args: list[_Arg]
    line: int
    body: list[_Node] = field(default_factory=list)
    inverse: list[_Node] | None = None


_Node = _Text | _Var | _Block

# A tag: "{{{ ... }}}" or "{{ ... }}", with optional "~" whitespace control on either side.
_TAG = re.compile(r"\{\{(~?)(\{)?(.*?)(\})?(~?)\}\}", re.DOTALL)
_COMMENT = re.compile(r"\{\{(~?)!--(.*?)--(~?)\}\}", re.DOTALL)
_ARG = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|\'((?:[^\'\\]|\\.)*)\'|([^\s"\']+))')
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "'": "&#x27;",
        "`": "&#x60;",
        "=": "&#x3D;",
    }
)
MAX_DEPTH = 100  # rendering recurses once per nested block


@dataclass(frozen=True, slots=True)
class Template:
    nodes: tuple[_Node, ...]

    def render(self, variables: Mapping[str, Any]) -> str:
        out: list[str] = []
        _render_nodes(self.nodes, _Scope(variables, None, {}, variables), out)
        return "".join(out)


@functools.lru_cache(maxsize=256)
def compile_template(source: str) -> Template:
    """Parse once; the same source gives the same (cached) ``Template``."""
    return Template(tuple(_Parser(source).parse()))


def render(source: str, variables: Mapping[str, Any]) -> str:
    return compile_template(source).render(variables)


# --- parsing ---------------------------------------------------------------------------------


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source

    def _line(self, offset: int) -> int:
        return self.source.count("\n", 0, offset) + 1

    def parse(self) -> list[_Node]:
        root: list[_Node] = []
        stack: list[_Block] = []
        current = root
        pos = 0
        strip_next = False
        for kind, match in self._tags():
            _add_text(current, self.source[pos : match.start()], strip_next, match.group(1) == "~")
            pos = match.end()
            strip_next = (match.group(3) if kind == "comment" else match.group(5)) == "~"
            if kind != "comment":
                current = self._tag(match, stack, root)
        _add_text(current, self.source[pos:], strip_next, False)
        if stack:
            raise TemplateError(
                f"line {stack[-1].line}: '{{{{#{stack[-1].name}}}}}' is never closed"
            )
        return root

    def _tags(self) -> list[tuple[str, re.Match[str]]]:
        found: list[tuple[str, re.Match[str]]] = []
        pos = 0
        while True:
            start = self.source.find("{{", pos)
            if start < 0:
                return found
            comment = _COMMENT.match(self.source, start)
            if comment is not None:
                found.append(("comment", comment))
                pos = comment.end()
                continue
            tag = _TAG.match(self.source, start)
            if tag is None:
                raise TemplateError(f"line {self._line(start)}: '{{{{' is never closed")
            found.append(("tag", tag))
            pos = tag.end()

    def _tag(self, match: re.Match[str], stack: list[_Block], root: list[_Node]) -> list[_Node]:
        line = self._line(match.start())
        opened, body, closed = match.group(2), match.group(3).strip(), match.group(4)
        current = _children(stack, root)
        if opened or closed:
            return _triple(match, body, current, line)
        if not body:
            raise TemplateError(f"line {line}: empty '{{{{}}}}'")
        if body[0] == "#":
            return self._open(body[1:], stack, current, line)
        if body[0] == "/":
            return self._close(body[1:].strip(), stack, root, line)
        if body in ("else", "^"):
            return self._else(stack, line)
        if body[0] in ">^":
            what = "partials" if body[0] == ">" else "inverted sections"
            raise TemplateError(f"line {line}: {what} are not supported")
        if body[0] != "!":
            raw = body[0] == "&"
            current.append(_Var(_single_arg(body[raw:], line), escape=not raw))
        return current

    @staticmethod
    def _open(body: str, stack: list[_Block], current: list[_Node], line: int) -> list[_Node]:
        if len(stack) >= MAX_DEPTH:
            raise TemplateError(f"line {line}: blocks are nested more than {MAX_DEPTH} deep")
        words = _args(body, line)
        block = _Block(name=_block_name(words, line), args=words[1:], line=line)
        _check_arity(block)
        current.append(block)
        stack.append(block)
        return block.body

    @staticmethod
    def _close(name: str, stack: list[_Block], root: list[_Node], line: int) -> list[_Node]:
        if not stack:
            raise TemplateError(f"line {line}: '{{{{/{name}}}}}' closes nothing")
        block = stack.pop()
        if block.name != name:
            raise TemplateError(
                f"line {line}: '{{{{/{name}}}}}' does not match '{{{{#{block.name}}}}}'"
            )
        return _children(stack, root)

    @staticmethod
    def _else(stack: list[_Block], line: int) -> list[_Node]:
        if not stack or stack[-1].inverse is not None:
            raise TemplateError(f"line {line}: '{{{{else}}}}' outside a block")
        stack[-1].inverse = []
        return stack[-1].inverse


def _triple(match: re.Match[str], body: str, current: list[_Node], line: int) -> list[_Node]:
    if not (match.group(2) and match.group(4)):
        raise TemplateError(f"line {line}: unbalanced '{{{{{{' in '{match.group(0)}'")
    current.append(_Var(_single_arg(body, line), escape=False))
    return current


def _add_text(nodes: list[_Node], text: str, strip_left: bool, strip_right: bool) -> None:
    """Literal text between tags; ``~`` on a neighbouring tag strips its whitespace."""
    if strip_left:
        text = text.lstrip()
    if strip_right:
        text = text.rstrip()
    if text:
        nodes.append(_Text(text))


def _children(stack: list[_Block], root: list[_Node]) -> list[_Node]:
    if not stack:
        return root
    block = stack[-1]
    return block.body if block.inverse is None else block.inverse


def _block_name(words: list[_Arg], line: int) -> str:
    if not words or not isinstance(words[0], _Path) or len(words[0].parts) != 1:
        raise TemplateError(f"line {line}: a block needs a helper name")
    return words[0].parts[0]


def _check_arity(block: _Block) -> None:
    wanted = {"if": 1, "unless": 1, "each": 1, "with": 1, "equal": 2}.get(block.name, 0)
    if len(block.args) != wanted:
        count = "no arguments" if wanted == 0 else f"{wanted} argument{'s' * (wanted > 1)}"
        raise TemplateError(f"line {block.line}: '#{block.name}' takes {count}")


def _single_arg(text: str, line: int) -> _Arg:
    args = _args(text, line)
    if len(args) != 1:
        raise TemplateError(f"line {line}: helpers are not supported in '{{{{{text.strip()}}}}}'")
    return args[0]


def _args(text: str, line: int) -> list[_Arg]:
    args: list[_Arg] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _ARG.match(text, pos)
        if match is None:
            raise TemplateError(f"line {line}: cannot parse '{text.strip()}'")
        pos = match.end()
        quoted = match.group(1) if match.group(1) is not None else match.group(2)
        if quoted is not None:
            args.append(_Literal(re.sub(r"\\(.)", r"\1", quoted)))
        else:
            args.append(_word(match.group(3), line))
    return args


def _word(word: str, line: int) -> _Arg:
    if word in ("true", "false"):
        return _Literal(word == "true")
    if word in ("null", "undefined"):
        return _Literal(None)
    if _NUMBER.fullmatch(word):
        return _Literal(json.loads(word))
    if "=" in word:
        raise TemplateError(f"line {line}: hash arguments are not supported ('{word}')")
    return _path(word, line)


def _path(word: str, line: int) -> _Path:
    depth = 0
    while word.startswith("../"):
        depth += 1
        word = word[3:]
    is_root = word == "@root" or word.startswith("@root.")
    if is_root:
        word = word[6:]
    if word.startswith(("this.", "./")):
        word = word.split(".", 1)[1] if word.startswith("this.") else word[2:]
    elif word in ("this", "."):
        word = ""
    parts = tuple(word.split(".")) if word else ()
    if any(not part for part in parts) or any(c in word for c in "{}()"):
        raise TemplateError(f"line {line}: '{word}' is not a valid name")
    return _Path(parts, depth, is_root)


# --- rendering -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Scope:
    context: Any
    parent: _Scope | None
    data: dict[str, Any]  # @index, @key, @first, @last
    root: Any


def _render_nodes(nodes: Sequence[_Node], scope: _Scope, out: list[str]) -> None:
    for node in nodes:
        if isinstance(node, _Text):
            out.append(node.text)
        elif isinstance(node, _Var):
            text = _as_text(_value(node.path, scope))
            out.append(text.translate(_ESCAPES) if node.escape else text)
        else:
            _render_block(node, scope, out)


def _render_block(block: _Block, scope: _Scope, out: list[str]) -> None:
    args = [_value(arg, scope) for arg in block.args]
    inverse = block.inverse or []
    if block.name in ("if", "unless"):
        chosen = _is_truthy(args[0]) == (block.name == "if")
        _render_nodes(block.body if chosen else inverse, scope, out)
    elif block.name == "equal":
        same = _as_text(args[0]) == _as_text(args[1])
        _render_nodes(block.body if same else inverse, scope, out)
    elif block.name == "with":
        if _is_truthy(args[0]):
            _render_nodes(block.body, _Scope(args[0], scope, {}, scope.root), out)
        else:
            _render_nodes(inverse, scope, out)
    elif block.name == "each":
        _render_each(block, args[0], scope, out)
    else:
        _render_missing_helper(block, _lookup(scope.context, (block.name,)), scope, out)


def _render_each(block: _Block, value: Any, scope: _Scope, out: list[str]) -> None:
    items: list[tuple[str | None, Any]]
    if isinstance(value, Mapping):
        items = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, list | tuple):
        items = [(None, v) for v in value]
    else:
        items = []
    if not items:
        _render_nodes(block.inverse or [], scope, out)
        return
    last = len(items) - 1
    for index, (key, item) in enumerate(items):
        data: dict[str, Any] = {"@index": index, "@first": index == 0, "@last": index == last}
        if key is not None:
            data["@key"] = key
        _render_nodes(block.body, _Scope(item, scope, data, scope.root), out)


def _render_missing_helper(block: _Block, value: Any, scope: _Scope, out: list[str]) -> None:
    """handlebars.js ``blockHelperMissing``: iterate lists, enter objects, test the rest."""
    if isinstance(value, list | tuple):
        _render_each(block, value, scope, out)
    elif value is True:
        _render_nodes(block.body, scope, out)
    elif _is_truthy(value):
        _render_nodes(block.body, _Scope(value, scope, {}, scope.root), out)
    else:
        _render_nodes(block.inverse or [], scope, out)


def _value(arg: _Arg, scope: _Scope) -> Any:
    if isinstance(arg, _Literal):
        return arg.value
    if arg.is_root:
        return _lookup(scope.root, arg.parts)
    for _ in range(arg.depth):
        scope = scope.parent or scope
    if arg.parts and arg.parts[0].startswith("@"):
        return _lookup(scope.data.get(arg.parts[0]), arg.parts[1:])
    return _lookup(scope.context, arg.parts)


def _lookup(value: Any, parts: Sequence[str]) -> Any:
    for part in parts:
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list | tuple) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _is_truthy(value: Any) -> bool:
    """handlebars.js ``if``: false, null, "", 0 and [] are false; {} is true."""
    if isinstance(value, Mapping):
        return True
    return bool(value)


def _as_text(value: Any) -> str:
    """The string JavaScript would make of a JSON value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | tuple):
        return ",".join(_as_text(item) for item in value)
    if isinstance(value, Mapping):
        return "[object Object]"
    return str(value)
