"""Personalization: subject and body templates in Jinja2's immutable sandbox.

A template is checked when it is saved: it must compile, stay under a size cap, name only
the fields a subscriber has (a misspelt `{{ frist_name }}` is refused with its line and
column), reach for no internals (`__class__`, `_private`, str.format's field names), and render
for a sample subscriber within a render's limits (kith.marketing.mailings.render_limits: time,
steps and characters).
At send time a template that fails for one recipient fails that delivery only, with the line
where and the reason why.

Fields: `email`, `first_name`, `last_name`, `remote_id`, `fields.<name>` (personalization
fields), `community.<name>` (the platform edition's Personalizations, e.g.
`community.thread_started_30d`, `community.last_login_at`, `community.communities`),
`score` and `grade` (engagement scoring), `mailing.name` and `unsubscribe_url`. A missing
value renders empty, or as its `default`: `{{ first_name | default("there") }}`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jinja2 import Template, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, TemplateError

from kith.errors import InvalidInput, describe
from kith.marketing.mailings import render_limits
from kith.marketing.mailings.render_limits import (
    BoundedEnvironment,
    RenderLimitExceeded,
    count_loop_rounds,
)

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

_html = BoundedEnvironment(autoescape=True)
_plain = BoundedEnvironment(autoescape=False)


@dataclass(frozen=True)
class TemplateProblem:
    """One thing wrong with a template: its part, its line (None: the whole part), the column
    when known, and why in words."""

    part: str
    line: int | None
    reason: str
    column: int | None = None

    @property
    def where(self) -> str:
        """`html, line 2, column 7`: as much of the place as is known."""
        line = f", line {self.line}" if self.line is not None else ""
        return self.part + line + (f", column {self.column}" if self.column is not None else "")

    @property
    def text(self) -> str:
        return f"{self.where}: {self.reason}"


class InvalidTemplate(InvalidInput):
    """A template refused when saved, with every problem found in it, each naming its part,
    line and column."""

    def __init__(self, problems: Sequence[TemplateProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(problem.text for problem in self.problems))


class RenderFailed(InvalidInput):
    """A template that failed for one recipient (or the sample one): the message names the
    part, the line (and the column, at a limit) and why; `error` is what stopped it."""

    def __init__(self, where: str, error: Exception) -> None:
        self.where = where
        self.error = error
        # Jinja2's own errors say what they are; any other (ZeroDivisionError ...) says its kind
        self.reason = (str(error) if isinstance(error, TemplateError) else "") or describe(error)
        super().__init__(f"{where}: {self.reason}")


@dataclass(frozen=True)
class CompiledTemplate:
    source: str
    template: Template
    part: str  # "subject", "html", ...

    def render(self, context: Mapping[str, Any]) -> str:
        """The text for one recipient, within a render's limits; RenderFailed when it fails."""
        try:
            return render_limits.render(self.template, context)
        except Exception as error:  # whatever stopped the template is the recipient's reason
            raise RenderFailed(self._where(error), error) from error

    def place(self, error: Exception) -> tuple[int | None, int | None]:
        """The template line the error came from, and the column when the error names the text
        it stopped at."""
        line = _template_line(error)
        if line is not None and isinstance(error, RenderLimitExceeded):
            return line, _column(self.source, line, error.near)
        return line, None

    def _where(self, error: Exception) -> str:
        """`part, line L` of the template line the error came from (and `, column C`)."""
        line, column = self.place(error)
        return TemplateProblem(self.part, line, "", column).where


def check_templates(subject: str, html: str, text: str | None) -> None:
    """Check a mailing's subject, HTML body and text body (when it has one) together:
    InvalidTemplate with the problems of all of them, not only the first one's."""
    problems: list[TemplateProblem] = []
    for source, part in ((subject, "subject"), (html, "html"), (text, "text")):
        if source is None:
            continue
        try:
            compile_template(source, part=part, html=part == "html")
        except InvalidTemplate as refused:
            problems.extend(refused.problems)
    if problems:
        raise InvalidTemplate(problems)


