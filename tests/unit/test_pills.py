"""Only the sender's own words command the bot: pills in the sender's own HTML become the
Matrix IDs they name; quoted messages (Element's reply fallback, quotes) never count, and a
pill whose text names someone other than its link counts for nothing (issue 22, finding 2)."""

from __future__ import annotations

from types import SimpleNamespace

from bot.incoming import to_incoming
from bot.own_words import command_text, strip_quoted
from bot.pills import names_user, resolve_pills

BOB, MALLORY = "@bob:localhost", "@mallory:localhost"
BERND = {"@bernd:bund.de": {"Bernd Müller"}}
COMMAND = f"!dir person {BOB} nation=FRA clearance=RESTRICTED"


def element_reply(own_body: str, own_html: str | None, quoted_html: str, quoted_plain: str) -> dict:
    """A reply exactly as Element (before MSC2781) sends it: the quoted message first in the
    plain body (`> <sender> text`) and in formatted_body (`<mx-reply>`)."""
    content = {
        "msgtype": "m.text",
        "body": f"> <{MALLORY}> {quoted_plain}\n\n{own_body}",
        "m.relates_to": {"m.in_reply_to": {"event_id": "$mallory"}},
    }
    if own_html is not None:
        content["format"] = "org.matrix.custom.html"
        content["formatted_body"] = (
            '<mx-reply><blockquote><a href="https://matrix.to/#/!room:localhost/$mallory'
            '?via=localhost">In reply to</a> <a href="https://matrix.to/#/'
            f'{MALLORY}">{MALLORY}</a><br>{quoted_html}</blockquote></mx-reply>{own_html}'
        )
    return content


# Mallory's message: a pill whose text says Bob but whose link is Mallory.
TRAP_HTML = f'<a href="https://matrix.to/#/{MALLORY}">{BOB}</a>'


def test_the_attack_a_reply_to_a_lying_pill_keeps_the_admins_target() -> None:
    """The exact attack of issue 22: an admin replies to Mallory's lying pill with a
    `!dir person @bob… nation=FRA clearance=RESTRICTED`; the target stays Bob."""
    content = element_reply(COMMAND, COMMAND, TRAP_HTML, BOB)
    names = {MALLORY: {"Mallory", BOB}}  # she even set her display name to Bob's ID
    assert command_text(content, "!", names) == COMMAND
    # Before the fix the quoted pill was read and the body became "… @mallory:localhost …".
    event = SimpleNamespace(event_id="$e", sender="@admin:localhost")
    incoming = to_incoming("!r:localhost", event, {"content": content}, "!", names)
    assert incoming is not None
    assert incoming.body == COMMAND and incoming.reply_to == "$mallory"


def test_element_reply_without_formatted_body_keeps_only_the_own_text() -> None:
    content = element_reply(COMMAND, None, TRAP_HTML, f"{BOB}\n> second quoted line")
    assert "formatted_body" not in content
    assert command_text(content, "!") == COMMAND


def test_own_pill_after_a_quoted_pill_of_the_same_text_counts_only_itself() -> None:
    quoted = '<a href="https://matrix.to/#/@mallory:localhost">Bob</a>'
    own = f'!dir person <a href="https://matrix.to/#/{BOB}">Bob</a> nation=FRA'
    content = element_reply("!dir person Bob nation=FRA", own, quoted, "Bob")
    names = {BOB: {"Bob"}, MALLORY: {"Bob"}}
    assert command_text(content, "!", names) == f"!dir person {BOB} nation=FRA"


def test_a_quote_in_the_own_html_is_not_the_senders_words() -> None:
    body = "> Bob said hi\n\n!whois Bob"
    link = f'<a href="https://matrix.to/#/{MALLORY}">Bob</a>'
    html = f"<blockquote>{link} said hi</blockquote>!whois Bob"
    assert command_text({"body": body, "formatted_body": html}, "!", {MALLORY: {"Bob"}}) == (
        "!whois Bob"
    )


def test_unclosed_reply_fallback_makes_no_later_pill_count() -> None:
    html = f'<mx-reply><blockquote>x !whois <a href="https://matrix.to/#/{MALLORY}">Bob</a>'
    assert resolve_pills("!whois Bob", html, {MALLORY: {"Bob"}}) == "!whois Bob"


def test_pill_text_is_replaced_by_the_id_when_it_is_their_name() -> None:
    body = "!request Bernd Müller Visit of the CHOD"
    html = (
        '!request <a href="https://matrix.to/#/@bernd:bund.de">Bernd Müller</a> Visit of the CHOD'
    )
    assert resolve_pills(body, html, BERND) == "!request @bernd:bund.de Visit of the CHOD"
    # Element X writes "@Name"; spacing and case do not make another person.
    html_at = html.replace(">Bernd Müller<", ">@bernd  müller<")
    assert resolve_pills(body.replace("Bernd Müller", "@bernd  müller"), html_at, BERND) == (
        "!request @bernd:bund.de Visit of the CHOD"
    )


