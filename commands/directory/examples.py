"""Examples built for their reader, from this directory, at the moment they are shown.

The examples in the source (and in the docs) name the posts and people of a made-up network
(FR-PARIS, @alice:example.org). Shown as they are, they fail wherever those do not exist.
Before a refusal or `!help` reaches someone, each such name in its example lines is
replaced by a post or person that exists here and is not the reader (posts first, then
people; not the reader's own post); where there is none, the name leaves its comma list
(`with=`) or its option is dropped; a person the command cannot do without becomes the
reader, a post it cannot do without leaves the example unshown.

The post a `!dir post` example makes gets a new code (NEW-DESK), never an existing post's.

An object an example names (`!decline LR-3`, `!show A-7`, `!ics M-3`, `!actions done A-7`,
`!summit close S-1` …) becomes the reader's newest one that verb may be sent about
(`_ACTS_ON`: theirs to move, to see from this room, or the secretariat's), and that is
released to them (the markings' one rule, also its summit's for an item); where there is
none, the example gives way to where theirs are listed (`!requests`, `!actions list`).
An example of a command the reader's roles do not allow is not shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import aiosqlite

from commands.context import Context
from commands.i18n import _
from commands.markings.access import released_to_sender
from commands.markings.model.marking import Marking
from commands.words import MORE

# The made-up names examples are written with (the source's and the docs').
DOC_POSTS = ("FR-PARIS", "DE-BERLIN", "NATO-HQ-DATT")
DOC_PEOPLE = (
    "@alice:example.org",
    "@bob:example.org",
    "@anna:example.org",
    "@a:example.org",
    "@b:example.org",
)
# The docs' releasability: in an example it becomes the reader's nation and the nations of
# the posts' members and people the example names (else no one it names would be covered).
DOC_REL = re.compile(r"(?<!\S)rel=FRA,DEU(?=\s|$)")
_EDGE_BEFORE = r"(?<![\w@:.-])"
_EDGE_AFTER = r"(?![\w:.-]*[\w])"


def _named(example: str, names: tuple[str, ...]) -> list[str]:
    return [n for n in names if re.search(_EDGE_BEFORE + re.escape(n) + _EDGE_AFTER, example)]


async def _existing(db: aiosqlite.Connection, reader: str) -> tuple[list[str], list[str], set[str]]:
    """Every post, every person but the reader, and the reader's own posts."""
    async with db.execute("SELECT code FROM posts ORDER BY code") as cur:
        posts = [str(r[0]) for r in await cur.fetchall()]
    async with db.execute("SELECT post FROM post_members WHERE user_id = ?", (reader,)) as cur:
        own = {str(r[0]) for r in await cur.fetchall()}
    async with db.execute(
        "SELECT user_id FROM people WHERE user_id != ? ORDER BY user_id", (reader,)
    ) as cur:
        people = [str(r[0]) for r in await cur.fetchall()]
    return posts, people, own


def _without(example: str, name: str) -> str | None:
    """The example without a name: out of its comma list, or its option dropped; None when
    the name stands alone where the command needs it."""
    n = re.escape(name)
    for pattern in (rf",{n}(?=[\s,]|$)", rf"(?<==){n},"):
        if re.search(pattern, example):
            return re.sub(pattern, "" if pattern.startswith(",") else "=", example, count=1)
    option = re.search(rf"\s[\w-]+={n}(?=\s|$)", example)
    if option is not None:
        return example[: option.start()] + example[option.end() :]
    return None


def _new_code(n: int) -> str:
    return "NEW-DESK" if n == 1 else f"NEW-DESK-{n}"


