"""Personalization: subject and body templates in Jinja2's immutable sandbox.

A template is checked when it is saved: it must compile, stay under a size cap, name only
the fields a subscriber has (a misspelt `{{ frist_name }}` is refused with its line and
column), reach for no internals (`__class__`, `_private`, str.format's field names), and render
for a sample subscriber.
At send time a template that fails for one recipient fails that delivery only.

Fields: `email`, `first_name`, `last_name`, `remote_id`, `fields.<name>` (personalization
fields), `community.<name>` (the platform edition's Personalizations, e.g.
`community.thread_started_30d`, `community.last_login_at`, `community.communities`),
`score` and `grade` (engagement scoring), `mailing.name` and `unsubscribe_url`. A missing
value renders empty, or as its `default`: `{{ first_name | default("there") }}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import Template, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from kith.errors import InvalidInput

MAX_TEMPLATE_CHARACTERS = 100_000
FIELDS = frozenset(
    (
        "email",
        "first_name",
        "last_name",
        "remote_id",
        "fields",
        "community",
        "score",
        "grade",
        "mailing",
        "unsubscribe_url",
    )
)
SAMPLE: dict[str, Any] = {
    "email": "sample@example.org",
    "first_name": "Sam",
    "last_name": "Sample",
    "remote_id": "SAMPLE-1",
    "fields": {},
    "community": {"communities": [], "thread_started": 1, "thread_started_30d": 1},
    "score": 42,
    "grade": "B",
    "mailing": {"name": "Sample"},
    "unsubscribe_url": "https://example.org/unsubscribe",
}

_html = ImmutableSandboxedEnvironment(autoescape=True)
_plain = ImmutableSandboxedEnvironment(autoescape=False)


class InvalidTemplate(InvalidInput):
    """A template refused when saved; the message names the part, line and column."""


@dataclass(frozen=True)
class CompiledTemplate:
    source: str
    template: Template

    def render(self, context: Mapping[str, Any]) -> str:
        """The text for one recipient; TemplateError (SecurityError included) when it fails."""
        return self.template.render(context)


def compile_template(source: str, *, part: str, html: bool = False) -> CompiledTemplate:
    """Check and compile a template; InvalidTemplate names `part` ("subject", "html", ...)."""
    if len(source) > MAX_TEMPLATE_CHARACTERS:
        raise InvalidTemplate(
            f"{part}: the template has {len(source):,} characters; the limit is "
            f"{MAX_TEMPLATE_CHARACTERS:,}"
        )
    environment = _html if html else _plain
    try:
        tree = environment.parse(source)
    except TemplateSyntaxError as error:
        line = error.lineno or 1
        raise InvalidTemplate(f"{part}, line {line}: {error.message}") from None
    for name in tree.find_all(nodes.Name):
        known = name.name in FIELDS or name.name in environment.globals
        if name.ctx == "load" and not known and not _bound(tree, name.name):
            raise InvalidTemplate(
                f"{part}, line {name.lineno}, column {_column(source, name.lineno, name.name)}:"
                f" unknown field {name.name!r}; known fields: {', '.join(sorted(FIELDS))}"
            )
    for access in tree.find_all(nodes.Getattr):
        if access.attr in ("format", "format_map"):  # str.format reaches attributes by name
            raise InvalidTemplate(
                f"{part}, line {access.lineno}: .{access.attr}() is not allowed in a template; "
                "write the value with {{ ... }} (or the format filter) instead"
            )
        if access.attr.startswith("_"):
            raise InvalidTemplate(
                f"{part}, line {access.lineno}, column "
                f"{_column(source, access.lineno, '.' + access.attr) + 1}: "
                f"{access.attr!r} is internal and cannot be used in a template"
            )
    for applied in tree.find_all(nodes.Filter):
        named = [arg.value for arg in applied.args if isinstance(arg, nodes.Const)]
        if applied.name == "attr" and any(str(value).startswith("_") for value in named):
            raise InvalidTemplate(
                f"{part}, line {applied.lineno}: attr({named[0]!r}) reaches an internal attribute"
            )
    template = environment.from_string(tree)
    # the environment's globals (range, dict, ...) as a plain dict: every render copies them
    # into its context, and reading them through Jinja2's ChainMap cost as much as the render
    template.globals = dict(template.globals)
    compiled = CompiledTemplate(source, template)
    try:
        compiled.render(SAMPLE)
    except SecurityError as error:
        raise InvalidTemplate(
            f"{part}: the template reaches outside its sandbox: {error}"
        ) from None
    except TemplateError as error:
        raise InvalidTemplate(
            f"{part}: the template fails for a sample subscriber: {error}"
        ) from None
    return compiled


def _bound(tree: nodes.Template, name: str) -> bool:
    """Whether the template itself binds `name` (a loop variable, `set`, a macro argument)."""
    return any(
        bound.name == name and bound.ctx in ("store", "param")
        for bound in tree.find_all(nodes.Name)
    )


def _column(source: str, line: int, text: str) -> int:
    """Where `text` first appears on `line` (1-based), since Jinja2 keeps lines only."""
    lines = source.splitlines() or [""]
    found = lines[min(line, len(lines)) - 1].find(text)
    return found + 1 if found >= 0 else 1
