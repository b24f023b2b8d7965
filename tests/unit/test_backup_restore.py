"""backup / restore without a homeserver: one dated 0600 archive with a manifest, never
nested, taken while the store is open; restore refuses while a bot holds the data dir or
the lease, checks the manifest, puts the store back and leaves the marker that makes the
next start a fresh device (bot/recovery.py); errors are one line, exit 2."""

from __future__ import annotations

import json
import stat
import tarfile
from pathlib import Path

import psycopg
import pytest

from bot import cli, ledger
from bot.archive import ArchiveError, Manifest
from bot.backup import create_backup
from bot.lock import DataDirLock
from bot.recovery import MARKER, needs_fresh_device, pending, retired_from_marker
from bot.restore import RestoreRefused, restore
from bot.store import open_store
from bot.store.migrations import MIGRATIONS
from tests.harness.fakes import BotCore, FakeClock, make_settings
from tests.harness.postgres import PostgresServer

ALICE = "@alice:test"
CREDS = {"user_id": "@bot:test", "device_id": "OLDDEVICE", "access_token": "syt_old"}


async def _deployment(data: Path, clock: FakeClock, url: str | None = None) -> BotCore:
    url = url or f"sqlite:///{data / 'attache.db'}"
    core = await BotCore(data, clock, database_url=url).open()
    await core.say(ALICE, "!tz Europe/Paris")
    return core


def _sqlite_files(data: Path) -> None:
    (data / "credentials.json").write_text(json.dumps(CREDS))
    (data / "cross_signing.keys").write_text('{"sealed": "keys"}')
    crypto = data / "crypto"
    crypto.mkdir(exist_ok=True)
    import sqlite3

    with sqlite3.connect(crypto / "@bot:test_OLDDEVICE.db") as db:
        db.execute("CREATE TABLE accounts (account TEXT)")
        db.execute("INSERT INTO accounts VALUES ('pickled')")


def _members(archive: Path) -> list[str]:
    with tarfile.open(archive) as tar:
        return tar.getnames()


async def test_sqlite_backup_while_open_then_restore_puts_it_back(
    tmp_path: Path, clock: FakeClock
) -> None:
    data = tmp_path / "data"
    core = await _deployment(data, clock)
    _sqlite_files(data)
    dest = data / "backups"  # even inside the data dir, archives never nest
    first = await create_backup(core.settings, dest)  # the store is open: online
    second = await create_backup(core.settings, dest)
    assert first != second and first.parent == second.parent == dest
    for archive in (first, second):
        assert stat.S_IMODE(archive.stat().st_mode) == 0o600
        assert first.name.startswith("attache-backup-") and archive.name.endswith(".tar.gz")
        names = _members(archive)
        assert not [n for n in names if "attache-backup" in n or "backups" in n], names
        assert names[0] == "manifest.json" and "store/attache.db" in names
        assert "crypto/@bot:test_OLDDEVICE.db" in names and "files/credentials.json" in names
    assert sorted(p.name for p in dest.iterdir()) == sorted([first.name, second.name])
    with tarfile.open(first) as tar:
        manifest = Manifest.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert manifest.backend == "sqlite" and manifest.user_id == "@bot:test"
    assert manifest.device_id == "OLDDEVICE"
    assert manifest.schema_version == MIGRATIONS[-1].number and manifest.created_at

    # Traffic after the backup, then a restore (the bot stopped).
    await core.say(ALICE, "!tz Asia/Tokyo")
    events_after = await core.count("handled_events")
    await core.close()
    (data / "credentials.json").write_text(json.dumps({**CREDS, "device_id": "NEWERDEV"}))
    done = await restore(core.settings, first)
    assert done.manifest.created_at == manifest.created_at
    assert done.kept is not None and (done.kept / "attache.db").exists()  # nothing lost
    assert (done.kept / "credentials.json").exists()
    assert not (data / "credentials.json").exists()  # the next start is a fresh device
    assert stat.S_IMODE((data / "attache.db").stat().st_mode) == 0o600
    assert (data / "cross_signing.keys").read_text() == '{"sealed": "keys"}'

    again = await BotCore(data, clock, database_url=f"sqlite:///{data / 'attache.db'}").open()
    try:
        assert await again.count("handled_events") == events_after - 1
        reply = await again.say(ALICE, "!tz")
        assert "Europe/Paris" in reply[0].body
        marker = await pending(again.store)
        assert marker is not None and marker["backup_created_at"] == manifest.created_at
        assert set(marker["retired_devices"]) == {"OLDDEVICE", "NEWERDEV"}
        tokens = {r["access_token"] for r in retired_from_marker(marker, core.settings)}
        assert tokens == {"syt_old"}  # both entries: the current device's file was NEWERDEV
        assert "syt_old" not in json.dumps(marker)  # tokens are sealed in the marker
    finally:
        await again.close()
    # A leftover credentials file of a superseded device is dropped, a fresh one kept.
    (data / "credentials.json").write_text(json.dumps(CREDS))
    assert needs_fresh_device(core.settings, marker) and not (data / "credentials.json").exists()
    (data / "credentials.json").write_text(json.dumps({**CREDS, "device_id": "FRESHDEV"}))
    assert not needs_fresh_device(core.settings, marker)


