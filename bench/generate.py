"""A synthetic community as CSV files: members, memberships and activity, seeded and streamed;
and the marketing side's subscribers, derived from those members.

The same seed and sizes give byte-identical files. Memory grows with the number of members
(a few small arrays per member), never with the number of events: events are written one day at
a time, in time order, as a real export would be.

Shape of the community, relative to the fixed instant NOW:
- members joined over the past 5 years; ~90% carry a legacy (AMS) key; a few emails are
  malformed or shared; ~1% have no member type; a handful are Super Admins; one custom column
  (`chapter`).
- ~10 communities; most members belong to one to three, staff hold the role `staff` in theirs.
- activity over the past 2 years, growing over time: logins and other events spread over most
  members, posts concentrated on a few heavy posters while ~70% never post. ~8% of members
  never did anything and ~12% went quiet more than 90 days ago, so ~20% have no activity in the
  last 90 days; every other member logged in at least once in that window.
- subscribers, as an AMS export to the marketing platform would give them: ~92% of the members
  with a legacy key, their Remote ID being that key (what the connection matches on); other AMS
  contacts who never joined the community fill the rest; ~5% prospects known only by email;
  a few households sharing one email under two Remote IDs; ~3% unsubscribed, ~1% bounced; and
  a handful of rows the import must reject (the members' malformed emails, bad statuses).
"""

from __future__ import annotations

import csv
import json
import math
import random
from array import array
from bisect import bisect
from collections.abc import Generator
from contextlib import closing
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from kith.community.ingest import MEMBER_COLUMNS as IMPORTED_MEMBER_COLUMNS
from kith.marketing.subscriber_import import SUBSCRIBER_COLUMNS

NOW = datetime(2026, 11, 1, tzinfo=UTC)
GENERATOR_VERSION = 1
# The subscribers file has a manifest of its own, so that a kept community is reused as it is.
SUBSCRIBERS_VERSION = 1

MEMBER_COLUMNS = (*IMPORTED_MEMBER_COLUMNS, "chapter")  # one custom field
MEMBERSHIP_COLUMNS = ("contact_key", "community", "role", "joined_at")
ACTIVITY_COLUMNS = ("event_id", "contact_key", "type", "occurred_at", "community")

# (name, share of members who belong); the first two and the last are used by the standard lists
COMMUNITIES = (
    ("All Members", 0.60),
    ("Young Professionals", 0.15),
    ("Annual Conference", 0.12),
    ("Research", 0.10),
    ("Education", 0.08),
    ("Policy Forum", 0.06),
    ("Regional Chapters", 0.05),
    ("Volunteers", 0.04),
    ("Mentoring", 0.03),
    ("Board", 0.01),
)
MEMBER_TYPES = (
    ("Member", 0.66),
    ("Student", 0.12),
    ("Affiliate", 0.09),
    ("Retired", 0.05),
    ("Staff", 0.04),
    ("Fellow", 0.03),
    ("", 0.01),
)
CHAPTERS = ("Northeast", "Southeast", "Midwest", "Southwest", "West", "International")
# (type, share of events); posts are drawn from the skewed posting weights
EVENT_TYPES = (
    ("login", 0.50),
    ("discussion_reply", 0.20),
    ("thread_started", 0.05),
    ("library_entry", 0.06),
    ("event_registration", 0.07),
    ("event_attended", 0.05),
    ("badge_awarded", 0.04),
    ("profile_completed", 0.03),
)
POST_TYPES = frozenset({"discussion_reply", "thread_started"})
IN_A_COMMUNITY = frozenset({"discussion_reply", "thread_started", "library_entry"})

FIRST_NAMES = (  # noqa: SIM905
    "Ada Ben Carla Dev Elena Farid Grace Hugo Ines Jamal Kira Liam Maya Noor Omar Priya Quinn "
    "Rosa Sam Tariq Uma Victor Wen Xavier Yara Zoe Alex Bea Chris Dana"
).split()
LAST_NAMES = (  # noqa: SIM905
    "Smith Garcia Nguyen Okafor Müller Rossi Kowalski Haddad Tanaka Silva Johnson Brown Ahmed "
    "Dubois Jensen Kim Lopez Martin O'Brien Patel Novak Schmidt Costa Hansen Ivanova"
).split()
COMPANIES = (
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella Health",
    "Stark Industries",
    "Wayne Foundation",
    "Hooli",
    "Vandelay Imports",
    "Soylent",
    "Tyrell Labs",
    "",
)
TITLES = ("Director", "Manager", "Analyst", "Engineer", "Professor", "Consultant", "Student", "")
DOMAINS = ("example.org", "example.com", "mail.example.net", "members.example.edu")

