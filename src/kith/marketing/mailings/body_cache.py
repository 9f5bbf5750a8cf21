"""Message bodies made once and shared by the recipients whose templates read the same values.

Most of a message's cost was its body: the HTML rendered, its links tracked, the text part
derived from it, both parts quoted-printable-encoded. Two recipients for whom the templates
read the same values (the same first name and city, say) get the same body but for the
delivery's own links: its unsubscribe URL, its open pixel and its click redirects. Their tokens
have the same length when the delivery ids have as many digits, and nothing between the
template and the wire looks inside them (they are made of letters, digits, `-`, `_` and `.`:
not escaped in HTML, kept by quoted-printable, which may only break a line inside one). So the
body is made once for such recipients, and each one's is the stored body with the delivery's
own tokens written where the first one's were.

A mailing's bodies are shared only when that holds for its templates: they show
`unsubscribe_url` only as it is (`{{ unsubscribe_url }}`, not filtered or compared), followed by
a quote or a tag, and draw nothing at random (the `random` filter). A body encoded in
base64 is not shared. The first few shared bodies are checked against a full rendering; a
difference (a fault of this module) switches sharing off for the mailing. Sharing also stops
when few recipients have shared a body, so that a mailing personalized with unique values
(`{{ email }}`) does not pay for looking.
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections.abc import Hashable, Mapping, Sequence
from itertools import pairwise
from typing import Any, NamedTuple

from jinja2 import meta, nodes

from kith.marketing.mailings.templates import CompiledTemplate

log = logging.getLogger(__name__)

MAX_BODIES = 2_000  # bodies kept a mailing (a few KB each)
TRIAL_LOOKUPS = 1_000  # after these, sharing stops unless one in four recipients shared a body
CHECKED_BODIES = 3  # shared bodies compared with a full rendering first
SOFT_BREAK = b"=\r\n"  # a quoted-printable line break that is not in the text
_LINK_FOLLOWERS = frozenset("\"'<")  # what may follow the unsubscribe URL in the HTML
_MISSING = object()  # a field the subscriber has no value for
# fields that are one value a mailing, or the delivery's link: not part of a body's key
_CONSTANT = frozenset(("mailing", "unsubscribe_url"))


class Part(NamedTuple):
    """A text or HTML part as stored: its transfer encoding, its bytes as a %-format with a
    `%s` for each piece of a token, and which piece of which token each one takes: (link,
    start, end), the link 0 for unsubscribe, 1 for open, then each click in order."""

    encoding: bytes
    form: bytes
    slots: tuple[tuple[int, int, int], ...]


class Body(NamedTuple):
    subject: bytes | None  # the Subject line, when the subject shows no link
    text: Part
    html: Part
    targets: tuple[str, ...]  # the click redirects' destinations, in order
    lengths: tuple[int, ...]  # each link's token length


class Reads(NamedTuple):
    """What in a subscriber's values the templates read, and so what a body depends on."""

    whole: tuple[str, ...]  # fields read as a whole
    keyed: tuple[tuple[str, tuple[str, ...]], ...]  # dict fields read at constant keys only
    subject_shows_links: bool


def reads_of(
    subject: CompiledTemplate, html: CompiledTemplate, text: CompiledTemplate | None
) -> Reads | None:
    """What the templates read; None when their bodies cannot be shared."""
    trees = {
        name: compiled.template.environment.parse(compiled.source)
        for name, compiled in (("subject", subject), ("html", html), ("text", text))
        if compiled is not None
    }
    for tree in trees.values():
        if any(applied.name == "random" for applied in tree.find_all(nodes.Filter)):
            return None
        if not _shows_unsubscribe_url_as_it_is(tree):
            return None
    names = set().union(*(meta.find_undeclared_variables(tree) for tree in trees.values()))
    whole, keyed = [], []
    for name in sorted(names - _CONSTANT):
        keys = _constant_keys(trees.values(), name)
        if keys is None:
            whole.append(name)
        else:
            keyed.append((name, keys))
    subject_shows_links = "unsubscribe_url" in meta.find_undeclared_variables(trees["subject"])
    return Reads(tuple(whole), tuple(keyed), subject_shows_links)


def _shows_unsubscribe_url_as_it_is(tree: nodes.Template) -> bool:
    """Whether every use of unsubscribe_url is a whole `{{ unsubscribe_url }}`."""
    shown = sum(
        1
        for output in tree.find_all(nodes.Output)
        for node in output.nodes
        if isinstance(node, nodes.Name) and node.name == "unsubscribe_url"
    )
    used = sum(1 for name in tree.find_all(nodes.Name) if name.name == "unsubscribe_url")
    return shown == used


def _constant_keys(trees: Sequence[nodes.Template] | Any, name: str) -> tuple[str, ...] | None:
    """The keys at which `name` is read (`fields.city`, `fields["city"]`), when it is read at
    no other way; None otherwise. A key that is also a dict attribute (`fields.items`) reads
    the attribute, so it counts as reading the whole."""
    keys: set[str] = set()
    uses = 0
    for tree in trees:
        uses += sum(1 for used in tree.find_all(nodes.Name) if used.name == name)
        for access in tree.find_all(nodes.Getattr):
            if isinstance(access.node, nodes.Name) and access.node.name == name:
                keys.add(access.attr)
                uses -= 1
        for access in tree.find_all(nodes.Getitem):
            key = access.arg.value if isinstance(access.arg, nodes.Const) else None
            if (
                isinstance(access.node, nodes.Name)
                and access.node.name == name
                and isinstance(key, str)
            ):
                keys.add(key)
                uses -= 1
    if uses or any(hasattr(dict, key) for key in keys):
        return None
    return tuple(sorted(keys))


