"""pycryptodome through ctypes rather than cffi: 1.8 MiB less resident memory (issue 25).

pycryptodome (nio's Megolm attachments, the bot's Ed25519 and AES-GCM) reaches its C code
through cffi when cffi is installed, and cffi parses every C declaration with pycparser at
import time; nothing else the bot loads uses cffi. With cffi hidden while pycryptodome
picks its backend it takes ctypes, its documented fallback, calling the same C functions.
`use_ctypes()` runs in bot/__init__.py, before nio is imported.
"""

from __future__ import annotations

import sys


def use_ctypes() -> None:
    if "Crypto.Util._raw_api" in sys.modules or "cffi" in sys.modules:
        return  # too late, or cffi is wanted already
    sys.modules["cffi"] = None  # type: ignore[assignment]  # makes `import cffi` fail
    try:
        import Crypto.Util._raw_api  # noqa: F401
    except ImportError:
        pass
    finally:
        del sys.modules["cffi"]
