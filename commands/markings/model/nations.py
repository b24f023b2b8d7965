"""Nations: ISO 3166-1 alpha-3 codes, reading one someone wrote, naming one for a reader."""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from functools import cached_property

import pycountry

from commands.i18n import SOURCE, _, current


class _Nations(AbstractSet[str]):
    """ISO 3166-1 alpha-3, from pycountry's copy of the ISO tables (not a table kept here),
    read when first asked: markings are off by default, and the tables cost half a MiB."""

    @cached_property
    def _codes(self) -> frozenset[str]:
        return frozenset(c.alpha_3 for c in pycountry.countries)

    def __contains__(self, code: object) -> bool:
        return code in self._codes

    def __iter__(self) -> Iterator[str]:
        return iter(self._codes)

    def __len__(self) -> int:
        return len(self._codes)


NATIONS: AbstractSet[str] = _Nations()


def parse_nation(text: str) -> str:
    """One nation as ISO 3166-1 alpha-3 (a person's or a post's); "-" or "" clears it.

    Raises ValueError naming the right form (the registry turns it into the user's error)."""
    code = text.strip().upper()
    if code in ("", "-"):
        return ""
    if code in NATIONS:
        return code
    if len(code) == 2 and (country := pycountry.countries.get(alpha_2=code)) is not None:
        raise ValueError(
            _(
                "{text!r} is not a nation (for {country} write {code}): write an ISO 3166-1 "
                "alpha-3 code such as FRA, DEU or USA, or - to clear",
                text=text.strip(),
                country=nation_name(country.alpha_3),
                code=country.alpha_3,
            )
        )
    raise ValueError(
        _(
            "{text!r} is not a nation: write an ISO 3166-1 alpha-3 code such as FRA, DEU or "
            "USA, or - to clear",
            text=text.strip(),
        )
    )


def nation_name(code: str) -> str:
    """A nation's name in the reader's language (English: ISO's, as before; others: CLDR's
    through Babel, loaded only then)."""
    country = pycountry.countries.get(alpha_3=code)
    if country is None:
        return code
    if current() != SOURCE:
        from babel import Locale

        local = Locale.parse(current()).territories.get(country.alpha_2)
        if local:
            return str(local)
    return str(country.name)
