"""`kith demo`: run the main job end to end and say what happened and where to look."""

from __future__ import annotations

import typer
from rich.table import Table

from kith.cli.context import console, user_errors
from kith.clock import utcnow
from kith.config import get_settings
from kith.demo import DemoReport, run_demo
from kith.demo.campaigns import LIVE_LIST
from kith.demo.community import SUPER_ADMIN_EMAIL
from kith.demo.scale import scale_out_commands
from kith.marketing.groups.compound import MODE_WORDS


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo() -> None:
    """Build a demo community in KITH_DATA_DIR (default ./var) with lists, and show them."""
    with user_errors():
        report = run_demo(get_settings(), now=utcnow())
    _print(report)


def _print(report: DemoReport) -> None:
    say = console.print
    data_dir = report.settings.data_dir
    say("[bold]Kith demo[/bold]: an online community, its List Builder lists and its API\n")
    say(f"1. Imported the demo community's CSV exports from {data_dir / 'demo-input'}:")
    for name, result in report.imports.items():
        line = f"   {name:<12} {result.imported} imported, {len(result.rejected)} rejected"
        say(line, highlight=False)
        for rejected in result.rejected:
            say(f"      line {rejected['line']}: {rejected['reason']}", highlight=False)
    say(f"\n2. {SUPER_ADMIN_EMAIL} (a Super Admin) built Custom User Lists in List Builder:")
    table = Table("List", "Members", "For marketing?")
    for summary in report.lists:
        marketing = (
            "yes" if summary.name.lower().startswith("informz") else "no (no Informz prefix)"
        )
        table.add_row(summary.name, str(summary.member_count), marketing)
    console.print(table)
    issued = report.credential
    over_http = ", ".join(
        f"{item['name']} ({item['member_count']})" for item in report.lists_over_http
    )
    say("\n3. Created an API credential for the connection and read the lists over HTTP:")
    say(f"   HLIAMKey:   {issued.credential.iam_key}", highlight=False)
    say(f"   HLPassword: {issued.password}   (shown once; only its Argon2 hash is stored)")
    say(
        f"   GET {report.api_url} -> {len(report.lists_over_http)} lists: {over_http}",
        highlight=False,
    )
    _print_marketing(report)
    _print_connection(report)
    over_http = ", ".join(f"{g['name']} ({g['member_count']})" for g in report.groups_over_http)
    say("\n9. Read the groups over the marketing REST API with an admin token (shown once):")
    say(f"   {report.api_token.token}", highlight=False)
    say(f"   GET /marketing/api/groups -> {over_http}", highlight=False)
    _print_mailings(report)
    _print_campaign(report)
    _print_scoring(report)
    say("\nLook around:")
    say("   make serve, then sign in to the web admin (these passwords are shown once):")
    for login in report.logins:
        say(f"      {login}", highlight=False)
    say("      (lost one? .venv/bin/kith users set-password --side marketing --email ...)")
    _print_who(report)
    say(f"   http://127.0.0.1:8000/community/docs for the community API  (data: {data_dir})")
    say(
        f"   curl -H 'HLIAMKey: {issued.credential.iam_key}' -H 'HLPassword: {issued.password}' "
        "http://127.0.0.1:8000/community/api/v1/lists",
        highlight=False,
    )
    say("   .venv/bin/kith community lists members 'Informz New Members'")
    say("   .venv/bin/kith community lists preview --criteria my-criteria.json")
    say(
        f"   curl -H 'Authorization: Bearer {report.api_token.token}' "
        "http://127.0.0.1:8000/marketing/api/groups",
        highlight=False,
    )
    say("   .venv/bin/kith marketing groups members 'Newsletter Readers Not On The Board'")
    say("   .venv/bin/kith connection test   (while make serve runs)")
    say("   .venv/bin/kith marketing groups diagnose 'Has Started Discussion Thread'")
    say("   .venv/bin/kith marketing groups rejections 'New Members' --csv")
    say("   open http://127.0.0.1:8000/marketing/docs for the marketing REST API")
    say("\nGrow onto PostgreSQL, Redis and several processes (docs/deployment.md):")
    for command in scale_out_commands(report.settings):
        say(f"   {command}", highlight=False)


