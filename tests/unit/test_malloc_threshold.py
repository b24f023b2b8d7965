"""scrypt's 16 MiB does not stay resident once `run` has pinned glibc's mmap threshold."""

from __future__ import annotations

import subprocess
import sys

from tests.harness.bot import REPO

PROBE = """
import hashlib, os, sys, threading
from bot.malloc_threshold import pin_mmap_threshold
if sys.argv[1] == "pin":
    assert pin_mmap_threshold()

def rss():
    return int([l for l in open("/proc/self/status") if l.startswith("VmRSS")][0].split()[1])

def derive():
    hashlib.scrypt(b"secret", salt=os.urandom(16), n=2**14, r=8, p=1, maxmem=2**26, dklen=32)

start = rss()
for _ in range(3):  # as many starts' worth of key-file reads, each in a worker thread
    thread = threading.Thread(target=derive)
    thread.start()
    thread.join()
print(rss() - start)
"""


def _growth_kib(mode: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode], cwd=REPO, capture_output=True, text=True, check=True
    )
    return int(out.stdout)


def test_pinned_threshold_returns_scrypts_memory() -> None:
    assert _growth_kib("pin") < 4 * 1024


def test_without_it_glibc_keeps_it() -> None:
    # The reason for the module: if glibc stops doing this, the module can go.
    assert _growth_kib("default") > 12 * 1024