YEARS_OF_MEMBERS = 5
DAYS_OF_ACTIVITY = 730
RECENT_DAYS = 90
NEVER_ACTIVE = 0.08
QUIET_FOR_90_DAYS = 0.12
NON_POSTERS = 0.70
HEAVY_POSTERS = 0.01
MASK64 = (1 << 64) - 1

# Subscribers: shares of the file's rows, except MATCHED (of the members with a legacy key)
MATCHED = 0.92
PROSPECTS = 0.05
HOUSEHOLDS = 0.002
UNSUBSCRIBED = 0.03
BOUNCED = 0.01
BAD_STATUS = 0.0005
MALFORMED = 0.001  # of prospects and other contacts; members bring their own malformed emails
BAD_STATUSES = ("pending", "active", "opted-out")
SUBSCRIBERS_SALT = 0x5B5C


@dataclass(frozen=True)
class Sizes:
    members: int
    events: int
    seed: int = 20261101


@dataclass(frozen=True)
class CommunityFiles:
    folder: Path

    @property
    def members(self) -> Path:
        return self.folder / "members.csv"

    @property
    def memberships(self) -> Path:
        return self.folder / "memberships.csv"

    @property
    def activity(self) -> Path:
        return self.folder / "activity.csv"

    @property
    def manifest(self) -> Path:
        return self.folder / "manifest.json"


@dataclass(frozen=True)
class MarketingFiles:
    folder: Path

    @property
    def subscribers(self) -> Path:
        return self.folder / "subscribers.csv"

    @property
    def manifest(self) -> Path:
        return self.folder / "subscribers.json"


def contact_key(index: int, salt: int = 0x2545F4914F6CDD1D) -> str:
    """A GUID-looking key, unique per index (a bijection on 64 bits), without storing any."""
    x = (index * 0x9E3779B97F4A7C15 + salt) & MASK64
    y = ((x ^ (x >> 31)) * 0xBF58476D1CE4E5B9) & MASK64
    y ^= y >> 29
    text = f"{x:016x}{y:016x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def event_id(index: int) -> str:
    return contact_key(index, salt=0x5EED)


def legacy_key(index: int) -> str:
    """The AMS key of the index-th AMS contact; members hold the first ones."""
    return f"AMS{1_000_000 + index:08d}"


def generate(sizes: Sizes, folder: Path) -> CommunityFiles:
    """Write the three CSV files (reusing them when a previous run wrote the same ones)."""
    files = CommunityFiles(folder)
    wanted = {**asdict(sizes), "version": GENERATOR_VERSION, "now": NOW.isoformat()}
    if files.manifest.exists() and json.loads(files.manifest.read_text()) == wanted:
        return files
    folder.mkdir(parents=True, exist_ok=True)
    files.manifest.unlink(missing_ok=True)
    rng = random.Random(sizes.seed)
    with (
        files.members.open("w", newline="", encoding="utf-8") as members_out,
        files.memberships.open("w", newline="", encoding="utf-8") as memberships_out,
    ):
        population = _write_members(rng, sizes.members, members_out, memberships_out)
    with files.activity.open("w", newline="", encoding="utf-8") as activity_out:
        _write_activity(rng, population, sizes.events, activity_out)
    files.manifest.write_text(json.dumps(wanted))
    return files


def generate_subscribers(sizes: Sizes, count: int, community: CommunityFiles) -> MarketingFiles:
    """Write subscribers.csv from the members generate() wrote (reusing it when a previous run
    wrote the same one). It reads members.csv back as a stream: memory does not grow with it."""
    files = MarketingFiles(community.folder)
    wanted = {
        "community": json.loads(community.manifest.read_text()),
        "subscribers": count,
        "version": SUBSCRIBERS_VERSION,
    }
    if files.manifest.exists() and json.loads(files.manifest.read_text()) == wanted:
        return files
    files.manifest.unlink(missing_ok=True)
    rng = random.Random(sizes.seed ^ SUBSCRIBERS_SALT)
    with files.subscribers.open("w", newline="", encoding="utf-8") as out:
        _write_subscribers(rng, community.members, sizes.members, count, out)
    files.manifest.write_text(json.dumps(wanted))
    return files