def _frozen(value: Any) -> Hashable:
    """A value as part of a key: strings as they are, anything else by type and repr (1, 1.0
    and True are equal as keys, and render differently)."""
    if type(value) is str or value is _MISSING:
        return value
    return (type(value).__name__, repr(value))


class BodyCache:
    """One mailing's shared bodies; used by all the threads of its send."""

    def __init__(self, reads: Reads | None) -> None:
        self.reads = reads
        self.on = reads is not None
        self._bodies: dict[Hashable, Body | None] = {}  # None: these values share no body
        self._lookups = 0
        self._hits = 0
        self._checks_left = CHECKED_BODIES
        self._lock = threading.Lock()  # for the counters that decide to stop

    def key(self, context: Mapping[str, Any], delivery_id: int) -> Hashable:
        """What a body depends on: the values read, and the length of the delivery's id."""
        assert self.reads is not None
        values: list[Hashable] = [len(str(delivery_id))]
        for name in self.reads.whole:
            values.append(_frozen(context.get(name, _MISSING)))
        for name, keys in self.reads.keyed:
            field = context.get(name, _MISSING)
            if isinstance(field, dict):
                values.extend(_frozen(field.get(key, _MISSING)) for key in keys)
            else:
                values.append(_frozen(field))
        return tuple(values)

    def get(self, key: Hashable) -> Body | None:
        body = self._bodies.get(key)
        self._lookups += 1
        if body is not None:
            self._hits += 1
        elif self._lookups >= TRIAL_LOOKUPS and self._hits * 4 < self._lookups:
            self._stop("few recipients shared a body")
        return body

    def known(self, key: Hashable) -> bool:
        """Whether these values were met before (with a body, or found unable to share one)."""
        return key in self._bodies

    def checking(self) -> bool:
        """Whether the next shared body should be compared with a full rendering."""
        with self._lock:
            if self._checks_left <= 0:
                return False
            self._checks_left -= 1
            return True

    def mismatch(self) -> None:
        self._stop("a shared body differed from the full rendering")
        log.warning("mailing bodies: a shared body differed from its full rendering; sharing off")

    def store(
        self,
        key: Hashable,
        subject: bytes | None,
        html: str,
        parts: tuple[tuple[bytes, bytes], tuple[bytes, bytes]],
        tokens: Sequence[str],
        targets: Sequence[str],
    ) -> None:
        """Keep the body of a message made in full: `html` the rendered HTML before tracking,
        `parts` its encoded text and HTML parts, `tokens` the delivery's link tokens (the
        unsubscribe one, the open one, each click's) and `targets` the clicks' destinations."""
        if not self.on or len(self._bodies) >= MAX_BODIES:
            return
        unsubscribe = tokens[0]
        if (
            not _followed_well(html, unsubscribe)
            or any(unsubscribe in target for target in targets)  # a redirect to a link of its own
            or any(encoding == b"base64" for encoding, _ in parts)
        ):
            self._bodies[key] = None
            return
        marks = [token.encode("ascii") for token in tokens]
        stored = tuple(_part(encoding, data, marks) for encoding, data in parts)
        lengths = tuple(map(len, marks))
        self._bodies[key] = Body(subject, stored[0], stored[1], tuple(targets), lengths)

    def _stop(self, reason: str) -> None:
        if self.on:
            log.info("mailing bodies: sharing stopped (%s)", reason)
        self.on = False
        self._bodies.clear()


def fill(part: Part, tokens: Sequence[bytes]) -> tuple[bytes, bytes]:
    """A stored part with a delivery's tokens: (encoding, bytes) as encoded_part gives."""
    return part.encoding, part.form % tuple(
        [tokens[link][start:end] for link, start, end in part.slots]
    )


def _followed_well(html: str, token: str) -> bool:
    """Whether each unsubscribe token in the HTML ends an attribute value or text before a
    tag: where another delivery's token of the same length is read the same way."""
    start = html.find(token)
    while start >= 0:
        end = start + len(token)
        if end < len(html) and html[end] not in _LINK_FOLLOWERS:
            return False
        start = html.find(token, end)
    return True


def _part(encoding: bytes, data: bytes, marks: Sequence[bytes]) -> Part:
    """`data` with a slot at each occurrence of a mark (a token), looked for across soft line
    breaks in a quoted-printable part (a token's pieces then take a slot each)."""
    if encoding == b"quoted-printable":
        lines = data.split(SOFT_BREAK)
        flat = b"".join(lines)
        breaks = []  # where in `flat` each soft line break was
        position = 0
        for line in lines[:-1]:
            position += len(line)
            breaks.append(position)
    else:
        flat, breaks = data, []
    found: list[tuple[int, int, int]] = []  # (start in flat, end in flat, link)
    for link, mark in enumerate(marks):
        start = flat.find(mark)
        while start >= 0:
            found.append((start, start + len(mark), link))
            start = flat.find(mark, start + len(mark))
    found.sort()
    form: list[bytes] = []
    slots: list[tuple[int, int, int]] = []
    written = 0  # how far into `data` the form reaches
    for start, end, link in found:
        first = bisect.bisect_right(breaks, start)  # soft breaks before the token (or at it)
        last = bisect.bisect_left(breaks, end)  # ... and before its end
        form.append(data[written : start + len(SOFT_BREAK) * first].replace(b"%", b"%%"))
        cuts = [start, *breaks[first:last], end]
        form.append(b"%s" + (SOFT_BREAK + b"%s") * (len(cuts) - 2))
        slots.extend((link, a - start, b - start) for a, b in pairwise(cuts))
        written = end + len(SOFT_BREAK) * last
    form.append(data[written:].replace(b"%", b"%%"))
    return Part(encoding, b"".join(form), tuple(slots))
