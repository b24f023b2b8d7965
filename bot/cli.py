"""attache-bot command line: run, check-config, bootstrap-cross-signing, verify,
healthcheck, migrate-store, backup, restore, demo, --version."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from config import Settings


USUAL_GC_THRESHOLDS = gc.get_threshold()
START_UP_GC_THRESHOLD = 5000  # youngest generation, while a command imports (see main)


def _settings(args: argparse.Namespace) -> Settings | None:
    """The settings, or None after printing each problem (`setting: what, how to fix`)."""
    # Imported here, after main() slowed the collector: pydantic is a large import.
    from bot.settings_vocabulary import load_settings
    from config import ConfigError

    try:
        return load_settings(args.config)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return None


def cmd_check_config(args: argparse.Namespace) -> int:
    from bot.preflight import stored_state_problems

    settings = _settings(args)
    if settings is None:
        return 2
    problems = stored_state_problems(settings)  # the secrets against the data they open
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 2
    print(f"ok: {settings.user_id} on {settings.homeserver}, data in {settings.data_dir}")
    allowed = len(settings.allowed_users) + len(settings.allowed_servers) + len(settings.admins)
    if not allowed:
        print("warning: allowed_users, allowed_servers and admins are empty: nobody gets in")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from bot import logs, version

    settings = _settings(args)
    if settings is None:
        return 2
    from bot.app import run_bot
    from bot.preflight import crypto_store_problems

    # The imports are done (see main): their ~140k objects live as long as the process, so
    # the collector need never scan them again (a full collection cost 25 ms before).
    gc.freeze()
    gc.set_threshold(*USUAL_GC_THRESHOLDS)
    if not settings.on_postgresql:  # before anything is opened or migrated (a few ms)
        for problem in (problems := crypto_store_problems(settings)):
            print(f"attache-bot: {problem}", file=sys.stderr)
        if problems:
            return 2
    logs.setup(args.log_level or settings.log_level, args.log_format or settings.log_format)
    logging.getLogger("bot").info("%s starting", version.describe())
    try:
        healthy = _run_loop(run_bot(settings))
    except Exception as exc:
        return _cannot_start(exc, settings)
    return 0 if healthy else 1


def _cannot_start(exc: Exception, settings: Settings) -> int:
    """One line and the exit code for a known start-up problem; a bug keeps its trace."""
    from bot.preflight import explain

    known = explain(exc, settings)
    if known is None:
        raise exc
    logging.getLogger("bot.cli").debug("start-up failed", exc_info=exc)
    code, line = known
    print(f"attache-bot: {line}", file=sys.stderr)
    return code


def _run_loop(main: Any) -> Any:
    """asyncio.run on uvloop (libuv): less CPU per command, measured in docs/BENCHMARKS.md."""
    from bot.malloc_threshold import pin_mmap_threshold

    pin_mmap_threshold()  # before any thread: see the module
    try:
        import uvloop  # here: only `run` serves traffic; other commands stay plain asyncio
    except ImportError:  # not installed: the standard loop does the same, a bit slower
        return asyncio.run(main)
    return uvloop.run(main)


def cmd_bootstrap(args: argparse.Namespace) -> int:
    from bot import logs
    from bot.crypto.bootstrap import bootstrap_cross_signing

    settings = _settings(args)
    if settings is None:
        return 2
    logs.setup(settings.log_level, settings.log_format)
    return asyncio.run(bootstrap_cross_signing(settings))


def cmd_verify(args: argparse.Namespace) -> int:
    """Verify an admin at the console, in person (bot/verification/console.py)."""
    from bot import logs
    from bot.verification.console import verify_at_console

    settings = _settings(args)
    if settings is None:
        return 2
    logs.setup("WARNING", settings.log_format)  # the terminal is for the emoji and the question
    try:
        return asyncio.run(verify_at_console(settings, args.user_id))
    except KeyboardInterrupt:
        print("attache-bot: interrupted; nothing was signed.")
        return 1


def cmd_healthcheck(args: argparse.Namespace) -> int:
    """Exit 0 when /healthz says ok, 1 otherwise: the container HEALTHCHECK and k8s probes."""
    from bot.health import probe_address

    addr = args.addr
    if addr is None:
        from config import ConfigError, load_settings

        try:
            addr = load_settings(args.config).http_addr
        except ConfigError:  # the probe must not fail on settings it does not need
            addr = "127.0.0.1:9100"
    url = f"http://{probe_address(addr)}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            body = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        body = json.loads(exc.read() or b"{}")
    except (OSError, ValueError) as exc:
        print(f"unhealthy: {url} unreachable ({exc})", file=sys.stderr)
        return 1
    print(json.dumps(body))
    return 0 if body.get("status") == "ok" else 1


def cmd_migrate_store(args: argparse.Namespace) -> int:
    """Copy a SQLite deployment into an empty PostgreSQL database and verify the counts."""
    from bot import logs
    from bot.migrate_store import MigrationRefused, describe, migrate

    settings = _settings(args)
    if settings is None:
        return 2
    logs.setup(settings.log_level, settings.log_format)
    url = args.to
    if args.to_file is not None:
        url = args.to_file.read_text(encoding="utf-8").strip()
    if not url:
        print("migrate-store: give --to postgresql://... or --to-file FILE", file=sys.stderr)
        return 2
    try:
        report = asyncio.run(migrate(settings, url))
    except MigrationRefused as exc:
        print(f"migrate-store: refused: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        from bot.preflight import explain

        known = explain(exc, settings, database="--to")
        if known is None:
            raise
        print(f"migrate-store: {known[1]}; the SQLite data is untouched", file=sys.stderr)
        return 1
    print(describe(report))
    print("now set database_url (or database_url_file) to this database and start the bot")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    """One dated archive in DEST, online (bot/backup.py); one line and exit 2 on error."""
    from bot.backup import create_backup

    settings = _settings(args)
    if settings is None:
        return 2
    try:
        path = asyncio.run(create_backup(settings, args.dest))
    except Exception as exc:  # one line for the operator, never a traceback
        return _one_line("backup", exc)
    print(path)
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Restore an archive while no instance runs (bot/restore.py)."""
    from bot.restore import restore

    settings = _settings(args)
    if settings is None:
        return 2
    try:
        done = asyncio.run(restore(settings, args.src))
    except Exception as exc:  # one line for the operator, never a traceback
        return _one_line("restore", exc)
    m = done.manifest
    print(
        f"restored the backup of {m.created_at} (schema {m.schema_version}, {m.backend}); "
        "the next start logs in as a fresh device and skips what was already answered"
        + (f"; the replaced data is in {done.kept}" if done.kept else "")
    )
    return 0