def compile_template(source: str, *, part: str, html: bool = False) -> CompiledTemplate:
    """Check and compile a template; InvalidTemplate names `part` ("subject", "html", ...) and
    lists every problem found: every unknown field and internal reached, or else the syntax
    error (Jinja2 stops at the first) or the sample subscriber's failed render."""
    if len(source) > MAX_TEMPLATE_CHARACTERS:
        raise InvalidTemplate(
            [
                TemplateProblem(
                    part,
                    None,
                    f"the template has {len(source):,} characters; the limit is "
                    f"{MAX_TEMPLATE_CHARACTERS:,}",
                )
            ]
        )
    environment = _html if html else _plain
    try:
        tree = environment.parse(source)
    except TemplateSyntaxError as error:
        raise InvalidTemplate(
            [TemplateProblem(part, error.lineno or 1, str(error.message))]
        ) from None
    problems = sorted(
        dict.fromkeys(
            _names_problems(tree, source, part, environment) + _reach_problems(tree, source, part)
        ),
        key=lambda problem: problem.line or 0,
    )
    if problems:
        raise InvalidTemplate(problems)
    template = environment.from_string(count_loop_rounds(tree))
    # the environment's globals (range, dict, ...) as a plain dict: every render copies them
    # into its context, and reading them through Jinja2's ChainMap cost as much as the render
    template.globals = dict(template.globals)
    compiled = CompiledTemplate(source, template, part)
    try:
        compiled.render(SAMPLE)
    except RenderFailed as failure:
        line, column = compiled.place(failure.error)
        refusal = TemplateProblem(part, line, _refusal(failure), column)
        raise InvalidTemplate([refusal]) from None
    return compiled


def _names_problems(
    tree: nodes.Template, source: str, part: str, environment: BoundedEnvironment
) -> list[TemplateProblem]:
    """Every name the template reads that is no field of a subscriber's, nor its own."""
    in_loops = _loop_variables(tree)
    return [
        TemplateProblem(
            part,
            name.lineno,
            f"unknown field {name.name!r}; known fields: {', '.join(sorted(FIELDS))}",
            _column(source, name.lineno, name.name),
        )
        for name in tree.find_all(nodes.Name)
        if name.ctx == "load"
        and not (name.name in FIELDS or name.name in environment.globals or id(name) in in_loops)
        and not _bound(tree, name.name)
    ]


def _reach_problems(tree: nodes.Template, source: str, part: str) -> list[TemplateProblem]:
    """Every reach for Python's internals: `.format()`, `._private`, `attr('_private')`."""
    problems = []
    for access in tree.find_all(nodes.Getattr):
        if access.attr in ("format", "format_map"):  # str.format reaches attributes by name
            problems.append(
                TemplateProblem(
                    part,
                    access.lineno,
                    f".{access.attr}() is not allowed in a template; "
                    "write the value with {{ ... }} (or the format filter) instead",
                )
            )
        elif access.attr.startswith("_"):
            column = _column(source, access.lineno, "." + access.attr) + 1
            problems.append(
                TemplateProblem(
                    part,
                    access.lineno,
                    f"{access.attr!r} is internal and cannot be used in a template",
                    column,
                )
            )
    for applied in tree.find_all(nodes.Filter):
        named = [arg.value for arg in applied.args if isinstance(arg, nodes.Const)]
        if applied.name == "attr" and any(str(value).startswith("_") for value in named):
            problems.append(
                TemplateProblem(
                    part, applied.lineno, f"attr({named[0]!r}) reaches an internal attribute"
                )
            )
    return problems


def _refusal(failure: RenderFailed) -> str:
    """Why a template that fails for the sample subscriber is refused."""
    error = failure.error
    if isinstance(error, RenderLimitExceeded):
        return failure.reason
    if isinstance(error, SecurityError):
        return f"the template reaches outside its sandbox: {error}"
    return f"the template fails for a sample subscriber: {failure.reason}"


def _template_line(error: BaseException) -> int | None:
    """The template line the error was raised on: Jinja2 rewrites a failed render's traceback
    so that its template frames stand at template lines."""
    line = None
    frame = error.__traceback__
    while frame is not None:
        if frame.tb_frame.f_code.co_filename == "<template>":
            line = frame.tb_lineno
        frame = frame.tb_next
    return line


def _bound(tree: nodes.Template, name: str) -> bool:
    """Whether the template itself binds `name` (a loop variable, `set`, a macro argument)."""
    return any(
        bound.name == name and bound.ctx in ("store", "param")
        for bound in tree.find_all(nodes.Name)
    )


def _loop_variables(tree: nodes.Template) -> set[int]:
    """The `loop` names inside a `for` body (`{{ loop.index }}`), which Jinja2 binds there."""
    return {
        id(name)
        for loop in tree.find_all(nodes.For)
        for statement in loop.body
        for name in statement.find_all(nodes.Name)
        if name.name == "loop"
    }


def _column(source: str, line: int, text: str) -> int:
    """Where `text` first appears on `line` (1-based), since Jinja2 keeps lines only."""
    lines = source.splitlines() or [""]
    found = lines[min(line, len(lines)) - 1].find(text)
    return found + 1 if found >= 0 else 1
