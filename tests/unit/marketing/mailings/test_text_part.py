"""The text part derived from a message's HTML: the fast reader (one regular expression) gives
the text html.parser gives, wherever it answers, and it answers for HTML of the usual shapes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kith.marketing.mailings.text_part import _HtmlParserReader, _read_fast, text_of_html


def pieces(alphabet: list[str], max_size: int) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(alphabet), max_size=max_size).map("".join)


def by_html_parser(html: str) -> str:
    parser = _HtmlParserReader()
    parser.feed(html)
    parser.close()
    return parser.text()


SPACE = st.sampled_from([" ", "  ", "\n", "\t", " \r\n ", "\f"])
ODD_SPACE = st.sampled_from(["\v", "\xa0", "\u2028"])
NAME = st.one_of(
    st.sampled_from(["p", "P", "br", "div", "li", "tr", "h1", "H2", "a", "A", "span", "b"]),
    st.sampled_from(["head", "title", "td", "table", "img", "font", "section"]),
    st.from_regex(r"[a-zA-Z][a-zA-Z0-9]{0,4}", fullmatch=True),
)
VALUE_TEXT = pieces([*list("ab /:?.#=é'\"<>-_"), "&amp;", "&#39;", "&lt;", "&", ";", "&quot"], 12)
VALUE = st.one_of(
    VALUE_TEXT.map(lambda text: '"' + text.replace('"', "") + '"'),
    VALUE_TEXT.map(lambda text: "'" + text.replace("'", "") + "'"),
    VALUE_TEXT,  # unquoted: the reader takes it only when html.parser reads it alike
)
ATTRIBUTE = st.builds(
    lambda space, name, equals, value: f"{space}{name}{equals}{value}" if equals else space + name,
    st.one_of(SPACE, ODD_SPACE, st.just("")),
    st.sampled_from(["href", "HREF", "class", "title", "data-x", "id", "alt"]),
    st.sampled_from(["", "=", " = ", "=="]),
    VALUE,
)
START = st.builds(
    lambda name, attributes, end: f"<{name}{''.join(attributes)}{end}",
    NAME,
    st.lists(ATTRIBUTE, max_size=3),
    st.sampled_from([">", "/>", " >", " />", "/ >"]),
)
END = st.builds(lambda name, space: f"</{name}{space}>", NAME, st.sampled_from(["", " ", "\n"]))
DATA = pieces(
    [*list("Hello wörld, 1 > 0; #x-"), "&amp;", "&#39;", "&lt;", "&nbsp;", "&", "&#", " \t "], 20
)
OTHER = st.sampled_from(
    [
        "<!-- a comment -->",
        "<!---->",
        "<!-- a -- b -->",
        "<!--[if mso]><table><![endif]-->",
        "<!DOCTYPE html>",
        "<!doctype html>",
        "<script>if (a < b) {}</script>",
        "<style>p { color: red }</style>",
        "<![CDATA[x]]>",
        "<?php ?>",
        "< p",
        "<",
        "a<b",
        "</>",
        "</ p>",
    ]
)
HTML = st.lists(st.one_of(START, END, DATA, OTHER), max_size=14).map("".join)
USUAL_HTML = st.lists(st.one_of(START, END, DATA), max_size=14).map("".join)


@settings(max_examples=600, deadline=None)
@given(html=HTML)
def test_the_fast_reader_gives_html_parsers_text_wherever_it_answers(html: str) -> None:
    rules = _read_fast(html)
    if rules is not None:
        assert rules.text() == by_html_parser(html)
    assert text_of_html(html) == by_html_parser(html)


PLAIN_ATTRIBUTE = st.builds(
    lambda name, value: f' {name}="{value}"',
    st.sampled_from(["href", "class", "title", "width"]),
    pieces([*list("ab /:?.=-_"), "&amp;"], 10),
)


@settings(max_examples=200, deadline=None)
@given(
    html=st.lists(
        st.one_of(
            st.builds(
                lambda name, attributes, end: f"<{name}{''.join(attributes)}{end}",
                st.sampled_from(["p", "a", "br", "div", "td", "H1", "img", "head", "title"]),
                st.lists(PLAIN_ATTRIBUTE, max_size=3),
                st.sampled_from([">", "/>"]),
            ),
            st.sampled_from(["</p>", "</a>", "</div>", "</td>", "</head>", "</title>"]),
            pieces([*list("Hi, 1 > 0;\n "), "&amp;", "&#39;"], 15),
            st.sampled_from(["<!-- note -->", "<!DOCTYPE html>"]),
        ),
        max_size=14,
    ).map("".join)
)
def test_html_of_the_usual_shapes_is_read_by_the_fast_reader(html: str) -> None:
    assert _read_fast(html) is not None


def test_a_newsletter_reads_as_text_with_its_links_written_out() -> None:
    html = (
        "<!DOCTYPE html><html><head><title>News</title><style>p {}</style></head><body>\n"
        '<h1>This  week</h1><p>Members posted &amp; replied.<br/>See <a href="https://x.org/?'
        'a=1&amp;b=2">the thread</a>.</p><!-- tracking --><p>Bye</p></body></html>'
    )
    assert text_of_html(html) == (
        "This week\n\nMembers posted & replied.\n\nSee the thread (https://x.org/?a=1&b=2).\n\n"
        "Bye\n"
    )
    # a <style> is read by html.parser (its content is not HTML), with the same result
    assert _read_fast(html) is None
    assert text_of_html(html.replace("<style>p {}</style>", "")) == text_of_html(html)
    assert _read_fast(html.replace("<style>p {}</style>", "")) is not None
