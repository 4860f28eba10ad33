"""Who a donor is, for limits and aggregates: one person may give under several emails.

The rule (docs/architecture.md, "Donor identity"): two gifts to a campaign are the same
donor's when they share the normalized name and postal code (the identity key, stored on the
row as `donor_key`) or the email. A gift's aggregates count every gift matching either of its
two keys (one step: a third gift linked to the second only through a key the first lacks is
not pulled in).

Normalization: the name is folded to plain lower-case letters (accents and punctuation
dropped: "José O'Brien-Díaz" and "jose obriendiaz" are one name), the first name to its first
word after a title (Dr, Mr, Mrs, Ms, Mx), the last name without a generational suffix (Jr, Sr,
II, III, IV); the postal code to its first five digits in the United States (a ZIP+4 is its
ZIP), else its letters and digits in upper case, with the country (the United States when not
given). No name or no postal code: no identity key, the email alone.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from donations.donors import DonorDetails

_TITLES = {"dr", "mr", "mrs", "ms", "mx", "miss", "prof", "rev"}
_SUFFIXES = {"jr", "sr", "ii", "iii", "iv", "v"}
_NOT_LETTERS = re.compile(r"[^a-z]+")
_NOT_ALNUM = re.compile(r"[^0-9A-Z]+")
# The US, its territories and its military post (APO/FPO/DPO addresses use "US").
US_COUNTRIES = frozenset({"US", "PR", "GU", "VI", "AS", "MP", "UM"})


def _words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return [w for w in (_NOT_LETTERS.sub("", part) for part in plain.split()) if w]


def normalized_name(first_name: str, last_name: str) -> str:
    """'first|last' as the identity compares names ("" when either is missing)."""
    first = [w for w in _words(first_name) if w not in _TITLES]
    last = _words(last_name)
    while len(last) > 1 and last[-1] in _SUFFIXES:
        last.pop()
    if not first or not last:
        return ""
    return f"{first[0]}|{''.join(last)}"


def normalized_postal_code(postal_code: str, country: str) -> str:
    """'US|20500' as the identity compares addresses ("" without a postal code)."""
    country = (country.strip().upper() or "US")[:2]
    code = _NOT_ALNUM.sub("", postal_code.upper())
    if country in US_COUNTRIES:
        code = re.sub(r"[^0-9]", "", code)[:5]
    return f"{country}|{code}" if code else ""


def donor_key(donor: DonorDetails) -> str:
    """The identity key of a donor's details: 32 hex characters, "" without a name or a
    postal code."""
    name = normalized_name(donor.first_name, donor.last_name)
    place = normalized_postal_code(donor.postal_code, donor.country)
    if not name or not place:
        return ""
    return hashlib.sha256(f"{name}|{place}".encode()).hexdigest()[:32]
