"""Prometheus metrics, in a registry of their own (no process-wide state between bots).

Besides the bot's own: the standard process_* (RSS, CPU, open files, start time) and
python_* (version, garbage collector) series every exporter has, and attache_build_info.
Counters export no `_created` series (a second series per counter that dashboards and
alerts never use).
"""

from __future__ import annotations

from prometheus_client import (
    GC_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

from bot import version

# Process-wide in prometheus_client, so also for metrics made later.
disable_created_metrics()  # type: ignore[no-untyped-call]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        if GC_COLLECTOR is not None:  # CPython: python_gc_* (collections, objects)
            GCCollector(registry=r)
        Info("attache_build", "Version and commit of the running bot", registry=r).info(
            {"version": version.version(), "commit": version.commit()}
        )
        self.commands = Counter(
            "attache_commands", "Commands handled", ["command", "outcome"], registry=r
        )
        self.command_seconds = Histogram(
            "attache_command_seconds",
            "Time from receipt to committed effect, by command",
            ["command"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=r,
        )
        self.sync_lag = Gauge(
            "attache_sync_lag_seconds", "Seconds since the last completed sync", registry=r
        )
        self.last_sync = Gauge(
            "attache_last_sync_timestamp_seconds",
            "Unix time of the last completed sync",
            registry=r,
        )
        self.active = Gauge(
            "attache_active",
            "1 on the instance that acts (holds the lease on PostgreSQL), 0 on a standby",
            registry=r,
        )
        self.active.set(1)
        self.pending_jobs = Gauge(
            "attache_pending_jobs", "Scheduled jobs (reminders, nudges) not yet fired", registry=r
        )
        self.outbox_pending = Gauge(
            "attache_outbox_pending", "Messages waiting to be sent", registry=r
        )
        self.messages_sent = Counter("attache_messages_sent", "Messages delivered", registry=r)
        self.send_retries = Counter("attache_send_retries", "Send attempts retried", registry=r)
        self.send_giveups = Counter(
            "attache_send_giveups",
            "Messages given up on: past their kind's deadline (expired) or refused for good "
            "(refused); the person who asked is told (bot/send_failures.py)",
            ["kind", "reason"],
            registry=r,
        )
        for kind in ("reply", "message", "scheduled", "notice"):  # bot/send_policy.KINDS
            for reason in ("expired", "refused"):
                self.send_giveups.labels(kind, reason)
        self.send_rate_limited = Counter(
            "attache_send_rate_limited",
            "Sends the homeserver answered with 429 (retried after its Retry-After)",
            registry=r,
        )
        self.parked_events = Counter(
            "attache_parked_events",
            "Events whose handling failed and were parked instead of stopping the bot",
            ["stage"],
            registry=r,
        )
        self.unsafe_refused = Counter(
            "attache_unsafe_sends_refused",
            "Messages not sent because they could not go out encrypted",
            registry=r,
        )
        self.undeliverable = Counter(
            "attache_undeliverable",
            "Messages that could not reach their person (allow-list, left, rejected, gone)",
            registry=r,
        )
        self.marking_withheld = Counter(
            "attache_marking_withheld",
            "Recipients a marked message was kept from (nation or clearance not covered)",
            registry=r,
        )
        self.decryption_failures = Counter(
            "attache_decryption_failures", "Events that could not be decrypted in time", registry=r
        )
        self.refused = Counter(
            "attache_refused_events", "Events refused before dispatch", ["reason"], registry=r
        )

        # Derived at each scrape (bot/health.py): what an alert needs that no event counts.
        self.health_check = Gauge(
            "attache_health_check",
            "1 when the /healthz check passes, 0 when it fails (sync, store, cross_signing)",
            ["check"],
            registry=r,
        )
        self.outbox_oldest = Gauge(
            "attache_outbox_oldest_pending_seconds",
            "Age of the oldest message waiting to be sent (0 when none waits)",
            registry=r,
        )
        self.job_delay = Histogram(
            "attache_job_delay_seconds",
            "How long after its due time a reminder, nudge or escalation fired",
            buckets=(1, 5, 15, 60, 300, 900, 3600, 6 * 3600, 86_400),
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