def _print_marketing(report: DemoReport) -> None:
    say = console.print
    demo = report.marketing
    subscribers = demo.subscribers
    folder = report.settings.data_dir / "demo-input"
    say(f"\n4. Imported the marketing side's subscribers (an AMS export) from {folder}:")
    say(
        f"   subscribers  {subscribers.imported} imported, {len(subscribers.rejected)} rejected",
        highlight=False,
    )
    for rejected in subscribers.rejected:
        say(f"      line {rejected['line']}: {rejected['reason']}", highlight=False)
    say("\n5. Filled two static groups from CSV files and defined a compound group:")
    for name, change in demo.memberships.items():
        say(f"   {name:<12} {change.summary()}", highlight=False)
        for rejected in change.rejected:
            say(f"      line {rejected['line']}: {rejected['reason']}", highlight=False)
    table = Table("Target group", "Folder", "Kind", "Members", "Definition")
    for summary in demo.groups:
        definition = " minus ".join(
            f"{MODE_WORDS[section.mode]} of {', '.join(section.names())}"
            for section in summary.sections.values()
        )
        table.add_row(
            summary.group.name,
            summary.folder,
            summary.group.kind,
            str(summary.member_count),
            definition,
        )
    console.print(table)
    over_http = ", ".join(f"{g['name']} ({g['member_count']})" for g in report.groups_over_http)
    say(
        "   With an admin API token (shown once; only its SHA-256 digest is stored):",
        highlight=False,
    )
    say(f"   {report.api_token.token}", highlight=False)
    say(f"   GET /marketing/api/groups -> {over_http}", highlight=False)


def _print_connection(report: DemoReport) -> None:
    say = console.print
    connection = report.connection
    integration = report.integration
    say("\n6. Entered the credential in Integration Settings (Active) and tested the connection:")
    say(
        f"   kith connection test -> ok: the community API at {report.connection_check.base_url}"
        f" shows {report.connection_check.list_count} lists",
        highlight=False,
    )
    refresh = connection.refresh
    say("\n7. Refresh Target Group List: a group in Online Community for each Informz list:")
    for item in refresh.added:
        say(f"   added {item['group']!r} from {item['list']!r}", highlight=False)
    for item in refresh.not_taken:
        say(f"   not taken {item['list']!r}: {item['reason']}", highlight=False)
    say("\n8. Synced each group (Legacy Contact Key = Remote ID); who was left out, and why:")
    table = Table("Target group", "In list", "Members", "Skipped")
    for name, run in connection.syncs.items():
        skipped = ", ".join(
            f"{count} {reason}" for reason, count in (run.skipped or {}).items() if count
        )
        table.add_row(name, str(run.in_list), str(run.members), skipped or run.error or "")
    console.print(table)
    say(
        f"   Integration Settings now point at {integration.base_url} (make serve);"
        f" edition {integration.edition}; the password is stored encrypted",
        highlight=False,
    )


def _print_mailings(report: DemoReport) -> None:
    say = console.print
    demo = report.mailings
    totals = demo.report["totals"]
    assert isinstance(totals, dict)
    say("\n10. Sent a personalized mailing to a community group (resynced just before sending):")
    for test in demo.tested.sent:
        say(
            f'   first a test to {test.address} ({test.status}; subject "[Test] ...", '
            f"personalized as {demo.tested.personalized_as}; not counted as a send)",
            highlight=False,
        )
    say(
        f"   {demo.sent.name!r}: {totals['sent']} sent, {totals['failed']} failed"
        f" -> the outbox {demo.outbox}",
        highlight=False,
    )
    say("   read them with: .venv/bin/kith outbox list, or open the .eml files in a mail client")
    say(f"   .venv/bin/kith mailings report {demo.sent.id}", highlight=False)
    say(f"\n11. The duplicate-mailing guard held {demo.held.name!r}:", highlight=False)
    say(f"   {demo.held.status_reason}", highlight=False)
    say(f"   .venv/bin/kith mailings send {demo.held.id} --wait --ack-duplicates", highlight=False)
    say(
        f"   .venv/bin/kith mailings send {demo.held.id} --wait --leave-out-duplicates   "
        "(everyone else; the overlap recorded as left out)",
        highlight=False,
    )
    scheduled = demo.scheduled
    assert scheduled.scheduled_for is not None
    say(
        f"   A copy, {scheduled.name!r}, is scheduled for {scheduled.scheduled_for:%Y-%m-%d %H:%M}"
        f" UTC: a worker (make serve) sends it then; kith mailings unschedule {scheduled.id}"
        " makes it a draft again",
        highlight=False,
    )
    _print_bounce(report)
    _print_privacy(report)


def _print_bounce(report: DemoReport) -> None:
    say = console.print
    bounce = report.bounce
    if bounce is None:
        return
    totals = bounce.totals
    say(
        f"\n    A bounce arrived for {bounce.email} (a DSN: 550 5.1.1 user unknown):",
        highlight=False,
    )
    say(f"   {bounce.file}", highlight=False)
    changes = ", ".join(f"{c.email} is now {c.status}" for c in bounce.intake.changes)
    say(f"   read as {bounce.intake.kind}: {changes or 'nobody changed'}", highlight=False)
    for line in bounce.history:
        say(f"   history: {line}", highlight=False, markup=False)
    say(
        f"   the report now says {totals['bounced']} bounced ({totals['hard_bounces']} hard,"
        f" {totals['soft_bounces']} soft, {totals['complaints']} complaints)",
        highlight=False,
    )
    say(f"   .venv/bin/kith bounces show {bounce.intake.message_id}", highlight=False)