@dataclass
class Population:
    """What the activity pass needs to know about members, in a few arrays."""

    count: int
    contact_keys: list[str]
    communities: array[int]  # bit k: member of COMMUNITIES[k]
    # cumulative weights for drawing who did something: before / inside the last 90 days
    other_before: array[float]
    other_recent: array[float]
    posts_before: array[float]
    posts_recent: array[float]
    # members who logged in at least once in the last 90 days, by day of that login
    recent_logins: list[array[int]]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_members(
    rng: random.Random, count: int, members_out: TextIO, memberships_out: TextIO
) -> Population:
    members = csv.writer(members_out, lineterminator="\n")
    memberships = csv.writer(memberships_out, lineterminator="\n")
    members.writerow(MEMBER_COLUMNS)
    memberships.writerow(MEMBERSHIP_COLUMNS)
    type_names = [name for name, _ in MEMBER_TYPES]
    type_weights = [share for _, share in MEMBER_TYPES]
    super_admins = {round(k * count / 5) for k in range(5)}
    span = YEARS_OF_MEMBERS * 365 * 86400
    population = Population(
        count=count,
        contact_keys=[],
        communities=array("H", bytes(2 * count)),
        other_before=array("d"),
        other_recent=array("d"),
        posts_before=array("d"),
        posts_recent=array("d"),
        recent_logins=[array("i") for _ in range(RECENT_DAYS)],
    )
    totals = [0.0, 0.0, 0.0, 0.0]
    previous_email = "first@example.org"
    for index in range(count):
        key = contact_key(index)
        population.contact_keys.append(key)
        first = rng.choice(FIRST_NAMES)
        last = rng.choice(LAST_NAMES)
        local = f"{first}.{last}{index}".lower().replace("'", "")
        roll = rng.random()
        if roll < 0.0005:
            email = f"{local}@"  # malformed
        elif roll < 0.001:
            email = f"{local} at {rng.choice(DOMAINS)}"  # malformed
        elif roll < 0.004:
            email = previous_email  # shared with the previous member (a household, a typo)
        else:
            email = f"{local}@{rng.choice(DOMAINS)}"
        previous_email = email
        member_type = rng.choices(type_names, type_weights)[0]
        joined = NOW - timedelta(seconds=rng.randrange(span))
        last_login = "" if rng.random() < 0.1 else _iso(joined + (NOW - joined) * rng.random())
        members.writerow(
            (
                key,
                legacy_key(index) if rng.random() < 0.9 else "",
                email,
                first,
                last,
                rng.choice(COMPANIES),
                rng.choice(TITLES),
                member_type,
                _iso(joined),
                last_login,
                "true" if index in super_admins else "false",
                rng.choice(CHAPTERS) if rng.random() < 0.8 else "",
            )
        )
        mask = 0
        for bit, (community, share) in enumerate(COMMUNITIES):
            if rng.random() < share:
                mask |= 1 << bit
                role = "staff" if member_type == "Staff" else "member"
                if role == "member" and rng.random() < 0.02:
                    role = "moderator"
                since = joined + (NOW - joined) * rng.random()
                memberships.writerow((key, community, role, _iso(since)))
        population.communities[index] = mask

        state = rng.random()
        other = math.exp(rng.gauss(0.0, 1.0))
        posting = rng.random()
        if posting < NON_POSTERS:
            posts = 0.0
        elif posting < 1 - HEAVY_POSTERS:
            posts = math.exp(rng.gauss(0.0, 1.0))
        else:
            posts = math.exp(rng.gauss(4.0, 0.5))
        if state < NEVER_ACTIVE:
            weights = (0.0, 0.0, 0.0, 0.0)
        elif state < NEVER_ACTIVE + QUIET_FOR_90_DAYS:
            weights = (other, 0.0, posts, 0.0)
        else:
            weights = (other, other, posts, posts)
            population.recent_logins[rng.randrange(RECENT_DAYS)].append(index)
        for slot, weight in enumerate(weights):
            totals[slot] += weight
        population.other_before.append(totals[0])
        population.other_recent.append(totals[1])
        population.posts_before.append(totals[2])
        population.posts_recent.append(totals[3])
    return population


