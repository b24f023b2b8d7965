"""Several Synapses federating with each other on loopback (TLS, real federation).

Each server is named ``localhost:<federation port>`` (no .well-known, no SRV lookup), serves
federation over TLS with a self-signed certificate made here, and talks only to the other
servers of its group, on 127.0.0.1. The recipe and why each setting is needed are in
../shared/FIELD-NOTES.md ("Several homeservers federating on loopback").
"""

from __future__ import annotations

import asyncio
import datetime
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from nio import JoinError

from tests.harness.clients import TestClient
from tests.harness.synapse import SynapseServer, free_port

# Federation back-off in seconds: low, so a server that returns is retried promptly
# (Synapse's default leaves it alone for up to 10 minutes).
RETRY_MIN_SECONDS = 1
RETRY_MAX_SECONDS = 5


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate for ``localhost`` (peers do not verify it); files 0600."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "federation.crt", directory / "federation.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def apply_federation(cfg: dict[str, Any], server: SynapseServer) -> None:
    """Add a TLS federation listener and the settings loopback federation needs to ``cfg``."""
    assert server.workdir is not None
    cert, key = self_signed_certificate(server.workdir)
    cfg["listeners"].append(
        {
            "port": server.federation_port,
            "bind_addresses": ["127.0.0.1"],
            "type": "http",
            "tls": True,
            "x_forwarded": False,
            "resources": [{"names": ["federation"], "compress": False}],
        }
    )
    cfg.update(
        {
            "tls_certificate_path": str(cert),
            "tls_private_key_path": str(key),
            "federation_verify_certificates": False,  # self-signed certificates
            "federation_domain_whitelist": list(server.federation_peers),
            "ip_range_whitelist": ["127.0.0.0/8", "::1/128"],  # loopback is blocked by default
            "trusted_key_servers": [],
            "rc_federation": {
                "window_size": 1000,
                "sleep_limit": 1000,
                "sleep_delay": 1,
                "reject_limit": 1000,
                "concurrent": 100,
            },
            "federation": {
                "destination_min_retry_interval": f"{RETRY_MIN_SECONDS}s",
                "destination_retry_multiplier": 1.5,
                "destination_max_retry_interval": f"{RETRY_MAX_SECONDS}s",
            },
        }
    )


def start_federation(workdir: Path, count: int = 2) -> list[SynapseServer]:
    """``count`` servers that federate with each other (only), started in parallel.

    Ports come from free_port() like the single test server's, so parallel test workers
    never collide. Stop them with ``close()`` each.
    """
    ports = [free_port() for _ in range(count)]
    names = [f"localhost:{p}" for p in ports]
    servers = [
        SynapseServer(federation_port=port, federation_peers=tuple(n for n in names if n != name))
        for port, name in zip(ports, names, strict=True)
    ]
    with ThreadPoolExecutor(count) as pool:  # config generation is CPU-bound for ~2 s each
        futures = [
            pool.submit(server.start, workdir / f"hs{i}") for i, server in enumerate(servers)
        ]
        errors = [f.exception() for f in futures]
    if any(errors):
        for server in servers:
            server.close()
        raise next(e for e in errors if e is not None)
    return servers


async def join_invited(client: TestClient, room_id: str, tries: int = 10) -> None:
    """Join a room on another server right after an invite: that server answers
    `make_join` with 403 for a moment while it persists the invite (FIELD-NOTES)."""
    for attempt in range(tries):
        resp = await client.client.join(room_id)
        if not isinstance(resp, JoinError):
            await client.wait_room(room_id, timeout=30)
            return
        if attempt == tries - 1:
            raise RuntimeError(f"join {room_id} failed: {resp}")
        await asyncio.sleep(0.5)