async def test_restore_refuses_a_running_bot_another_account_and_damage(
    tmp_path: Path, clock: FakeClock
) -> None:
    data = tmp_path / "data"
    core = await _deployment(data, clock)
    archive = await create_backup(core.settings, tmp_path / "backups")
    await core.close()
    before = (data / "attache.db").read_bytes()

    held = DataDirLock(data)
    held.acquire()
    with pytest.raises(RestoreRefused, match="stop it first"):
        await restore(core.settings, archive)
    held.release()

    other = make_settings(data, user_id="@other:test")
    with pytest.raises(RestoreRefused, match="the backup is of @bot:test"):
        await restore(other, archive)
    postgres_settings = make_settings(data, database_url="postgresql://x@127.0.0.1:1/x")
    with pytest.raises((RestoreRefused, OSError)):
        await restore(postgres_settings, archive)

    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(archive) as tar, tarfile.open(damaged, "w:gz") as out:
        for member in tar.getmembers():
            blob = tar.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "store/attache.db":
                blob = blob[:-1] + bytes([blob[-1] ^ 1])
            import io

            out.addfile(member, io.BytesIO(blob))
    with pytest.raises(ArchiveError, match="damaged"):
        await restore(core.settings, damaged)
    no_password = make_settings(data, password=None, access_token="t", device_id="D")
    with pytest.raises(RestoreRefused, match="password"):
        await restore(no_password, archive)
    assert (data / "attache.db").read_bytes() == before  # every refusal changed nothing
    assert not list(data.glob("pre-restore-*"))