def _write_activity(rng: random.Random, population: Population, total: int, out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(ACTIVITY_COLUMNS)
    guaranteed = sum(len(day) for day in population.recent_logins)
    if guaranteed > total:  # tiny sizes: keep only as many guaranteed logins as there are events
        guaranteed = total
    spread = total - guaranteed
    start = NOW - timedelta(days=DAYS_OF_ACTIVITY)
    growth = [0.6 + 0.8 * day / (DAYS_OF_ACTIVITY - 1) for day in range(DAYS_OF_ACTIVITY)]
    weight_total = sum(growth)
    type_names = [name for name, _ in EVENT_TYPES]
    type_weights = [share for _, share in EVENT_TYPES]
    names = [name for name, _ in COMMUNITIES]
    keys = population.contact_keys
    serial = 0
    cumulative = 0.0
    left_guaranteed = guaranteed
    for day in range(DAYS_OF_ACTIVITY):
        before = round(spread * cumulative / weight_total)
        cumulative += growth[day]
        on_this_day = round(spread * cumulative / weight_total) - before
        recent_day = day - (DAYS_OF_ACTIVITY - RECENT_DAYS)
        recent = recent_day >= 0
        other = population.other_recent if recent else population.other_before
        posts = population.posts_recent if recent else population.posts_before
        drawn: list[tuple[int, int, str]] = []
        if recent:
            for member in population.recent_logins[recent_day][:left_guaranteed]:
                drawn.append((rng.randrange(86400), member, "login"))
            left_guaranteed -= min(left_guaranteed, len(population.recent_logins[recent_day]))
        for kind in rng.choices(type_names, type_weights, k=on_this_day):
            weights = posts if kind in POST_TYPES else other
            member = _draw(rng, weights) if weights and weights[-1] > 0 else _draw(rng, other)
            drawn.append((rng.randrange(86400), member, kind))
        drawn.sort()
        day_start = start + timedelta(days=day)
        stamp = day_start.strftime("%Y-%m-%dT")
        rows = []
        for second, member, kind in drawn:
            community = ""
            if kind in IN_A_COMMUNITY:
                mask = population.communities[member]
                if mask:
                    joined = [names[bit] for bit in range(len(names)) if mask >> bit & 1]
                    community = rng.choice(joined)
            hours, rest = divmod(second, 3600)
            occurred = f"{stamp}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}Z"
            identifier = event_id(serial) if rng.random() < 0.5 else ""
            serial += 1
            rows.append((identifier, keys[member], kind, occurred, community))
        writer.writerows(rows)


def _write_subscribers(
    rng: random.Random, members_csv: Path, member_count: int, count: int, out: TextIO
) -> None:
    """`count` rows: chosen members with a legacy key (in file order), prospects and other AMS
    contacts shuffled among them, each household's second Remote ID right after its member.

    The number of members is exact (selection sampling over a first count of the legacy keys);
    when the file wants more rows than there are such members, other contacts fill it up.
    """
    with closing(_members_with_legacy_key(members_csv)) as counted:
        legacy_left = sum(1 for _ in counted)
    prospects = round(count * PROSPECTS)
    households = round(count * HOUSEHOLDS)
    from_members = min(round(legacy_left * MATCHED), count - prospects - households)
    households = min(households, from_members)
    left = {
        "member": from_members,
        "prospect": prospects,
        "contact": count - prospects - households - from_members,
    }
    other_contact = member_count  # AMS contacts after the members: never a member's key
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(SUBSCRIBER_COLUMNS)
    with closing(_members_with_legacy_key(members_csv)) as members:
        for serial in range(sum(left.values())):
            pick = rng.random() * sum(left.values())
            kind = "member" if pick < left["member"] else "contact"
            if left["member"] <= pick < left["member"] + left["prospect"]:
                kind = "prospect"
            if kind == "member":
                while True:  # selection sampling: exactly `from_members` of them
                    row = next(members)
                    chosen = rng.random() * legacy_left < left["member"]
                    legacy_left -= 1
                    if chosen:
                        break
                email, remote_id, first, last = row[2], row[1], row[3], row[4]
                writer.writerow((email, remote_id, first, last, _subscriber_status(rng)))
                if rng.random() * left["member"] < households:
                    households -= 1
                    partner = rng.choice(FIRST_NAMES)
                    writer.writerow(
                        (email, legacy_key(other_contact), partner, last, _subscriber_status(rng))
                    )
                    other_contact += 1
            else:
                first = rng.choice(FIRST_NAMES)
                last = rng.choice(LAST_NAMES)
                local = f"{first}.{last}.{kind[0]}{serial}".lower().replace("'", "")
                domain = rng.choice(DOMAINS)
                email = f"{local} at {domain}" if rng.random() < MALFORMED else f"{local}@{domain}"
                remote_id = ""
                if kind == "contact":
                    remote_id = legacy_key(other_contact)
                    other_contact += 1
                writer.writerow((email, remote_id, first, last, _subscriber_status(rng)))
            left[kind] -= 1


def _members_with_legacy_key(members_csv: Path) -> Generator[list[str]]:
    with members_csv.open(newline="", encoding="utf-8") as members_in:
        rows = csv.reader(members_in)
        next(rows)  # the header
        yield from (row for row in rows if row[1])


def _subscriber_status(rng: random.Random) -> str:
    roll = rng.random()
    if roll < UNSUBSCRIBED:
        return "unsubscribed"
    if roll < UNSUBSCRIBED + BOUNCED:
        return "bounced"
    if roll < UNSUBSCRIBED + BOUNCED + BAD_STATUS:
        return rng.choice(BAD_STATUSES)
    return "subscribed"


def _draw(rng: random.Random, cumulative: array[float]) -> int:
    return bisect(cumulative, rng.random() * cumulative[-1])


if __name__ == "__main__":  # python -m bench.generate MEMBERS EVENTS FOLDER [SUBSCRIBERS]
    import sys

    members_arg, events_arg, folder_arg = sys.argv[1:4]
    sizes_arg = Sizes(int(members_arg), int(events_arg))
    written = generate(sizes_arg, Path(folder_arg))
    if len(sys.argv) > 4:
        generate_subscribers(sizes_arg, int(sys.argv[4]), written)