async def for_reader(db: aiosqlite.Connection, reader: str, example: str) -> str | None:
    """One example with its made-up names replaced (see the module); None: show none."""
    posts_named, people_named = _named(example, DOC_POSTS), _named(example, DOC_PEOPLE)
    if not posts_named and not people_named:
        return example
    posts, people, own = await _existing(db, reader)
    taken = set(posts_named) | set(people_named)
    # Not the reader's own post as a stand-in: a request to it would reach nobody.
    spare_posts = [p for p in posts if p not in taken and p not in own]
    spare_people = [p for p in people if p not in taken]
    text: str | None = example
    for name in [*posts_named, *people_named]:
        if text is None:
            return None
        if name in posts or name in people:
            continue  # this directory has it
        if re.search(rf"dir post {re.escape(name)}(?!\S)", text):
            # The post the example makes: a new code, never another post's (copied, the
            # example would rename that post and replace its members).
            fresh = next(c for n in range(1, 10_000) if (c := _new_code(n)) not in posts)
            text = re.sub(_EDGE_BEFORE + re.escape(name) + _EDGE_AFTER, fresh, text)
            continue
        is_post = name in DOC_POSTS
        post_only = re.search(rf"(?:post=|dir post ){re.escape(name)}", text) is not None
        pool = (
            spare_people
            if not is_post
            else spare_posts
            if post_only
            else spare_posts or spare_people
        )
        if not pool and post_only and "dir post " in text:
            continue  # `!dir post FR-PARIS …` makes the post: it needs none to exist
        if not pool and not is_post and _without(text, name) is None:
            pool = [reader]  # a person the command needs: the reader may name themself
        if pool:
            other = pool.pop(0)
            text = re.sub(_EDGE_BEFORE + re.escape(name) + _EDGE_AFTER, other, text)
        else:
            text = _without(text, name)
    return text


async def fitted_rel(db: aiosqlite.Connection, reader: str, example: str) -> str:
    """`rel=FRA,DEU` made for the reader (see DOC_REL); a reader with no nation cannot
    make a marked object at all: the example is shown without its marking."""
    if not DOC_REL.search(example):
        return example
    async with db.execute("SELECT nation FROM people WHERE user_id = ?", (reader,)) as cur:
        row = await cur.fetchone()
    if row is None or not row[0]:
        return re.sub(r"\s+marking=\S+", "", DOC_REL.sub("", example)).replace("  ", " ")
    words = set(re.findall(r"[@\w][\w.:=/+-]*", example))
    named = sorted(w for w in words if w.startswith("@") or re.fullmatch(r"[A-Z][A-Z0-9-]+", w))
    nations = [str(row[0])]
    if named:
        marks = ",".join("?" * len(named))
        async with db.execute(
            f"SELECT p.nation FROM people p WHERE p.nation IS NOT NULL AND (p.user_id IN "
            f"({marks}) OR p.user_id IN (SELECT m.user_id FROM post_members m WHERE m.post "
            f"IN ({marks}))) ORDER BY p.nation",
            (*named, *named),
        ) as cur:
            nations += [str(r[0]) for r in await cur.fetchall()]
    if set(nations) <= {"FRA", "DEU"}:
        return example  # the docs' nations already cover everyone it names
    return DOC_REL.sub("rel=" + ",".join(dict.fromkeys(nations)), example)


# The objects of a kind a verb may be sent about by the reader, newest first, each with the
# markings that must be released to them (its own, and its summit's for an item). The
# parameters are named by `_Asks`: the reader (`sender`), the room the example is shown in
# (`room`: a summit is seen from its room) and whether the reader is the secretariat.
# A hand-over carries no marking: the reader's own not yet undone, for !dir handover undo.
@dataclass(frozen=True)
class _Asks:
    sql: str
    params: tuple[str, ...] = ("sender",)


