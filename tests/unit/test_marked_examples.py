"""A refusal's example that carries a releasability works for its reader when copied.

The examples are written with the docs' nations (`rel=FRA,DEU`). In a deployment of Dutch,
Polish and Italian attachés, copying one was refused again: "rel=FRA,DEU does not include
your own nation (NLD)", or the addressee it names was not covered."""

from __future__ import annotations

from pathlib import Path

import pytest

from commands.i18n import _, language
from tests.harness.fakes import BotCore

ADMIN, HANNA, PIOTR = "@zoe:test", "@hanna:test", "@piotr:test"
MARKINGS = {
    "marking_levels": ["UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL"],
    "max_marking": "RESTRICTED",
    "marking_groups": {"EUR": ["NLD", "POL", "ITA"]},
}


@pytest.fixture
async def hague(tmp_path: Path, store_url: str):
    core = await BotCore(
        tmp_path, database_url=store_url, admins=[ADMIN], allowed_users=[HANNA, PIOTR], **MARKINGS
    ).open()
    for line in (
        f"!dir post NL-DEN-HAAG members={HANNA} nation=NLD",
        f"!dir post PL-WARSZAWA members={PIOTR} nation=POL",
        f"!dir person {HANNA} post=NL-DEN-HAAG nation=NLD clearance=RESTRICTED lang=de",
        f"!dir person {PIOTR} post=PL-WARSZAWA nation=POL clearance=RESTRICTED lang=fr",
    ):
        await core.say(ADMIN, line)
    try:
        yield core
    finally:
        await core.close()


def example_of(body: str, lang: str) -> str:
    with language(lang):
        label = _("Example: {example}", example="")
    [line] = [ln for ln in body.splitlines() if ln.startswith(label)]
    return line.removeprefix(label)


@pytest.mark.parametrize(
    ("who", "lang", "refused", "made"),
    [
        (HANNA, "de", "!request PL-WARSZAWA Konvoi -- Route? marking=CONFIDENTIAL", "LR-1"),
        (PIOTR, "fr", "!meeting tomorrow 10:00 marking=CONFIDENTIAL -- Point", "M-1"),
        (HANNA, "de", "!visit tomorrow 10:00 marking=CONFIDENTIAL -- Besuch", "V-1"),
    ],
)
async def test_a_marked_example_is_accepted_when_its_reader_copies_it(
    hague: BotCore, who: str, lang: str, refused: str, made: str
) -> None:
    [refusal] = await hague.say(who, refused)
    example = example_of(refusal.body, lang)
    assert "FRA" not in example and "DEU" not in example, example
    sent = await hague.say(who, example)
    assert any(made in m.body for m in sent), [m.body for m in sent]
    table = "liaison_requests" if made.startswith("LR") else "schedule_items"
    [(marking,)] = await hague.query(f"SELECT marking FROM {table}")
    assert '"level": "RESTRICTED"' in marking, marking


async def test_the_example_for_a_new_post_changes_no_existing_post(hague: BotCore) -> None:
    """A mistyped code's example named an existing post with `members=`: copied, it renamed
    PL-WARSZAWA "Paris DATT" and replaced its members."""
    posts = (
        "SELECT p.code, p.name, m.user_id FROM posts p LEFT JOIN post_members m "
        "ON m.post = p.code ORDER BY p.code, m.user_id"
    )
    before = [tuple(r) for r in await hague.query(posts)]
    [refusal] = await hague.say(ADMIN, "!dir post PL-<b>X</b>")
    example = example_of(refusal.body, "en")
    [made] = await hague.say(ADMIN, example)
    assert made.body.startswith("post: "), made.body  # the example works: it makes a post
    after = [tuple(r) for r in await hague.query(posts)]
    assert [r for r in after if r[0] in ("NL-DEN-HAAG", "PL-WARSZAWA")] == before, example
