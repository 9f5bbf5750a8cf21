"""A render's limits: a runaway template is refused when saved, at once, with its line, column and
reason; one that fails only for some recipient fails that render alone; and a template within
the limits renders exactly as Jinja2's own sandbox renders it."""

from __future__ import annotations

import time

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from kith.marketing.mailings.templates import InvalidTemplate, RenderFailed, compile_template

TOO_LONG = "more than 1,000,000 characters (the limit of a render)"


@pytest.mark.parametrize(
    ("source", "refusal"),
    [
        pytest.param(
            "<p>{{ 'x' * 1000000000 }}</p>",
            f"html, line 1, column 11: '*' makes {TOO_LONG}",
            id="a billion characters",
        ),
        pytest.param(
            "<p>\n  {{ 99999 ** 99999999 }}\n</p>",
            "html, line 2, column 12: '**' makes a number of more than 4,300 digits",
            id="a power of 500 million digits",
        ),
        pytest.param(
            "{% for a in range(99999) %}\n  {% for b in range(99999) %}{% endfor %}\n{% endfor %}",
            "html, line 2, column 6: the template takes more than 100,000 steps (loop rounds, "
            "calls and filters) to render",
            id="nested loops of 10 billion rounds",
        ),
        pytest.param(
            "{% for n in range(99999) %}<p>{{ first_name }}, a paragraph.</p>{% endfor %}",
            f"html, line 1, column 31: the template writes {TOO_LONG}",
            id="writing 3 MB in a loop",
        ),
        pytest.param(
            "{% set block %}{% for n in range(99999) %}<p>a paragraph of words</p>{% endfor %}"
            "{% endset %}{{ block | length }}",
            f"html, line 1, column 94: the template writes {TOO_LONG}",
            id="3 MB kept in a block",
        ),
        pytest.param(
            "{{ email | center(1000000000) }}",
            f"html, line 1, column 12: |center makes {TOO_LONG}",
            id="padding by a filter",
        ),
        pytest.param(
            "{{ email.ljust(1000000000) }}",
            f"html, line 1, column 10: .ljust() makes {TOO_LONG}",
            id="padding by a method",
        ),
        pytest.param(
            "{{ '%0999999999d' % score }}",
            f"html, line 1, column 5: '%' makes {TOO_LONG}",
            id="a printf width",
        ),
        pytest.param(
            "{% set s = 'x' * 99999 %}{{ s | replace('x', s) }}",
            f"html, line 1, column 33: |replace makes {TOO_LONG}",
            id="replacing each character by 100,000",
        ),
        pytest.param(
            "{% set s = 'x' * 999999 %}{{ [s, s, s] | join(', ') }}",
            f"html, line 1, column 42: |join makes {TOO_LONG}",
            id="joining three texts of a million",
        ),
        pytest.param(
            "{% set ns = namespace(n=2) %}{% for i in range(40) %}"
            "{% set ns.n = ns.n * ns.n %}{% endfor %}{{ ns.n }}",
            "html, line 1, column 73: '*' makes a number of more than 4,300 digits",
            id="squaring 40 times",
        ),
    ],
)
def test_a_runaway_template_is_refused_at_once_when_saved(source: str, refusal: str) -> None:
    started = time.monotonic()
    with pytest.raises(InvalidTemplate) as refused:
        compile_template(source, part="html", html=True)

    assert str(refused.value) == refusal
    assert time.monotonic() - started < 2  # not minutes: each limit stops the render early


def test_a_render_stops_after_one_second() -> None:
    slow = "{% for n in range(99999) %}{% set big = ('x' * 999999).upper() %}{% endfor %}"

    started = time.monotonic()
    with pytest.raises(InvalidTemplate, match="takes more than 1 s to render"):
        compile_template(slow, part="text")

    assert time.monotonic() - started < 3


def test_a_template_runaway_for_one_recipient_fails_that_render_with_line_and_reason() -> None:
    compiled = compile_template(
        "Hi {{ first_name }}\n{% if fields.vip %}{{ 'x' * 1000000000 }}{% endif %}", part="text"
    )

    with pytest.raises(RenderFailed) as failed:
        compiled.render({"first_name": "Ann", "fields": {"vip": True}})

    assert str(failed.value) == f"text, line 2, column 27: '*' makes {TOO_LONG}"
    assert compiled.render({"first_name": "Bo", "fields": {}}) == "Hi Bo\n"


SANE = """{{ first_name | default('friend') | title }}, {{ '-' * 20 }}
{% for n in range(3) %}{{ n }}{{ ', ' if n < 2 else '' }}{% endfor %}
{{ range(5) | join(', ') }} {{ ', '.join(['a', 'b']) }} {{ 2 ** 64 }} {{ '%5.2f' % 3.14159 }}
{{ fields.city | default('') | center(12) }}|{{ 'a b c' | replace(' ', '-') }}|{{ [1, 2] }}
{{ 'Line\\nline' | indent(2) }} {{ 'tab\\tbed'.expandtabs(4) }} {{ [1, 2, 3] | batch(2) | list }}
{% set ns = namespace(total=0) %}{% for n in [1, 2, 3] %}{% set ns.total = ns.total + n %}\
{% endfor %}{{ ns.total }} {{ '%s and %s' | format('x', 'y') }} {{ ('ab' * 3) ~ '!' }}"""


@pytest.mark.parametrize("html", [False, True], ids=["text", "html"])
def test_within_its_limits_a_template_renders_as_jinjas_own_sandbox_renders_it(
    html: bool,
) -> None:
    context = {"first_name": "ann <b>", "fields": {"city": "Lyon"}}
    plain_sandbox = ImmutableSandboxedEnvironment(autoescape=html).from_string(SANE)

    rendered = compile_template(SANE, part="html", html=html).render(context)

    assert rendered == plain_sandbox.render(context)