_ADDRESSED = (
    "SELECT r.id, r.marking FROM liaison_requests r JOIN liaison_addressees a"
    " ON a.request_id = r.id WHERE a.user_id = ? AND r.status IN ({states}) ORDER BY r.id DESC"
)
_MINE_TO_COME = (
    "SELECT number, marking FROM schedule_items WHERE creator = ? AND kind = '{kind}'"
    " AND state = 'active' AND next_at IS NOT NULL ORDER BY number DESC"
)
# Meetings, visits and reminders the reader made or takes part in (in person, or by a post).
_THEIRS = (
    "SELECT s.number, s.marking FROM schedule_items s WHERE s.kind = '{kind}'"
    " AND s.state = 'active' AND (s.creator = ? OR s.id IN (SELECT p.item_id FROM"
    " schedule_participants p WHERE p.who = ? OR p.who IN"
    " (SELECT post FROM post_members WHERE user_id = ?))) ORDER BY s.number DESC"
)
_SUMMIT_SEEN = "(? = 1 OR su.room_id = ?)"
# Items the reader sees: from their summit's room, as the secretariat, or as the owner.
_ITEMS = (
    "SELECT i.id, i.marking, su.marking FROM action_items i JOIN summits su"
    " ON su.id = i.summit_id WHERE {status} AND (" + _SUMMIT_SEEN + " OR"
    " (i.owner_kind = 'person' AND i.owner = ?) OR (i.owner_kind = 'post' AND i.owner IN"
    " (SELECT post FROM post_members WHERE user_id = ?))) ORDER BY i.id DESC"
)
_ITEM_PARAMS = ("secretariat", "room", "sender", "sender")
# Items the reader may move: their own (or their post's) open ones; any open one for the
# secretariat; the secretariat's own verbs (edit, reassign) need the secretariat.
_TO_MOVE = _Asks(
    "SELECT i.id, i.marking, su.marking FROM action_items i JOIN summits su ON su.id ="
    " i.summit_id WHERE i.status IN ('open', 'in_progress') AND su.state = 'open' AND"
    " (? = 1 OR (i.owner_kind = 'person' AND i.owner = ?) OR (i.owner_kind = 'post' AND"
    " i.owner IN (SELECT post FROM post_members WHERE user_id = ?))) ORDER BY i.id DESC",
    ("secretariat", "sender", "sender"),
)
_FOR_SECRETARIAT = _Asks(
    "SELECT i.id, i.marking, su.marking FROM action_items i JOIN summits su ON su.id ="
    " i.summit_id WHERE i.status IN ('open', 'in_progress') AND su.state = 'open' AND ? = 1"
    " ORDER BY i.id DESC",
    ("secretariat",),
)
_SUMMITS_SEEN = _Asks(
    "SELECT su.id, su.marking FROM summits su WHERE " + _SUMMIT_SEEN + " ORDER BY su.id DESC",
    ("secretariat", "room"),
)
_OPEN_SUMMITS = _Asks("SELECT id, marking FROM summits WHERE state = 'open' ORDER BY id DESC", ())
_REQUESTS_SEEN = _Asks(
    "SELECT r.id, r.marking FROM liaison_requests r WHERE r.requester = ? OR r.id IN"
    " (SELECT request_id FROM liaison_addressees WHERE user_id = ?) ORDER BY r.id DESC",
    ("sender", "sender"),
)
_SCHEDULED = ("M", "V", "R")
_ACTS_ON: dict[tuple[str, str], _Asks] = {
    ("ack", "LR"): _Asks(_ADDRESSED.format(states="'open'")),
    ("answer", "LR"): _Asks(_ADDRESSED.format(states="'open', 'acknowledged'")),
    ("decline", "LR"): _Asks(_ADDRESSED.format(states="'open', 'acknowledged'")),
    ("reply", "LR"): _Asks(_ADDRESSED.format(states="'open', 'acknowledged'")),
    ("close", "LR"): _Asks(
        "SELECT id, marking FROM liaison_requests WHERE requester = ?"
        " AND status IN ('acknowledged', 'answered') ORDER BY id DESC"
    ),
    ("show", "LR"): _REQUESTS_SEEN,
    **{("cancel", k): _Asks(_MINE_TO_COME.format(kind=k)) for k in _SCHEDULED},
    **{("edit", k): _Asks(_MINE_TO_COME.format(kind=k)) for k in _SCHEDULED},
    **{
        (verb, k): _Asks(_THEIRS.format(kind=k), ("sender", "sender", "sender"))
        for verb in ("show", "ics")
        for k in _SCHEDULED
    },
    ("show", "A"): _Asks(_ITEMS.format(status="1 = 1"), _ITEM_PARAMS),
    **{(f"actions {verb}", "A"): _TO_MOVE for verb in ("done", "status", "comment")},
    ("actions reassign", "A"): _FOR_SECRETARIAT,
    ("edit", "A"): _FOR_SECRETARIAT,
    ("show", "S"): _SUMMITS_SEEN,
    ("actions list", "S"): _SUMMITS_SEEN,
    ("actions export", "S"): _SUMMITS_SEEN,
    ("actions add", "S"): _OPEN_SUMMITS,
    ("actions import", "S"): _OPEN_SUMMITS,
    ("summit edit", "S"): _OPEN_SUMMITS,
    ("summit close", "S"): _OPEN_SUMMITS,
    ("dir handover", "H"): _Asks(
        "SELECT id, NULL FROM handovers WHERE actor = ? AND undone_at IS NULL ORDER BY id DESC"
    ),
}
# Where the reader finds their objects of a kind, when an example has none to name.
_LISTED_BY = {
    "LR": "requests",
    "M": "agenda",
    "V": "agenda",
    "R": "agenda",
    "S": "summit list",
    "A": "actions list",
    "H": "dir handovers",
}
_OBJECT = re.compile(r"(?<![\w-])(LR|[SAMVRH])-(\d+)\b")
_VERB = re.compile(r"^\W(\w+)(?: (\w+))?")  # after the prefix


