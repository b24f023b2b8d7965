"""The markings rules, exhaustively: parsing, the ceiling, groups, coverage, re-marking."""

from __future__ import annotations

import pytest

from commands.errors import UserError
from commands.markings import NATIONS, Marking, Policy, Subject, remarked_notice
from commands.markings.model.reasons import reason_shown
from commands.markings.routing import decide_room, room_notice, with_banner

LEVELS = ("UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL", "SECRET")
FVEY = frozenset({"USA", "GBR", "CAN", "AUS", "NZL"})
POLICY = Policy(
    levels=LEVELS,
    groups={"FVEY": FVEY, "EUCORE": frozenset({"FRA", "DEU", "ITA"})},
    max_marking="CONFIDENTIAL",
)

R_FRA_DEU = Marking("RESTRICTED", ("FRA", "DEU"))
C_FRA_DEU = Marking("CONFIDENTIAL", ("FRA", "DEU"))
R_FVEY = Marking("RESTRICTED", ("FVEY",))
U_FRA = Marking("UNCLASSIFIED", ("FRA",))

NOT_IN_REL = "is not in REL TO"
NO_NATION = "no nation"
BELOW = "does not cover"
UNKNOWN_CLEARANCE = "is not one of this system's levels"

# (marking, person nation, clearance) -> None (delivered) or a fragment of the reason.
TABLE = [
    (None, None, None, None),
    (None, "USA", None, None),
    (None, "FRA", "UNCLASSIFIED", None),
    (Marking("UNCLASSIFIED"), None, None, None),  # lowest level, no rel: unmarked
    (Marking("RESTRICTED"), "FRA", None, "releasable to no nation"),  # built without rel
    (U_FRA, "FRA", None, None),
    (U_FRA, "DEU", None, NOT_IN_REL),
    (U_FRA, None, None, NO_NATION),
    (R_FRA_DEU, "FRA", None, None),
    (R_FRA_DEU, "DEU", None, None),
    (R_FRA_DEU, "USA", None, NOT_IN_REL),
    (R_FRA_DEU, None, None, NO_NATION),
    (R_FRA_DEU, None, "SECRET", NO_NATION),
    (R_FRA_DEU, "FRA", "UNCLASSIFIED", BELOW),
    (R_FRA_DEU, "FRA", "RESTRICTED", None),
    (R_FRA_DEU, "FRA", "SECRET", None),
    (R_FRA_DEU, "USA", "SECRET", NOT_IN_REL),
    (R_FRA_DEU, "FRA", "TOPSECRET", UNKNOWN_CLEARANCE),
    (C_FRA_DEU, "DEU", "RESTRICTED", BELOW),
    (C_FRA_DEU, "DEU", "CONFIDENTIAL", None),
    (C_FRA_DEU, "DEU", None, None),
    (R_FVEY, "USA", None, None),
    (R_FVEY, "NZL", "RESTRICTED", None),
    (R_FVEY, "FRA", None, NOT_IN_REL),
    (R_FVEY, None, None, NO_NATION),
    (Marking("RESTRICTED", ("FVEY", "FRA")), "FRA", None, None),
    (Marking("RESTRICTED", ("FVEY", "FRA")), "DEU", None, NOT_IN_REL),
    (Marking("RESTRICTED", ("EUCORE",)), "ITA", None, None),
    # above the ceiling (a row from before the operator lowered it): nobody
    (Marking("SECRET", ("FRA",)), "FRA", "SECRET", "at most CONFIDENTIAL"),
    # a level the operator removed, a group the operator removed: nobody (fail closed)
    (Marking("NATO_SECRET", ("FRA",)), "FRA", None, "any more"),
    (Marking("RESTRICTED", ("GONE",)), "FRA", None, NOT_IN_REL),
]


@pytest.mark.parametrize(("marking", "nation", "clearance", "expected"), TABLE)
def test_coverage_table(marking, nation, clearance, expected) -> None:
    person = Subject("@p:test", nation=nation, clearance=clearance)
    reason = POLICY.exclusion(marking, person)
    if expected is None:
        assert reason is None
        assert POLICY.covers(marking, person)
    else:
        assert reason is not None and expected in reason, reason
        assert not POLICY.covers(marking, person)


def test_reasons_name_what_is_wrong() -> None:
    assert POLICY.exclusion(R_FRA_DEU, Subject("@u:test", "USA")) == (
        "their nation (USA) is not in REL TO FRA, DEU"
    )
    # About them, never their clearance (the sender and the audit read it; issue 22, 7);
    # to them, their own.
    below = POLICY.exclusion(C_FRA_DEU, Subject("@u:test", "FRA", "RESTRICTED"))
    assert below == "their clearance does not cover CONFIDENTIAL"
    assert reason_shown(below, mine=True) == "your clearance (RESTRICTED) is below CONFIDENTIAL"
    unknown = POLICY.exclusion(C_FRA_DEU, Subject("@u:test", "FRA", "TOPSECRET"))
    assert unknown is not None and "TOPSECRET" not in unknown


