"""Master keys as people compare them: 43 characters of base64, shown in groups of four.

Element shows keys in groups of four characters; an admin reads the key to its owner (or
the owner reads it out) group by group. Approving takes the whole key, typed with or
without the spaces, so an approval names exactly the identity that was checked.
"""

from __future__ import annotations

import re

from commands.i18n import ngettext

KEY = re.compile(r"[A-Za-z0-9+/]{43}")
EXAMPLE_KEY = "0hFy V0mW 8sbD Lw3i ZC1b kFhe 8XWz 5Fr4 cDTf UOPf bKo"


def fingerprint(key: str) -> str:
    """The key in groups of four, as Element shows keys: 'abcd efgh … xyz'."""
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))


def parse_master_key(text: str) -> str:
    """The full key from what an admin typed (spaces between groups allowed)."""
    compact = "".join(text.split())
    if not KEY.fullmatch(compact):
        raise ValueError(
            ngettext(
                "that is not a full master key: give all 43 characters (11 groups of four, "
                "the last of three), as shown in the security notice or by {command} "
                "({n} character given)",
                "that is not a full master key: give all 43 characters (11 groups of four, "
                "the last of three), as shown in the security notice or by {command} "
                "({n} characters given)",
                len(compact),
                command="!trust list",
            )
        )
    return compact