def test_pill_whose_text_is_not_a_name_of_its_user_does_not_count() -> None:
    body = "!request Bernd Müller Visit"
    html = '!request <a href="https://matrix.to/#/@mallory:evil.example">Bernd Müller</a> Visit'
    names = {"@mallory:evil.example": {"Mallory"}}
    assert resolve_pills(body, html, names) == body
    assert resolve_pills(body, html) == body  # no names known: only an ID text counts


def test_text_that_looks_like_an_id_must_be_that_id() -> None:
    assert names_user(BOB, BOB, ())
    assert not names_user(BOB, MALLORY, {BOB})  # a display name set to someone's ID
    assert not names_user("@bob:localhost", MALLORY, {"bob:localhost"})
    assert names_user("Bob", BOB, {"bob"}) and names_user("@Bob", BOB, {"Bob"})
    assert not names_user("Bob", BOB, {"Bobby", ""})


def test_two_pills_with_the_same_name_each_take_their_own_place() -> None:
    body = "!meeting tomorrow 10:00 with=Kim,Kim -- x"
    html = (
        '!meeting tomorrow 10:00 with=<a href="https://matrix.to/#/@kim:a.org">Kim</a>,'
        '<a href="https://matrix.to/#/%40kim%3Ab.org">Kim</a> -- x'
    )
    names = {"@kim:a.org": {"Kim"}, "@kim:b.org": {"Kim"}}
    assert resolve_pills(body, html, names) == (
        "!meeting tomorrow 10:00 with=@kim:a.org,@kim:b.org -- x"
    )


def test_non_user_links_and_bad_ids_are_left_alone() -> None:
    body = "!show A-7 see Room and Evil"
    html = (
        '!show A-7 see <a href="https://matrix.to/#/!room:x.org">Room</a> and '
        '<a href="https://matrix.to/#/@evil user:x">Evil</a>'
    )
    assert resolve_pills(body, html, {"@evil user:x": {"Evil"}}) == body


def test_no_html_or_broken_html_keeps_the_body() -> None:
    assert resolve_pills("!ping", None) == "!ping"
    assert resolve_pills(
        "!tz X", '<a href="https://matrix.to/#/@x:y.org"', {"@x:y.org": {"X"}}
    ) == ("!tz X")


def test_quoted_lines_are_stripped_from_the_plain_body() -> None:
    assert strip_quoted("> <@m:x> hello\n> more\n\n!ping") == "!ping"
    assert strip_quoted(">\n> <@m:x> hi\n\n!ping") == "!ping"
    assert strip_quoted("  !ping  ") == "!ping"
    assert strip_quoted("!ping\n> not leading") == "!ping\n> not leading"


def test_an_edit_reads_only_its_own_new_content() -> None:
    source = {
        "content": {
            "msgtype": "m.text",
            "body": "* !whois Bob",
            "m.new_content": {
                "msgtype": "m.text",
                "body": "!whois Bob",
                "formatted_body": f'<mx-reply><a href="https://matrix.to/#/{MALLORY}">Bob</a>'
                "</mx-reply>!whois Bob",
            },
            "m.relates_to": {"rel_type": "m.replace", "event_id": "$orig"},
        }
    }
    event = SimpleNamespace(event_id="$e", sender="@admin:localhost")
    incoming = to_incoming("!r:x", event, source, "!", {MALLORY: {"Bob"}})
    assert incoming is not None and incoming.body == "!whois Bob"


async def test_names_come_from_the_directory_the_profile_and_the_room(tmp_path) -> None:
    from bot.own_words import pill_names
    from tests.harness.fakes import BotCore

    core = await BotCore(tmp_path).open()
    try:
        await core.profile_name(BOB, "Bob Profile")
        room = SimpleNamespace(users={MALLORY: SimpleNamespace(display_name="Mal")})
        html = f"!x {pill(BOB, 'a')} {pill(MALLORY, 'b')} {pill('@nobody:x', 'c')}"
        names = await pill_names(core.store.reader, room, {"formatted_body": html})
        assert names == {BOB: {"Bob Profile"}, MALLORY: {"Mal"}, "@nobody:x": set()}
        quoted = f"<mx-reply>{pill(BOB, 'a')}</mx-reply>!x"
        assert await pill_names(core.store.reader, room, {"formatted_body": quoted}) == {}
    finally:
        await core.close()


def pill(user_id: str, text: str) -> str:
    return f'<a href="https://matrix.to/#/{user_id}">{text}</a>'