def _one_line(verb: str, exc: Exception) -> int:
    from bot.archive import ArchiveError
    from bot.restore import RestoreRefused

    if isinstance(exc, RestoreRefused):
        print(f"{verb}: refused: {exc}", file=sys.stderr)
    elif isinstance(exc, ArchiveError):
        print(f"{verb}: {exc}", file=sys.stderr)
    else:
        text = str(exc).splitlines()[0] if str(exc) else ""
        print(f"{verb}: failed: {type(exc).__name__}{': ' + text if text else ''}", file=sys.stderr)
    return 2


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.demo import main as demo_main

    return demo_main(args)


class _Version(argparse.Action):
    """`--version`: computed only when asked (it may run git in a source checkout)."""

    def __init__(self, option_strings: list[str], dest: str, **kw: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, **kw)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        from bot.version import describe

        print(describe())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="attache-bot",
        description="End-to-end-encrypted Matrix bot for networks of defence attachés.",
    )
    parser.add_argument("--config", type=Path, help="YAML settings file (or ATTACHE_CONFIG)")
    parser.add_argument("--version", action=_Version, help="print the version and commit")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the bot")
    run.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    run.add_argument("--log-format", choices=["text", "json"])
    run.set_defaults(func=cmd_run)
    sub.add_parser("check-config", help="validate settings; exit 2 on error").set_defaults(
        func=cmd_check_config
    )
    sub.add_parser(
        "bootstrap-cross-signing", help="create or repair the bot's cross-signing identity"
    ).set_defaults(func=cmd_bootstrap)
    verify = sub.add_parser(
        "verify",
        help="verify an admin's identity in person (emoji in this terminal); the bot's "
        "service must be stopped",
    )
    verify.add_argument("user_id", help="the admin's Matrix ID, e.g. @ops:example.org")
    verify.set_defaults(func=cmd_verify)
    health = sub.add_parser("healthcheck", help="query /healthz; exit 0 when healthy")
    health.add_argument("--addr", help="host:port (default: http_addr)")
    health.set_defaults(func=cmd_healthcheck)
    move = sub.add_parser(
        "migrate-store", help="copy this SQLite deployment into an empty PostgreSQL database"
    )
    move.add_argument("--to", help="postgresql://user:password@host/db")
    move.add_argument(
        "--to-file", type=Path, help="file holding the URL (keeps the password out of ps)"
    )
    move.set_defaults(func=cmd_migrate_store)
    backup = sub.add_parser(
        "backup", help="write a dated, consistent backup archive into DEST (online)"
    )
    backup.add_argument("dest", type=Path, help="directory for the archive (made 0700)")
    backup.set_defaults(func=cmd_backup)
    restore = sub.add_parser("restore", help="restore a backup archive (every instance stopped)")
    restore.add_argument("src", type=Path, help="an archive written by `attache-bot backup`")
    restore.set_defaults(func=cmd_restore)
    demo = sub.add_parser("demo", help="local Synapse + bot + scripted encrypted conversation")
    demo.add_argument("--workdir", type=Path, default=Path(".tmp/demo"))
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # The image's ENTRYPOINT is attache-bot, so `docker run IMAGE attache-bot --help` would
    # pass the program's own name as the first argument; accept it, as official images do.
    if argv[:1] == ["attache-bot"]:
        argv = argv[1:]
    args = build_parser().parse_args(argv)
    # Start-up: loading ~800 modules makes the cyclic collector run again and again over
    # objects that all stay alive: ~20% of the import CPU (docs/BENCHMARKS.md). A rarer
    # collection while a command imports what it needs, not none: with none, the cycles
    # imports leave behind (3,000 objects) are freed all at once at the end, leaving 1.2 MiB
    # of half-empty memory pages resident (issue 25, docs/BENCHMARKS.md); `run` restores
    # the usual rate before serving.
    gc.set_threshold(START_UP_GC_THRESHOLD, *USUAL_GC_THRESHOLDS[1:])
    try:
        return int(args.func(args))
    finally:
        gc.set_threshold(*USUAL_GC_THRESHOLDS)


if __name__ == "__main__":
    sys.exit(main())