def _print_privacy(report: DemoReport) -> None:
    privacy = report.privacy
    if privacy is None:
        return
    say = console.print
    held = ", ".join(f"{name} {count}" for name, count in privacy.sections.items() if count)
    say(f"\n    Everything marketing keeps about {privacy.email}: {held}", highlight=False)
    say(f"   .venv/bin/kith marketing subscribers export-data {privacy.email}", highlight=False)
    say(
        f"   .venv/bin/kith marketing subscribers erase {privacy.email}   (and, in the community,"
        " kith community members delete CONTACT_KEY --by SUPER_ADMIN)",
        highlight=False,
    )


def _print_campaign(report: DemoReport) -> None:
    say = console.print
    demo = report.campaign
    view = demo.view
    say(
        f"\n12. Created the ready-made welcome campaign ({view['name']!r}), activated it, and "
        "ticked through its first days:",
        highlight=False,
    )
    joined = ", ".join(f"{key} ({change}, seq {seq})" for seq, change, key in demo.live_changes)
    say(
        f"   Some new members replied in the community; the live list {LIVE_LIST!r} took them "
        f"in at the next pass (every second in a worker): {joined or 'nobody'}",
        highlight=False,
    )
    say(
        "   (its change feed: GET /community/api/v1/lists/{key}/changes?after=CURSOR)",
        highlight=False,
    )
    for group, run in demo.live_runs:
        say(
            f"   The live pass (every 10 s in a worker) synced {group!r} by a delta: run "
            f"{run.id} {run.status}, +{run.added} -{run.removed}, {run.members} members "
            f"(kith marketing groups history {group!r} shows trigger live)",
            highlight=False,
        )
        say(
            f"   kith marketing groups live {group!r} --off makes it manual; a daily drift check"
            " compares each live group with a full sync",
            highlight=False,
        )
    for tick in (demo.first_tick, demo.later_tick):
        synced = ", ".join(f"{s.group} ({s.status})" for s in tick.syncs) or "none due"
        say(
            f"   kith tick --now {tick.now:%Y-%m-%dT%H:%M}: hourly syncs: {synced}", highlight=False
        )
    for step in view["steps"]:
        outcomes = ", ".join(f"{n} {outcome}" for outcome, n in sorted(step["outcomes"].items()))
        say(
            f"   {step['id']:<12} {step['describe']:<55} {outcomes or '-'}"
            + (f" ({step['waiting']} waiting)" if step["waiting"] else ""),
            highlight=False,
        )
    say(
        f"   .venv/bin/kith campaigns show {view['id']}   (or Campaigns in the web admin, where "
        "New campaign makes one from a template or in the designer, step by step)",
        highlight=False,
    )
    say(f"   .venv/bin/kith campaigns enrollments {view['id']}", highlight=False)
    say("   .venv/bin/kith tick --now 2030-01-01T09:00   (runs whatever is due by then)")


def _print_scoring(report: DemoReport) -> None:
    say = console.print
    scoring = report.scoring
    say("\n13. Pulled the community's activity, set a scoring model and scored everyone:")
    say(f"   {scoring.summary()}", highlight=False)
    say(f"   Community-activity report (SVG charts): {scoring.report_path}", highlight=False)
    say(
        "   .venv/bin/kith scoring show   |   .venv/bin/kith scoring explain EMAIL   "
        "(or Scoring, Edit the model, in the web admin: rules as rows, grades, and a preview)",
        highlight=False,
    )
    say("   .venv/bin/kith reports community   |   .venv/bin/kith reports sync --html sync.html")


def _print_who(report: DemoReport) -> None:
    """Where the web admin shows who is in a group and who a mailing reaches."""
    say = console.print
    admin = "http://127.0.0.1:8000/marketing"
    name, run = next(iter(report.connection.syncs.items()))
    sent, held = report.mailings.sent, report.mailings.held
    say(f"   {admin}/groups/{run.group_id}/members   who is in {name}", highlight=False)
    say(
        f"   {admin}/mailings/{held.id}/people   who {held.name!r} would reach if sent now",
        highlight=False,
    )
    say(f"   {admin}/mailings/{sent.id}/people   each delivery of {sent.name!r}", highlight=False)
