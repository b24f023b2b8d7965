"""Examples built for their reader, from this directory, at the moment they are shown.

The examples in the source (and in the docs) name the posts and people of a made-up network
(FR-PARIS, @alice:example.org). Shown as they are, they fail wherever those do not exist.
Before a refusal or `!help` reaches someone, each such name in its example lines is
replaced by a post or person that exists here and is not the reader (posts first, then
people; not the reader's own post); where there is none, the name leaves its comma list
(`with=`) or its option is dropped; a person the command cannot do without becomes the
reader, a post it cannot do without leaves the example unshown.
"""

from __future__ import annotations

import re

import aiosqlite

from commands.i18n import _

# The made-up names examples are written with (the source's and the docs').
DOC_POSTS = ("FR-PARIS", "DE-BERLIN", "NATO-HQ-DATT")
DOC_PEOPLE = (
    "@alice:example.org",
    "@bob:example.org",
    "@anna:example.org",
    "@a:example.org",
    "@b:example.org",
)
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


async def examples_for(db: aiosqlite.Connection, reader: str, reply: str) -> str:
    """A reply with each of its example lines (`Example: …`, in the reader's language) made
    for this reader; a line whose example cannot be made is left out."""
    label = _("Example: {example}", example="")
    if label not in reply:
        return reply
    lines = []
    for line in reply.split("\n"):
        head, found, example = line.partition(label)
        if found and example:
            made = await for_reader(db, reader, example)
            if made is None:
                continue
            line = head + label + made
        lines.append(line)
    return "\n".join(lines)