def test_nations_are_the_real_iso_list() -> None:
    assert {"FRA", "DEU", "USA", "GBR", "NZL"} <= NATIONS
    assert "XXX" not in NATIONS and "FR" not in NATIONS
    assert len(NATIONS) >= 249


# -- parsing --------------------------------------------------------------------------


def test_parse_level_and_nations() -> None:
    m = POLICY.parse("restricted", "fra, deu")
    assert m == R_FRA_DEU
    assert m.banner == "RESTRICTED // REL TO FRA, DEU"


def test_parse_group_and_mixed() -> None:
    assert POLICY.parse("RESTRICTED", "FVEY").banner == "RESTRICTED // REL TO FVEY"
    m = POLICY.parse("RESTRICTED", "FVEY,FRA,FRA")
    assert m.rel == ("FVEY", "FRA")
    assert POLICY.nations_of(m.rel) == FVEY | {"FRA"}


def test_parse_nothing_is_unmarked() -> None:
    assert POLICY.parse(None, None) is None
    assert POLICY.parse("UNCLASSIFIED", None) is None


def test_parse_rel_alone_keeps_lowest_level() -> None:
    m = POLICY.parse(None, "FRA")
    assert m == U_FRA and m.banner == "UNCLASSIFIED // REL TO FRA"


@pytest.mark.parametrize(
    ("marking", "rel", "says"),
    [
        ("SECRETISH", "FRA", "'SECRETISH' is not a marking level here"),
        ("SECRET", "FRA", "This system may carry at most CONFIDENTIAL"),
        ("RESTRICTED", "FRX", "'FRX' is not a nation or a group"),
        ("RESTRICTED", "FR", "for France write FRA"),
        ("RESTRICTED", "FRA,,NATO", "'NATO' is not a nation or a group"),
        ("RESTRICTED", ",", "names no nation"),
        ("RESTRICTED", None, "must say who it is releasable to"),
    ],
)
def test_parse_errors_say_what_and_show_an_example(marking, rel, says) -> None:
    with pytest.raises(UserError) as err:
        POLICY.parse(marking, rel)
    assert says in err.value.message
    assert err.value.example and "rel=" in err.value.example


def test_ceiling_error_names_the_ceiling_and_lists_levels() -> None:
    with pytest.raises(UserError) as err:
        POLICY.parse("SECRET", "FRA")
    assert "at most CONFIDENTIAL" in err.value.text()
    with pytest.raises(UserError) as err:
        POLICY.parse("TOP", "FRA")
    assert "UNCLASSIFIED < RESTRICTED < CONFIDENTIAL < SECRET" in err.value.text()


def test_ceiling_defaults_to_highest_level() -> None:
    open_policy = Policy(levels=LEVELS)
    assert open_policy.ceiling == "SECRET"
    assert open_policy.parse("SECRET", "FRA") == Marking("SECRET", ("FRA",))


def test_defaults_deployment_and_room() -> None:
    policy = Policy(levels=LEVELS, default_marking="RESTRICTED", default_rel=("FRA",))
    assert policy.parse(None, None) == Marking("RESTRICTED", ("FRA",))
    assert policy.parse(None, "DEU") == Marking("RESTRICTED", ("DEU",))
    assert policy.parse("CONFIDENTIAL", None) == Marking("CONFIDENTIAL", ("FRA",))
    room_default = Marking("CONFIDENTIAL", ("DEU",))  # a room's default wins
    assert policy.parse(None, None, default=room_default) == room_default


def test_empty_group_is_refused() -> None:
    policy = Policy(levels=LEVELS, groups={"NONE": frozenset()})
    with pytest.raises(UserError, match="covers no nation"):
        policy.parse("RESTRICTED", "NONE")


def test_marking_round_trips_as_json() -> None:
    assert Marking.from_json(R_FVEY.to_json()) == R_FVEY
    assert Marking.from_json(None) is None


# -- rooms ----------------------------------------------------------------------------

FRA = Subject("@fra:test", "FRA", name="Francois")
DEU = Subject("@deu:test", "DEU")
USA = Subject("@usa:test", "USA", name="Uma")
NONE = Subject("@none:test")


def test_room_all_covered_gets_the_content() -> None:
    decision = decide_room(POLICY, R_FRA_DEU, [FRA, DEU])
    assert decision.send_content and not decision.excluded