async def _their_object(ctx: Context, verb: str, kind: str, named: int | None) -> int | None:
    """The newest object of `kind` the reader may send `verb` about and may see; `named`
    first, if it is one (the object the reader's own command was about)."""
    asks = _ACTS_ON[(verb, kind)]
    secretariat = ctx.person is not None and ctx.person.has_role("secretariat")
    known = {"sender": ctx.sender, "room": ctx.room_id or "", "secretariat": int(secretariat)}
    async with ctx.db.execute(asks.sql, tuple(known[p] for p in asks.params)) as cur:
        rows = sorted(await cur.fetchall(), key=lambda row: int(row[0]) != named)  # stable
    for number, *markings in rows:
        if await released_to_sender(ctx, [Marking.from_column(m) for m in markings]):
            return int(number)
    return None


async def _fitted_objects(ctx: Context, example: str) -> tuple[str | None, str | None]:
    """(the example naming the reader's own objects, None) or (None, the command that lists
    them; `help` when the command is not for this reader at all). Objects no verb rule is
    known for stay as they are."""
    words = _VERB.match(example)
    if words is None:
        return example, None
    named = ctx.registry.named(example)
    if named is not None and named.roles is not None:
        if ctx.person is None or not ctx.person.has_role(*named.roles):
            return None, "help"  # refused to this reader before anything else
    verbs = [f"{words[1]} {words[2]}", words[1]] if words[2] else [words[1]]
    for match in list(_OBJECT.finditer(example)):
        kind = match[1]
        verb = next((v for v in verbs if (v, kind) in _ACTS_ON), None)
        if verb is None:
            continue
        # The object the reader's own command named stays, if they may act on it: a
        # refusal's example about that very object (`!edit A-1 owner=…`).
        own = ctx.incoming is not None and re.search(
            rf"(?<![\w-]){match[0]}\b", ctx.incoming.body, re.IGNORECASE
        )
        number = await _their_object(ctx, verb, kind, int(match[2]) if own else None)
        if number is None:
            return None, _LISTED_BY[kind]
        example = re.sub(rf"(?<![\w-]){match[0]}\b", f"{kind}-{number}", example, count=1)
    return example, None


async def examples_for(ctx: Context, reply: str) -> str:
    """A reply with each of its example lines (`Example: …`, in the reader's language) made
    for this reader; a line whose example cannot be made is left out, or says where the
    reader's objects (or the commands they may use) are listed."""
    label = _("Example: {example}", example="")
    if label not in reply:
        return reply
    lines = []
    given = reply.split("\n")
    while given:
        line = given.pop(0)
        head, found, example = line.partition(label)
        more = 0  # an example of several lines goes on in lines indented by MORE
        while found and example and more < len(given) and given[more].startswith(MORE):
            more += 1
        if more:
            example = "\n".join([example, *(g[len(MORE) :] for g in given[:more])])
            del given[:more]
        if found and example:
            fitted, listed = await _fitted_objects(ctx, example)
            if listed == "help":
                line = head + _(
                    "Send {command} for the commands you may use.", command=ctx.prefix + listed
                )
            elif listed is not None:
                line = head + _("Send {command} for yours.", command=ctx.prefix + listed)
            elif fitted is not None:
                made = await for_reader(ctx.db, ctx.sender, fitted)
                if made is None:
                    continue
                made = await fitted_rel(ctx.db, ctx.sender, made)
                line = head + label + made.replace("\n", "\n" + MORE)
        lines.append(line)
    return "\n".join(lines)