def test_cli_errors_are_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key, value in {
        "ATTACHE_HOMESERVER": "http://127.0.0.1:1",
        "ATTACHE_USER_ID": "@bot:test",
        "ATTACHE_PASSWORD": "pw",
        "ATTACHE_PICKLE_KEY": "unit-test-pickle-key-0123456789",
        "ATTACHE_DATA_DIR": str(tmp_path / "data"),
    }.items():
        monkeypatch.setenv(key, value)
    assert cli.main(["restore", str(tmp_path / "nothing.tar.gz")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such backup file" in err and "Traceback" not in err
    assert cli.main(["backup", str(tmp_path / "out")]) == 2  # no store in data_dir yet
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("backup: ") and "Traceback" not in err
    (tmp_path / "file").write_text("x")
    assert cli.main(["backup", str(tmp_path / "file")]) == 2
    assert "not a directory" in capsys.readouterr().err


async def test_a_job_that_fired_before_a_restore_runs_for_its_effect_only(
    tmp_path: Path, clock: FakeClock
) -> None:
    core = await _deployment(tmp_path, clock)
    try:
        await core.say(ALICE, "!remind in 1h -- call Rome")
        await core.say(ALICE, "!remind in 2h -- call Paris")
        async with core.store.reader.execute(
            "SELECT id, kind, ref, due_at FROM jobs WHERE state = 'pending' ORDER BY due_at"
        ) as cur:
            jobs = [tuple(r) for r in await cur.fetchall()]
        assert len(jobs) == 2
        clock.advance(hours=3)
        # bot/recovery.py found the first job's ledger tag on the homeserver.
        async with core.store.write() as db:
            await db.execute(
                "INSERT INTO kv (key, value) VALUES (?, 'x')", (f"restore:fired:{jobs[0][0]}",)
            )
        sent = await core.fire_due()
        assert [m for m in sent if "call Paris" in m.body]
        assert not [m for m in sent if "call Rome" in m.body]  # delivered before the restore
        assert all(ledger.FIELD in m.content for m in sent)  # every job message is tagged
        assert {m.content[ledger.FIELD] for m in sent} == {ledger.job_origin(*jobs[1])}
        async with core.store.reader.execute("SELECT state FROM jobs ORDER BY due_at") as cur:
            states = [r[0] for r in await cur.fetchall()]
        assert states == ["done", "done"]  # the effect (done) happened once for both
        async with core.store.reader.execute(
            "SELECT COUNT(*) FROM kv WHERE key LIKE 'restore:fired:%'"
        ) as cur:
            assert (await cur.fetchone())[0] == 0  # used up: a later firing sends again
    finally:
        await core.close()


def test_ledger_tags_are_keyed_and_opaque() -> None:
    key = b"k" * 32
    a = ledger.tag(key, "job:1:remind:R-1:2026-01-01T09:00:00+00:00")
    assert a == ledger.tag(key, "job:1:remind:R-1:2026-01-01T09:00:00+00:00")
    assert a != ledger.tag(b"j" * 32, "job:1:remind:R-1:2026-01-01T09:00:00+00:00")
    assert "R-1" not in a and len(a) == 22


async def test_postgresql_backup_and_restore_refuses_a_lease_then_round_trips(
    tmp_path: Path, clock: FakeClock, postgres: PostgresServer
) -> None:
    url = postgres.new_database("backup")
    core = await _deployment(tmp_path, clock, url)
    core.settings = make_settings(tmp_path, database_url=url)
    from bot import datafiles

    sealed = datafiles.seal(
        json.dumps(CREDS).encode(), core.settings.secret_for_keys, "@bot:test", "credentials.json"
    )
    async with core.store.write() as db:
        await db.execute(
            "INSERT INTO attache_files (name, sealed) VALUES (?, ?)", ("credentials.json", sealed)
        )
    archive = await create_backup(core.settings, tmp_path / "backups")
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert "postgresql/handled_events.copy" in _members(archive)
    assert "postgresql/attache_lease.copy" not in _members(archive)
    await core.say(ALICE, "!tz Asia/Tokyo")
    after = await core.count("handled_events")
    await core.close()

    conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    try:
        await conn.execute(
            "INSERT INTO attache_lease (name, holder, token, expires_at) "
            "VALUES ('bot', 'host:1', 1, now() + interval '1 hour')"
        )
        with pytest.raises(RestoreRefused, match="holds the lease"):
            await restore(core.settings, archive)
        await conn.execute("UPDATE attache_lease SET expires_at = now() - interval '1 s'")
        with pytest.raises(RestoreRefused, match="other connection"):  # e.g. a standby
            await restore(core.settings, archive)
    finally:
        await conn.close()
    done = await restore(core.settings, archive)
    assert done.manifest.backend == "postgresql" and done.manifest.device_id == "OLDDEVICE"
    again = await BotCore(tmp_path / "again", clock, database_url=url).open()
    try:
        assert await again.count("handled_events") == after - 1
        assert "Europe/Paris" in (await again.say(ALICE, "!tz"))[0].body
        assert await again.count("attache_files") == 0  # no credentials: a fresh device
        marker = await pending(again.store)
        assert marker is not None and marker["retired_devices"] == ["OLDDEVICE"]
        store = open_store(url)
        await store.open()  # ids continue after the restored ones
        await store.close()
    finally:
        await again.close()
    assert MARKER == "restore:pending"


async def test_recovery_records_what_the_homeserver_shows_was_done(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ledger read back (faked here; read from Synapse in the restore drill) becomes:
    handled commands, jobs fired silently, queued rows already sent; the marker goes."""
    from bot import recovery

    data = tmp_path / "data"
    core = await _deployment(data, clock)
    _sqlite_files(data)
    await core.say(ALICE, "!remind in 1h -- call Rome")
    # A reply queued before the backup (sent after it) and one never sent.
    async with core.store.write() as db:
        for reply_to in ("$sent-after-backup", "$never-sent"):
            await db.execute(
                "INSERT INTO outbox (room_id, content, created_at) VALUES (?, ?, ?)",
                ("!room:test", json.dumps({"content": {"body": "x"}, "reply_to": reply_to}), "t"),
            )
    archive = await create_backup(core.settings, tmp_path / "backups")
    await core.close()
    await restore(core.settings, archive)
    async with (
        again := await BotCore(data, clock, database_url=f"sqlite:///{data / 'attache.db'}").open()
    ).store.reader.execute("SELECT id, kind, ref, due_at FROM jobs WHERE state = 'pending'") as cur:
        job = tuple(await cur.fetchone())
    clock.advance(hours=2)
    key = ledger.key_for(core.settings)

    async def ledger_read(
        _client: object, _since: int
    ) -> tuple[dict[str, str], set[str], dict[str, str]]:
        replied = {"$answered-after-backup": "!room:test", "$sent-after-backup": "!room:test"}
        # An edit whose answer carries its tag (it replies to the command edited); a
        # reaction nobody answered (no tag): only the first counts as answered.
        tags = {ledger.tag(key, ledger.job_origin(*job))}
        tags.add(ledger.tag(key, ledger.event_origin("$edit-after-backup")))
        others = {"$edit-after-backup": "!room:test", "$unanswered-reaction": "!room:test"}
        return replied, tags, others

    logged_out: list[str] = []

    async def log_out(_client: object, token: str) -> None:
        logged_out.append(token)

    monkeypatch.setattr(recovery, "read_ledger", ledger_read)
    monkeypatch.setattr(recovery, "_log_out", log_out)

    class Client:
        device_id = "FRESHDEV"

    try:
        marker = await pending(again.store)
        assert marker is not None
        done = await recovery.recover(Client(), again.store, core.settings, marker, clock)  # type: ignore[arg-type]
        assert logged_out == ["syt_old"] and done.retired == ["OLDDEVICE"]
        assert not (data / "crypto" / "@bot:test_OLDDEVICE.db").exists()
        assert done.fired_jobs == [job[0]] and len(done.already_sent) == 1
        assert await pending(again.store) is None
        answered = await recovery.answered_before_restore(again.store)
        assert answered >= {"$answered-after-backup", "$edit-after-backup"}
        assert "$unanswered-reaction" not in answered  # its sender is told it was not read
        queued = await again.new_messages()  # what is queued already
        told = [m for m in queued if m.body.startswith("I was restored from a backup made")]
        assert len(told) == 1 and told[0].room_id == "!room:test", [m.body for m in queued]
        assert "(3 messages, answered at the time) is undone" in told[0].body
        outcome = await again.say(ALICE, "!ping", event_id="$answered-after-backup")
        assert outcome == []  # not run again
        async with again.store.reader.execute(
            "SELECT content, state FROM outbox WHERE state != 'sent' OR error IS NOT NULL "
            "ORDER BY id"
        ) as cur:
            rows = [(json.loads(r[0]).get("reply_to"), r[1]) for r in await cur.fetchall()]
        assert ("$never-sent", "pending") in rows and (None, "sent") in rows
        fired = await again.fire_due()
        assert not [m for m in fired if "call Rome" in m.body]
    finally:
        await again.close()


async def test_the_ledger_is_read_back_page_by_page_down_to_the_backup() -> None:
    """Replies count (not a thread's fallback relation), job tags count, and paging stops
    at the first event older than the backup."""
    from nio import JoinedRoomsResponse

    from bot.recovery import read_ledger

    def ev(ts: int, sender: str = "@bot:test", **content: object) -> dict[str, object]:
        return {"origin_server_ts": ts, "sender": sender, "event_id": f"$e{ts}", "content": content}

    pages = {
        None: {
            "chunk": [
                ev(900, **{"m.relates_to": {"m.in_reply_to": {"event_id": "$new"}}}),
                ev(850, sender="@alice:test", **{"m.relates_to": {"rel_type": "m.replace"}}),
                ev(800, **{ledger.FIELD: "TAG1"}),
            ],
            "end": "p2",
        },
        "p2": {
            "chunk": [
                ev(
                    700,
                    **{
                        "m.relates_to": {
                            "rel_type": "m.thread",
                            "event_id": "$root",
                            "is_falling_back": True,
                            "m.in_reply_to": {"event_id": "$root"},
                        }
                    },
                ),
                ev(600, **{"m.relates_to": {"m.in_reply_to": {"event_id": "$edge"}}}),
                ev(400, **{"m.relates_to": {"m.in_reply_to": {"event_id": "$too-old"}}}),
            ],
            "end": "p3",
        },
        "p3": {"chunk": [ev(300, **{ledger.FIELD: "OLD"})], "end": None},
    }
    asked: list[str | None] = []

    class Resp:
        status = 200

        def __init__(self, body: dict[str, object]) -> None:
            self.body = body

        async def json(self) -> dict[str, object]:
            return self.body

    class Client:
        user_id = "@bot:test"
        access_token = "t"

        async def joined_rooms(self) -> JoinedRoomsResponse:
            return JoinedRoomsResponse(rooms=["!a:test"])

        async def send(self, method: str, path: str, **_kw: object) -> Resp:
            token = path.split("from=")[1].split("&")[0] if "from=" in path else None
            asked.append(token)
            assert "dir=b" in path
            return Resp(pages[token])

    replied, tags, others = await read_ledger(Client(), 500)  # type: ignore[arg-type]
    assert replied == {"$new": "!a:test", "$edge": "!a:test"}
    assert tags == {"TAG1"} and asked == [None, "p2"]  # never the page past the backup
    assert others == {"$e850": "!a:test"}  # everyone else's, to match the tags against
