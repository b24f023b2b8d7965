"""What the runtime itself writes (dispatcher, edits, outbox, sync, device trust) reads in its
reader's language: the sender's for a reply, the recipient's for what the outbox renders at
send time, the sender's for a notice about their message, each admin's for a security notice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.crypto import identities, refusals
from bot.outbox.queue import enqueue
from bot.outbox.sending import Outbox
from bot.send_error import SendError
from bot.transport import NOT_ENCRYPTED
from commands import delivery
from commands.context import OutMessage, utc_iso
from tests.harness.fakes import BotCore, FakeTransport

ALICE = "@alice:test"  # English (the default)
ANNE = "@anne:test"  # French
GUS = "@gus:test"  # German
ADMIN = "@admin:test"  # the fake core's admin


async def speaks(core: BotCore, user: str, code: str) -> None:
    async with core.store.write() as db:
        await db.execute(
            "INSERT INTO people (user_id, language, updated_at) VALUES (?, ?, 'then') "
            "ON CONFLICT (user_id) DO UPDATE SET language = excluded.language",
            (user, code),
        )


async def queue(core: BotCore, *messages: OutMessage) -> None:
    async with core.store.write() as db:
        await enqueue(db, list(messages), utc_iso(core.clock.now()))


# -- dispatcher replies: the sender's language -------------------------------------------


async def test_rate_limit_notice_in_the_french_senders_language(tmp_path: Path) -> None:
    core = await BotCore(tmp_path, rate_limit_burst=3, rate_limit_per_minute=60).open()
    try:
        await speaks(core, ANNE, "fr")
        replies = [await core.say(ANNE, "!ping") for _unused in range(4)]
        assert [len(r) for r in replies] == [1, 1, 1, 1]
        assert replies[3][0].body == (
            "Vous envoyez des messages plus vite que je ne les accepte (60 par minute après "
            "une rafale de 3). Les messages au-delà de la limite ont été ignorés ; attendez "
            "une minute, puis renvoyez-les."
        )
        # Someone else, in English, in the same bot: unchanged.
        english = [await core.say(ALICE, "!ping") for _unused in range(4)]
        assert english[3][0].body.startswith("You are sending messages faster than I accept")
    finally:
        await core.close()


async def test_internal_error_reply_in_the_french_senders_language(
    core: BotCore, monkeypatch: Any
) -> None:
    async def boom(ctx: Any, args: Any) -> None:
        raise RuntimeError("secret internals")

    spec = core.registry.commands["ping"]
    monkeypatch.setitem(
        core.registry.commands, "ping", spec.__class__(**{**spec.__dict__, "handler": boom})
    )
    await speaks(core, ANNE, "fr")
    (reply,) = await core.say(ANNE, "!ping")
    assert reply.body.startswith("Une erreur s'est produite de mon côté (réf. ")
    assert reply.body.endswith(
        "). Rien n'a été modifié. Réessayez, ou communiquez la référence à un opérateur."
    )
    assert "secret internals" not in reply.body


async def test_role_refusal_names_the_role_in_the_senders_language(core: BotCore) -> None:
    await speaks(core, GUS, "de")
    (reply,) = await core.say(GUS, "!dir list")
    assert reply.body == (
        "!dir list ist der Rolle Administrator vorbehalten. Wenden Sie sich an einen "
        "Administrator, wenn Sie den Befehl benötigen."
    )
    (reply,) = await core.say(ALICE, "!dir list")
    assert reply.body == "!dir list is for admin only. Ask an admin if you need it."


async def test_length_refusal_in_the_senders_language(tmp_path: Path) -> None:
    core = await BotCore(tmp_path, max_command_length=100).open()
    try:
        await speaks(core, ANNE, "fr")
        (reply,) = await core.say(ANNE, "!tz " + "x" * 200)
        assert reply.body.startswith("Cette commande compte 204 caractères ; la limite est de 100.")
        assert "Exemple : !tz Europe/Paris" in reply.body  # the refused command's own example
    finally:
        await core.close()


async def test_edit_notice_in_the_german_senders_language(core: BotCore) -> None:
    await speaks(core, GUS, "de")
    await core.say(GUS, "!meeting tomorrow 09:00 -- Sync", event_id="$m")
    (answer,) = await core.say(
        GUS, "!meeting tomorrow 10:00 -- Sync", event_id="$m-edit", replaces="$m"
    )
    assert answer.body.splitlines() == [
        "Ihre Bearbeitung wurde nicht übernommen: !meeting war bereits ausgeführt.",
        "Um M-1 zu ändern, senden Sie !edit M-1 start=… (unter !help meeting steht, was "
        "sich ändern lässt).",
    ]
    assert answer.reply_to == "$m"


# -- rendered at send time: the reader's language ------------------------------------------


async def test_undeliverable_notice_in_the_senders_language_not_the_recipients(
    core: BotCore,
) -> None:
    """A French sender's message to a German person who declined the bot's DM: the
    French sender is told, in French (never in the unreachable person's German)."""
    await speaks(core, ANNE, "fr")
    await speaks(core, GUS, "de")
    async with core.store.write() as db:
        await db.execute(
            "INSERT INTO unreachable_people (user_id, reason, since) VALUES (?, ?, 'then')",
            (GUS, delivery.REJECTED),
        )
    await queue(
        core,
        OutMessage(body="LR-3", user_id=GUS, origin={"user_id": ANNE, "object": "LR-3"}),
    )
    transport = FakeTransport()
    await core.drain_outbox(transport)
    [told] = transport.received_by(ANNE)
    assert told["body"] == (
        f"Je n'ai pas pu remettre LR-3 à {GUS} : cette personne a refusé mon invitation à une "
        "conversation en message direct. Contactez cette personne par un autre moyen ; dès "
        "qu'elle m'écrira en message direct, je pourrai de nouveau lui écrire."
    )
    assert transport.received_by(GUS) == []
    # Stored and audited in English (operators read those).
    [(error,)] = await core.query("SELECT error FROM outbox WHERE user_id = ?", GUS)
    assert error == f"undeliverable: {delivery.REJECTED}"


async def test_late_note_in_the_recipients_language(core: BotCore) -> None:
    """A reminder that leaves late says so in its reader's language: a DM row's person, a
    row addressed to someone's DM room, and (unchanged) an English reader."""
    await speaks(core, ANNE, "fr")  # the sender of everything below
    await speaks(core, GUS, "de")
    await core.dm_with(GUS, "!dm-gus")
    await queue(
        core,
        OutMessage(body="Erinnerung", user_id=GUS, late_note_after=60),
        OutMessage(body="Erinnerung 2", room_id="!dm-gus", late_note_after=60),
        OutMessage(body="Reminder", user_id=ALICE, late_note_after=60),
    )
    core.clock.advance(hours=1)
    transport = FakeTransport()
    transport.dms[GUS] = "!dm-gus"
    transport.members["!dm-gus"] = [GUS]
    await core.drain_outbox(transport)
    # One worker per target, concurrently: found by their text, not by their order.
    body = {c["body"].rsplit("\n", 1)[1]: c["body"] for _room, c in transport.sent}
    german = "(Verspätet zugestellt: Der Homeserver war nicht erreichbar. Diese Nachricht war für "
    assert body["Erinnerung"].startswith(german)
    assert body["Erinnerung 2"].startswith(german)
    assert body["Reminder"].startswith(
        "(Delivered late: the homeserver was unreachable. This was due "
    ) and body["Reminder"].endswith(" UTC.)\nReminder")


async def test_late_note_in_a_post_rooms_language(core: BotCore) -> None:
    """A room's reader is the room: its post's language (lang=), whoever wrote the message."""
    async with core.store.write() as db:
        await db.execute(
            "INSERT INTO posts (code, name, room_id, created_at, language) "
            "VALUES ('DE-BERLIN', 'Berlin', '!berlin:test', 'then', 'de')"
        )
    await speaks(core, ANNE, "fr")
    await queue(core, OutMessage(body="LR-1", room_id="!berlin:test", late_note_after=60))
    core.clock.advance(hours=1)
    transport = FakeTransport({"!berlin:test": [GUS]})
    await core.drain_outbox(transport)
    [(room, content)] = transport.sent
    assert room == "!berlin:test"
    assert content["body"].startswith("(Verspätet zugestellt: Der Homeserver war nicht")


async def test_unsafe_send_tells_each_admin_and_the_sender_in_their_language(
    core: BotCore,
) -> None:
    await speaks(core, ADMIN, "de")
    await speaks(core, ANNE, "fr")

    class Plain(FakeTransport):
        async def send(self, room_id: str, content: dict[str, Any], *a: Any, **kw: Any) -> str:
            raise SendError(NOT_ENCRYPTED, unsafe=True)

    await queue(core, OutMessage(body="x", room_id="!plain:test", origin={"user_id": ANNE}))
    await core.new_messages()
    outbox = Outbox(core.store, Plain(), core.clock, core.metrics, admins=(ADMIN,))
    [row] = await core.query("SELECT * FROM outbox")
    await outbox._deliver(row)
    told = {m.user_id: m.body for m in await core.new_messages()}
    assert told[ANNE].startswith(
        "Je n'ai pas pu remettre un message à !plain:test : ce salon n'est pas chiffré de "
        "bout en bout."
    )
    assert told[ADMIN].startswith(
        "Sicherheitshinweis: Ich habe das Senden in den Raum !plain:test verweigert, weil der "
        "Raum nicht Ende-zu-Ende-verschlüsselt ist; ich sende nie etwas unverschlüsselt."
    )


# -- sync and device trust: the sender's language ------------------------------------------


async def test_untrusted_device_refusal_in_the_senders_language(core: BotCore) -> None:
    from bot.sync import SyncLoop

    await speaks(core, ANNE, "fr")
    loop = SyncLoop(
        client=None,  # type: ignore[arg-type]
        settings=core.settings,
        store=core.store,
        dispatcher=None,  # type: ignore[arg-type]
        metrics=core.metrics,
        clock=core.clock,
    )
    refusal = refusals.Refusal(refusals.UNTRUSTED_DEVICE, "DEVX", {"device": "DEVX"})
    for who, event_id in ((ANNE, "$1"), (ALICE, "$2")):
        await loop.refusals.tell(
            "!r:test", who, event_id, refusal.reason, refusal.device_id, refusal.values
        )
    french, english = await core.new_messages()
    assert french.body.startswith(
        "Je n'ai pas donné suite à votre message : il provient d'un appareil (DEVX) que votre "
        "propre identité de signature croisée n'a pas vérifié"
    )
    assert english.body == refusal.text()  # the English template, filled in
    assert english.body.startswith(
        "I did not act on your message: it came from a session (DEVX) that your own"
    )


def test_identity_changed_notice_is_whole_in_each_language() -> None:
    from commands.i18n import language

    key_a, key_b = "A" * 43, "B" * 43
    english = identities.identity_changed_notice(GUS, key_a, key_b, "!", configured=False)
    assert english.startswith(f"Security notice: the cross-signing identity of {GUS} changed.")
    assert english.endswith(f"then send `!trust approve {GUS} <the new master key>`.")
    with language("fr"):
        french = identities.identity_changed_notice(GUS, key_a, key_b, "!", configured=False)
    assert french.startswith(f"Avis de sécurité : l'identité de signature croisée de {GUS}")
    assert french.endswith(f"`!trust approve {GUS} <la nouvelle clé maîtresse>`.")