def test_room_with_one_uncovered_member_gets_only_the_notice() -> None:
    decision = decide_room(POLICY, R_FRA_DEU, [FRA, USA, DEU, NONE])
    assert not decision.send_content
    assert {p.user_id for p in decision.covered} == {"@fra:test", "@deu:test"}
    assert {p.user_id for p, _ in decision.excluded} == {"@usa:test", "@none:test"}


def test_unmarked_goes_to_any_room() -> None:
    assert decide_room(POLICY, None, [USA, NONE]).send_content


def test_room_notice_has_object_and_marking_only() -> None:
    text = room_notice("LR-4", R_FRA_DEU)
    assert text.startswith("LR-4 (RESTRICTED // REL TO FRA, DEU) is not shown in this room")
    assert "\n" not in text


def test_banner_plain_and_html_escaped() -> None:
    content = {"msgtype": "m.notice", "body": "LR-4 subject", "formatted_body": "<b>LR-4</b>"}
    out = with_banner(content, Marking("R<&>", ("FRA",)))
    assert out["body"] == "R<&> // REL TO FRA\nLR-4 subject"
    assert out["formatted_body"].startswith("<p><strong>R&lt;&amp;&gt; // REL TO FRA</strong></p>")
    assert with_banner(content, None) is content
    assert "formatted_body" not in with_banner({"body": "x"}, R_FVEY)


# -- re-marking -----------------------------------------------------------------------


def test_raising_the_level_withdraws_from_those_no_longer_cleared() -> None:
    fra_low = Subject("@fra-low:test", "FRA", "RESTRICTED")
    result = POLICY.remark(R_FRA_DEU, C_FRA_DEU, holders=[FRA, fra_low], addressees=[])
    assert result.stricter
    assert [(p.user_id, "cover CONFIDENTIAL" in r) for p, r in result.withdrawn] == [
        ("@fra-low:test", True)
    ]
    assert result.newly == ()


def test_narrowing_rel_withdraws_and_delivers_to_nobody_new() -> None:
    narrower = Marking("RESTRICTED", ("FRA",))
    result = POLICY.remark(R_FRA_DEU, narrower, holders=[FRA, DEU], addressees=[FRA, DEU, USA])
    assert result.stricter
    assert [p.user_id for p, _ in result.withdrawn] == ["@deu:test"]
    assert result.newly == ()


def test_widening_delivers_to_the_newly_covered() -> None:
    wider = Marking("RESTRICTED", ("FRA", "DEU", "FVEY"))
    result = POLICY.remark(R_FRA_DEU, wider, holders=[FRA, DEU], addressees=[FRA, DEU, USA, NONE])
    assert not result.stricter
    assert result.withdrawn == ()
    assert [p.user_id for p in result.newly] == ["@usa:test"]


def test_unmarking_delivers_to_everyone_left_out() -> None:
    result = POLICY.remark(R_FRA_DEU, None, holders=[FRA], addressees=[FRA, USA, NONE])
    assert [p.user_id for p in result.newly] == ["@usa:test", "@none:test"]
    assert not result.stricter


def test_marking_an_unmarked_object_is_stricter() -> None:
    result = POLICY.remark(None, R_FRA_DEU, holders=[FRA, USA, NONE], addressees=[])
    assert result.stricter
    assert [p.user_id for p, _ in result.withdrawn] == ["@usa:test", "@none:test"]


def test_lowering_level_same_rel_is_not_stricter() -> None:
    assert not POLICY.stricter(C_FRA_DEU, R_FRA_DEU)
    assert POLICY.stricter(R_FRA_DEU, Marking("RESTRICTED", ("FRA",)))
    assert not POLICY.stricter(Marking("RESTRICTED", ("FRA", "DEU")), R_FRA_DEU)


def test_remarked_notice_tells_the_fact_not_the_content() -> None:
    text = remarked_notice("LR-4", C_FRA_DEU)
    assert text.startswith("LR-4 was re-marked CONFIDENTIAL // REL TO FRA, DEU;")
    assert "nothing more" in text


def test_remark_messages_tell_the_withdrawn_and_name_the_newly_covered() -> None:
    from commands.markings.routing import remark_messages

    told, newly = remark_messages(
        POLICY,
        "LR-4",
        R_FRA_DEU,
        Marking("RESTRICTED", ("FRA", "USA")),
        holders=[FRA, DEU],
        addressees=[FRA, DEU, USA],
    )
    assert [(m.user_id, m.marking) for m in told] == [("@deu:test", None)]
    assert told[0].body.startswith("LR-4 was re-marked RESTRICTED // REL TO FRA, USA;")
    assert [p.user_id for p in newly] == ["@usa:test"]
