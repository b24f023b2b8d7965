"""Reliability suite settings: modest in `make test`, long in `make soak`.

`ATTACHE_SOAK=1` (set by `make soak`) runs at least 10,000 examples per property and
lengthens the crash and outage tests. The hypothesis settings are applied per test (not as a
global profile) so other suites keep their own.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

SOAK = os.environ.get("ATTACHE_SOAK") == "1"

EXAMPLES = int(os.environ.get("ATTACHE_EXAMPLES", "10000" if SOAK else "600"))

PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # no example database in the work tree; every run starts fresh
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
