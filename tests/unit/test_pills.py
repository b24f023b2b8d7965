"""Element mention pills in commands become the Matrix IDs they stand for."""

from __future__ import annotations

from bot.pills import resolve_pills


def test_pill_text_is_replaced_by_the_id() -> None:
    body = "!request Bernd Müller Visit of the CHOD"
    html = (
        '!request <a href="https://matrix.to/#/@bernd:bund.de">Bernd Müller</a> Visit of the CHOD'
    )
    assert resolve_pills(body, html) == "!request @bernd:bund.de Visit of the CHOD"


def test_two_pills_with_the_same_name_each_take_their_own_place() -> None:
    body = "!meeting tomorrow 10:00 with=Kim,Kim -- x"
    html = (
        '!meeting tomorrow 10:00 with=<a href="https://matrix.to/#/@kim:a.org">Kim</a>,'
        '<a href="https://matrix.to/#/%40kim%3Ab.org">Kim</a> -- x'
    )
    assert resolve_pills(body, html) == "!meeting tomorrow 10:00 with=@kim:a.org,@kim:b.org -- x"


def test_non_user_links_and_bad_ids_are_left_alone() -> None:
    body = "!show A-7 see Room and Evil"
    html = (
        '!show A-7 see <a href="https://matrix.to/#/!room:x.org">Room</a> and '
        '<a href="https://matrix.to/#/@evil user:x">Evil</a>'
    )
    assert resolve_pills(body, html) == body


def test_no_html_or_broken_html_keeps_the_body() -> None:
    assert resolve_pills("!ping", None) == "!ping"
    assert resolve_pills("!tz X", '<a href="https://matrix.to/#/@x:y.org"') == "!tz X"
