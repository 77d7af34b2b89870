"""Offline PII detection and redaction: pure functions, no I/O, nothing of labelloop imported.

Detectors are regular expressions that find *candidates*, followed by a validation step
(checksum, range or library check) that only runs on those candidates, so a text with
nothing suspicious costs a few substring checks and a few C-level regex scans.

Entities and what counts as a finding:

* ``email``: ``local@domain.tld``; the TLD is 2+ letters, a trailing sentence dot is not included.
* ``phone``: a candidate of phone shape (``+CC ...``, ``00CC ...``, ``(201) 555-0123``, ``201-555-0123``,
  ``201.555.0123``, ``020 7946 0958``, ``030/1234567``...) that :mod:`phonenumbers` calls valid. See
  *look-alike rules*.
* ``card``: 13-19 digits, contiguous or grouped (4-4-4-4[-3], 4-6-5, 4-6-4, 4-4-5) by one kind of separator
  (space or dash), Luhn-valid, with a known issuer prefix and a length that issuer uses.
* ``iban``: country code + 2 check digits + BBAN, upper or lower case, with or without single spaces,
  exact length of that country (countries outside the table are not detected), mod-97 valid.
* ``ip``: IPv4 (dotted quad, octets 0-255 without leading zeros) and IPv6 (validated by :mod:`ipaddress`).
* ``ssn``: US SSN ``123-45-6789`` / ``123 45 6789`` (same separator twice) with a valid area (not 000, 666,
  900-999), group (not 00) and serial (not 0000). A bare 9-digit run counts only when "SSN" or
  "social security" appears in the 30 characters before it.
* ``url_credentials``: in ``scheme://user:password@host`` the finding is the userinfo ``user:password``
  (not the scheme, ``@`` or host), so a masked URL still shows where it pointed. A URL with a user
  but no password is not a finding.
* ``secret``: AWS access key ids, AWS secret keys after an ``aws_secret_access_key`` key (the finding
  is the 40-character value), private key blocks (``BEGIN`` through ``END``, or through the end of the
  text when the block is cut off), ``Bearer <token>`` (the token, 16+ chars), GitHub, Slack, Stripe
  live/restricted keys, Google API keys and JWTs.

Look-alike rules (what is deliberately *not* a finding):

* Numbers glued on the left to a word, ``#``, ``+``, ``/``, ``.`` or ``-``, or continuing a number
  (``1,234``, ``1.234``), or followed by a letter, ``.digit``, ``,digit``, ``-digit`` or ``/digit``, are
  part of something else (order numbers ``ORD-2023-000123``, ``order #123456789``, versions ``v1.2.3.4``,
  decimals, dates ``05/11/2023``). Right after "digit + space" (possibly inside a space-grouped number such
  as a tracking number ``9400 3895 3361 9444 2034 26``) a national phone may only start if the number before
  was itself a finding, and a space-grouped card or SSN only if the number before has fewer than 3 digits;
  contiguous or dashed cards and SSNs and IPs may always start there (a table row ``123-45-6789 4111...``).
* Phones written without ``+``/``00`` must have 9-12 digits if they start with the trunk prefix 0,
  otherwise exactly 10 (or 11 starting with the NANP trunk 1), and must not end in a 1-digit group
  (ISBN-10). A region whose trunk prefix is 0 only accepts trunk-less numbers that are 10-digit mobiles
  (Indian ``98765 43210``); a number starting with 0 is not tried in a region whose trunk prefix is
  another digit (the US).
  This rules out dates (``2023-11-05``, ``5.11.2023``), year ranges (``2019-2023``), ZIP+4 codes and
  tracking numbers, which :mod:`phonenumbers` alone would often accept (e.g. as German numbers).
  A number whose first group is a single digit other than the NANP trunk 1 (``0.28.15.28.27``), or with 4+
  dot-separated groups not starting with 0 (``28.13.17.25.11``, a version; French ``01.23.45.67.89`` is a
  phone), is not a phone. A run of digits with no separator is a phone only after a phone word (call,
  phone, tel, mobile, number...) in the 30 characters before it. A number right after "order", "invoice",
  "ref", "tracking", "isbn", "ticket", "account"... (optionally "no."/"number"/"#") is never a phone or a
  bare SSN.
* An IPv4 address must not be part of a longer dotted sequence (``1.2.3.4.5``) and is not an address
  when preceded by ``v``, ``ver``, ``version``, ``build``, ``release``, ``rev`` or ``firmware``
  (``version 1.2.3.4``). ``1.2.3.4`` alone *is* an address. An IPv6 candidate must contain a digit
  (so ``dead::beef`` or C++ ``std::vector`` never match) and at least two colons.
* Cards need Luhn *and* an issuer prefix *and* that issuer's length, so random 16-digit numbers,
  ISBN-13s (978...) and most tracking numbers fail. A 13-digit number that is also a valid EAN-13 barcode
  is a barcode (German products start with 4 like Visa; 13-digit Visa numbers are all but retired) unless
  a payment word (card, visa, credit, debit, paid, payment, charged, refund...) is in the 30 chars before.

Overlaps: the most specific entity wins (secret > url_credentials > iban = card > ssn > email > ip > phone),
then the longest, then the earliest.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

__all__ = [
    "ACTIONS",
    "DEFAULT_PHONE_REGIONS",
    "ENTITY_TYPES",
    "Finding",
    "PiiDetector",
    "Redaction",
    "hmac_value",
    "redact",
    "redact_everything",
]

ENTITY_TYPES: tuple[str, ...] = ("email", "phone", "card", "iban", "ip", "ssn", "url_credentials", "secret")
ACTIONS: tuple[str, ...] = ("mask", "hash", "flag", "drop_record", "quarantine")
DEFAULT_PHONE_REGIONS: tuple[str, ...] = ("US", "GB", "DE", "FR", "IN")

# Higher wins when two findings overlap: validated-by-structure beats loosely shaped.
_RANK: dict[str, int] = {
    "secret": 7,
    "url_credentials": 6,
    "iban": 5,
    "card": 5,
    "ssn": 4,
    "email": 3,
    "ip": 2,
    "phone": 1,
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One detected value: ``text[start:end]`` is the value, ``entity`` one of :data:`ENTITY_TYPES`."""

    entity: str
    start: int
    end: int


@dataclass(frozen=True)
class Redaction:
    """The result of :func:`redact`."""

    text: str
    counts: dict[str, int]
    flagged: tuple[str, ...]
    drop: bool
    quarantine: bool


# --------------------------------------------------------------------------------------------------
# Patterns.
#
# Speed: every scanning pattern *starts* with a literal or a character class (lookbehinds come after the
# first character) so that CPython's sre skips to possible starts in C instead of entering the pattern at
# every position. All numeric detectors (card, SSN, IPv4, IBAN, national phones) share ONE scan,
# _NUMERIC_START, which finds the positions where any of them can begin; each detector's own pattern then
# runs anchored (``.match(text, pos)``) at those positions only. Measured on this machine (2 slow shared
# cores, Python 3.11) over 300-char plain support texts: five separate ``finditer`` scans (card, SSN, IPv4,
# phone, IBAN) cost 12.6 us/text, one combined alternation with named groups 3.3 us/text, and the
# shared start scan 2.4 us/text (it yields nothing for ordinary numbers like "48213" or "$49.99").
# Whole find(): ~5-8 us for a plain text, ~17 us/text on bench/pii_bench.py's mix (10% with PII, where the
# phonenumbers calls dominate at ~25 us each).
# ``[0-9]`` rather than ``\d``: ASCII only (the validators do digit arithmetic) and ~1.8x faster to scan.
# --------------------------------------------------------------------------------------------------

# Where a numeric finding can begin. Either a digit not glued to a word, a dotted/dashed/slashed run, a
# "+" or "#", nor continuing a "1.5" / "1-5" / "1,5" run, followed by 6+ digits/separators (the shortest
# candidate, an IPv4 like 1.2.3.4, has 7 chars); or the first check digit of an IBAN (two letters before).
# A start right after "digit + space" is not tried as a phone unless that number was a finding (_candidates).
_NUMERIC_START = re.compile(
    r"[0-9](?:(?<![\w.\-/+#][0-9])(?<![0-9][.\-,][0-9])(?=[0-9 .\-/]{6})"
    r"|(?<=[A-Za-z]{2}[0-9])(?<![A-Za-z0-9][A-Za-z]{2}[0-9])(?=[0-9]))"
)

_EMAIL = re.compile(
    r"[A-Za-z0-9_%+\-](?<![A-Za-z0-9._%+\-][A-Za-z0-9_%+\-])[A-Za-z0-9._%+\-]*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}"
    r"(?![A-Za-z0-9\-]|\.[A-Za-z0-9])"
)

# Matched right after "://": userinfo with a non-empty password, then "@".
_URL_USERINFO = re.compile(r"[^\s/?#@:\[\]]+:[^\s/?#@]+(?=@[^\s/?#@]*[A-Za-z0-9])")

_SECRET = re.compile(
    r"""
      (?P<aws_key_id>(?:AKIA|ASIA)(?<![A-Za-z0-9]....)[A-Z0-9]{16}(?![A-Za-z0-9]))
    | (?P<private_key>-----BEGIN[A-Z0-9 ]{0,40}PRIVATE\ KEY(?:\ BLOCK)?-----[\s\S]*?
        (?:-----END[A-Z0-9 ]{0,40}PRIVATE\ KEY(?:\ BLOCK)?-----|\Z))
    | (?i:aws_?secret_?(?:access_?)?key)["']?\s{0,3}[:=]\s{0,3}["']?
        (?P<aws_secret>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])
    | (?i:bearer)(?<![A-Za-z0-9_]......)\s+(?P<bearer>[A-Za-z0-9\-._~+/]{16,}=*)
    | (?P<github>(?:gh[pousr]_(?<![A-Za-z0-9_]....)[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})
        (?![A-Za-z0-9_]))
    | (?P<slack>xox[abposr]-(?<![A-Za-z0-9].....)[A-Za-z0-9\-]{10,250})
    | (?P<stripe>[rs]k_live_(?<![A-Za-z0-9]........)[A-Za-z0-9]{16,247})
    | (?P<google>AIza(?<![0-9A-Za-z_\-]....)[0-9A-Za-z_\-]{35}(?![0-9A-Za-z_\-]))
    | (?P<jwt>eyJ(?<![A-Za-z0-9_\-]...)[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*)
    """,
    re.X,
)
# Substrings one of which every secret contains: the `in` checks cost ~1.7 us per 300-char text in all,
# against ~28 us for running _SECRET itself (its alternatives share no literal prefix).
_SECRET_HINTS: tuple[str, ...] = ("AKIA", "ASIA", "-----BEGIN", "earer", "EARER", "xox", "AIza", "eyJ")
_SECRET_UNDERSCORE_HINTS: tuple[str, ...] = ("gh", "github_pat_", "k_live_", "ecret", "ECRET")

# Card, SSN, IPv4, IBAN and phone-digit patterns are only matched anchored at _NUMERIC_START positions,
# so they carry no lookbehinds of their own.
#
# Cards: contiguous, 4-4-4-4[-3] (and 4-4-4-1..4 for 13-15 digits), 4-6-5 / 4-6-4 or 4-4-5, one separator
# kind. What may follow is checked by _CARD_END in _card_at: a card followed by " 12/26 123" (expiry, CVV)
# is still a card, so the optional 5th group is retried without it.
_CARD = re.compile(
    r"[0-9]{13,19}"
    r"|[0-9]{4}(?P<s1>[ \-])[0-9]{4}(?P=s1)[0-9]{4}(?P=s1)[0-9]{1,4}(?P<g5>(?P=s1)[0-9]{1,3})?"
    r"|[0-9]{4}(?P<s2>[ \-])[0-9]{6}(?P=s2)[0-9]{4,5}"
    r"|[0-9]{4}(?P<s3>[ \-])[0-9]{4}(?P=s3)[0-9]{5}"
)
_CARD_END = re.compile(r"[\w\-]|[.,][0-9]")  # what must not follow a card
_CARD_CONTEXT = re.compile(r"(?i)\b(?:card|visa|credit|debit|cc|pan|paid|pay|payment|charged?|refund)\b")

# Dashed and bare SSNs may be followed by " digit" (a table row: "123-45-6789 4111..."), spaced ones not.
_SSN = re.compile(
    r"[0-9]{3}(?:-[0-9]{2}-[0-9]{4}(?![\w\-]|[.,/][0-9])|\ [0-9]{2}\ [0-9]{4}(?![\w\-]|[ .,/][0-9])"
    r"|(?P<bare>[0-9]{6})(?![\w\-]|[.,/][0-9]))"
)
_SSN_CONTEXT = re.compile(r"(?i)\b(?:ssn|social[ \-]security)")

# Octet ranges and leading zeros are checked in Python (cheaper to read than a regex of ranges).
_IPV4 = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?![\w\-]|\.[0-9])")
_VERSION_CONTEXT = re.compile(r"(?i)(?:\bv|\bver|version|build|release|\brev|revision|firmware|\bfw)\W{0,3}$")

# IPv6 candidates: a run of hex digits, colons and dots (for ::ffff:1.2.3.4) not glued to a word.
_IPV6 = re.compile(r"[0-9A-Fa-f:](?<![\w:.][0-9A-Fa-f:])[0-9A-Fa-f:.]{1,44}")

# IBAN: matched from the two check digits (where _NUMERIC_START finds it); the country letters before
# are checked there and included afterwards (start - 2).
_IBAN = re.compile(r"[0-9]{2}(?: ?[A-Za-z0-9]){11,30}")

# Possessive digit runs (Python 3.11+) keep the group repetition from backtracking exponentially.
_PHONE_PLUS = re.compile(r"\+(?<![\w+]\+)[0-9]++(?:[ .\-]?(?:\([0-9]++\)|[0-9]++)){0,6}(?!\w|[.,\-/][0-9])")
_PHONE_PAREN = re.compile(
    r"\((?<![\w+]\()(?<![+0-9] \()[0-9]++\)[ .\-]?[0-9]++(?:[ .\-][0-9]++){0,4}(?!\w|[.,\-/][0-9])"
)
# "/" separates German area codes ("030/1234567"); dates with "/" have too few digits to be phones.
_PHONE_DIGITS = re.compile(r"[0-9]++(?:[ .\-/][0-9]++){0,5}(?!\w|[.,\-/:][0-9])")
_DIGIT_GROUP = re.compile(r"[0-9]+")
_PHONE_CONTEXT = re.compile(
    r"(?i)\b(?:phone|tel|telephone|mobile|cell|call|fax|sms|text|whats ?app|contact|reach|dial|ring|number|"
    r"ph|mob)\b"
)
# A number right after one of these words is an identifier, not a phone or SSN.
_ID_CONTEXT = re.compile(
    r"(?i)(?:#|\b(?:order|invoice|inv|ref|reference|tracking|track|isbn|ticket|case|sku|serial|account|acct|"
    r"confirmation|booking|transaction|receipt|po|item|part|model|batch|lot)\b[^A-Za-z0-9]{0,4}"
    r"(?:(?:no|nr|num|number|id)\b[^A-Za-z0-9]{0,4})?)\s*$"
)

# Lengths from the SWIFT IBAN registry, by country code.
_IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
    "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28,
    "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
    "RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
    "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip

# Letter -> its mod-97 number ("A" -> "10" ... "Z" -> "35").
_IBAN_LETTERS = {ord(c): str(i) for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ", start=10)}
_LUHN_DOUBLE = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


# --------------------------------------------------------------------------------------------------
# Validators.
# --------------------------------------------------------------------------------------------------


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        total += _LUHN_DOUBLE[d] if i & 1 else d
    return total % 10 == 0


def _card_issuer_ok(d: str) -> bool:
    """True when the digits start with a known issuer prefix and have a length that issuer uses."""
    n = len(d)
    p2, p3, p4, p6 = int(d[:2]), int(d[:3]), int(d[:4]), int(d[:6])
    if d[0] == "4":  # Visa
        return n in (13, 16, 19)
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:  # Mastercard
        return n == 16
    if p2 in (34, 37):  # American Express
        return n == 15
    if p4 == 6011 or p2 == 65 or 644 <= p3 <= 649 or 622126 <= p6 <= 622925:  # Discover
        return 16 <= n <= 19
    if 3528 <= p4 <= 3589:  # JCB
        return 16 <= n <= 19
    if 300 <= p3 <= 305 or p2 in (36, 38, 39):  # Diners Club
        return 14 <= n <= 19
    if p2 == 62:  # UnionPay
        return 16 <= n <= 19
    if p4 in (5018, 5020, 5038, 5893, 6304, 6759, 6761, 6762, 6763):  # Maestro
        return 13 <= n <= 19
    if 2200 <= p4 <= 2204:  # Mir
        return 16 <= n <= 19
    return False


def _ean13_ok(digits: str) -> bool:
    total = sum((ord(ch) - 48) * (3 if i & 1 else 1) for i, ch in enumerate(digits[:12]))
    return (10 - total % 10) % 10 == ord(digits[12]) - 48


def _iban_checksum_ok(compact: str) -> bool:
    """Mod-97 check of an upper-case, space-free IBAN."""
    rearranged = (compact[4:] + compact[:4]).translate(_IBAN_LETTERS)
    return int(rearranged) % 97 == 1


def _ssn_parts_ok(area: str, group: str, serial: str) -> bool:
    return area != "000" and area != "666" and area[0] != "9" and group != "00" and serial != "0000"


@lru_cache(maxsize=256)
def _trunk_prefix(region: str) -> str | None:
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    return None if meta is None else meta.national_prefix


def _ascii_digits(value: str) -> str:
    return "".join(ch for ch in value if "0" <= ch <= "9")


def _phone_e164(candidate: str, regions: Sequence[str]) -> str | None:
    """E.164 form of a phone candidate if :mod:`phonenumbers` calls it valid under the shape rules, else None.

    ``candidate`` is a phone as written (``+44 20 7946 0958``, ``0049 30 1234567``, ``(201) 555-0123``).
    Numbers with ``+`` or ``00`` are parsed as international; others are tried in ``regions`` in order,
    subject to the trunk-prefix rules in the module docstring. The first region that accepts wins.
    """
    digits = _ascii_digits(candidate)
    stripped = candidate.lstrip()
    try:
        if stripped.startswith("+") or digits.startswith("00"):
            international = digits[2:] if not stripped.startswith("+") else digits
            if not 8 <= len(international) <= 15:
                return None
            number = phonenumbers.parse(stripped if stripped.startswith("+") else "+" + international, None)
            if phonenumbers.is_valid_number(number):
                return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            return None
        n = len(digits)
        starts_with_zero = digits[:1] == "0"
        if starts_with_zero:
            if not 9 <= n <= 12:
                return None
        elif not (n == 10 or (n == 11 and digits[0] == "1")):
            return None
        for region in regions:
            trunk = _trunk_prefix(region)
            if starts_with_zero and trunk not in ("0", None):
                continue  # e.g. the US: no number starts with 0 (Italy has no trunk prefix; its 0 is dialled)
            number = phonenumbers.parse(candidate, region)
            if not phonenumbers.is_valid_number(number):
                continue
            if trunk == "0" and not starts_with_zero:
                # Trunk-less numbers in a trunk-0 region: only 10-digit mobiles (how Indian mobiles are written).
                if phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.MOBILE:
                    continue
                if len(str(number.national_number)) != 10:
                    continue
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        return None
    return None


def _octet_ok(octet: str) -> bool:
    return (len(octet) == 1 or octet[0] != "0") and int(octet) <= 255


def _ip_ok_v6(candidate: str) -> bool:
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------------------------------
# Detector.
# --------------------------------------------------------------------------------------------------

_Cand = tuple[int, int, str]  # (start, end, entity)


class PiiDetector:
    """Finds PII in text with regexes plus validation. Stateless after construction; safe to share."""

    __slots__ = ("_email", "_entities", "_ip", "_numeric", "_phone", "_regions", "_secret", "_url")

    def __init__(
        self,
        entities: Iterable[str] = ENTITY_TYPES,
        *,
        phone_regions: Sequence[str] = DEFAULT_PHONE_REGIONS,
    ) -> None:
        """Detect ``entities`` (names from :data:`ENTITY_TYPES`); national phone numbers are tried in
        ``phone_regions`` (ISO 3166 codes known to :mod:`phonenumbers`), in order.

        Raises ValueError for an unknown entity or region.
        """
        wanted = (entities,) if isinstance(entities, str) else tuple(dict.fromkeys(entities))
        unknown = [e for e in wanted if e not in ENTITY_TYPES]
        if unknown:
            raise ValueError(f"unknown PII entity {', '.join(map(repr, unknown))}; known: {', '.join(ENTITY_TYPES)}")
        regions = tuple(r.upper() for r in phone_regions)
        bad = [r for r in regions if r not in phonenumbers.SUPPORTED_REGIONS]
        if bad:
            raise ValueError(f"unknown phone region {', '.join(map(repr, bad))}")
        self._entities = frozenset(wanted)
        self._regions = regions
        self._email = "email" in self._entities
        self._url = "url_credentials" in self._entities
        self._secret = "secret" in self._entities
        self._phone = "phone" in self._entities
        self._ip = "ip" in self._entities
        self._numeric = bool(self._entities & {"phone", "card", "iban", "ip", "ssn"})

    @property
    def entities(self) -> frozenset[str]:
        """The entities this detector looks for."""
        return self._entities

    def find(self, text: str) -> list[Finding]:
        """All PII in ``text``: sorted by start, non-overlapping (most specific entity wins, then longest).

        Offsets are Python string indices into ``text``.
        """
        cands = list(self._candidates(text))
        if not cands:
            return []
        if len(cands) == 1:
            s, e, ent = cands[0]
            return [Finding(ent, s, e)]
        chosen: list[_Cand] = []
        for cand in sorted(cands, key=lambda c: (-_RANK[c[2]], c[0] - c[1], c[0])):
            s, e, _ = cand
            if all(e <= cs or s >= ce for cs, ce, _ in chosen):
                chosen.append(cand)
        chosen.sort()
        return [Finding(ent, s, e) for s, e, ent in chosen]

    def contains_any(self, text: str) -> bool:
        """True when :meth:`find` would return at least one finding; stops at the first one."""
        return next(self._candidates(text), None) is not None

    # Each candidate yielded here is already validated; overlaps are resolved in find().
    def _candidates(self, text: str) -> Iterator[_Cand]:
        ents = self._entities
        # Spans found so far. A numeric start inside one is skipped: whatever starts there would overlap
        # a finding of equal or higher rank; this mostly saves phonenumbers calls (phones rank lowest).
        claimed: list[_Cand] = []
        if self._secret and _has_secret_hint(text):
            for cand in _find_secrets(text):
                claimed.append(cand)
                yield cand
        if "@" in text:
            if self._url and "://" in text:
                for cand in _find_url_credentials(text):
                    claimed.append(cand)
                    yield cand
            if self._email:
                for m in _EMAIL.finditer(text):
                    cand = (m.start(), m.end(), "email")
                    claimed.append(cand)
                    yield cand
        if self._ip and text.count(":") >= 2:
            for cand in _find_ipv6(text):
                claimed.append(cand)
                yield cand
        if not self._numeric:
            return
        want_card, want_ssn, want_iban = "card" in ents, "ssn" in ents, "iban" in ents
        phone_starts: list[int] = []
        for m in _NUMERIC_START.finditer(text):
            pos = m.start()
            if claimed and any(cs <= pos < ce for cs, ce, _ in claimed):
                continue
            if pos and text[pos - 1].isalpha():  # the IBAN branch: two letters before, by the pattern
                if want_iban:
                    end = _iban_end(text, pos)
                    if end is not None:
                        cand = (pos - 2, end, "iban")
                        claimed.append(cand)
                        yield cand
                continue
            after_number = pos >= 2 and text[pos - 1] == " " and "0" <= text[pos - 2] <= "9"
            found = (
                (_card_at(text, pos) if want_card else None)
                or (_ssn_at(text, pos) if want_ssn else None)
                or (_ipv4_at(text, pos) if self._ip else None)
            )
            if found is not None and after_number and _continues_grouping(text, found):
                found = None
            if found is not None:
                claimed.append(found)
                yield found
            elif self._phone and (not after_number or any(ce == pos - 1 for _, ce, _ in claimed)):
                # A phone may not start inside a space-grouped number ("9400 1000 0123 4567": phonenumbers
                # would accept many of its tails) but may follow a number already found ("4111... 020 ...").
                phone_starts.append(pos)
        if self._phone:
            yield from _find_phones(text, self._regions, claimed, phone_starts)


def _continues_grouping(text: str, found: _Cand) -> bool:
    """True for a space-grouped card/SSN right after a space and a group of 3+ digits: the tail of a longer
    space-grouped number (tracking "9400 3895 3361 9444 2034 26"), not a value of its own ("qty 2 4111 ..."
    or a dashed/contiguous value after a number is)."""
    start, end, entity = found
    if entity == "ip" or " " not in text[start:end] or start < 4:
        return False
    return all("0" <= ch <= "9" for ch in text[start - 4 : start - 1])


def _has_secret_hint(text: str) -> bool:
    for hint in _SECRET_HINTS:
        if hint in text:
            return True
    if "_" in text:
        for hint in _SECRET_UNDERSCORE_HINTS:
            if hint in text:
                return True
    return False


def _find_secrets(text: str) -> Iterator[_Cand]:
    for m in _SECRET.finditer(text):
        group = m.lastgroup
        if group is None:  # pragma: no cover - every alternative ends in a named group
            continue
        yield m.start(group), m.end(group), "secret"


def _find_url_credentials(text: str) -> Iterator[_Cand]:
    at = text.find("://")
    while at != -1:
        m = _URL_USERINFO.match(text, at + 3)
        if m is not None:
            yield m.start(), m.end(), "url_credentials"
        at = text.find("://", at + 3)


def _card_at(text: str, pos: int) -> _Cand | None:
    m = _CARD.match(text, pos)
    if m is None:
        return None
    # A grouped card with an optional 5th group ("4111 1111 1111 1111 12/26") is retried without it.
    for end in (m.end(), m.start("g5")) if m.group("g5") is not None else (m.end(),):
        if _CARD_END.match(text, end) is not None:
            continue
        digits = text[pos:end].replace(" ", "").replace("-", "")
        if 13 <= len(digits) <= 19 and _card_issuer_ok(digits) and _luhn_ok(digits):
            if len(digits) == 13 and _ean13_ok(digits) and _CARD_CONTEXT.search(text, max(0, pos - 30), pos) is None:
                return None  # a product barcode (EAN-13 "4..." is Germany's range), not a 13-digit Visa
            return pos, end, "card"
    return None


def _iban_end(text: str, pos: int) -> int | None:
    """End offset of the valid IBAN whose check digits start at ``pos``, or None."""
    start = pos - 2
    length = _IBAN_LENGTHS.get(text[start:pos].upper())
    if length is None:
        return None
    m = _IBAN.match(text, pos)
    if m is None:
        return None
    # The match may run into following words ("... 0130 00 is mine"): cut at the country's length,
    # which must fall at the end of an alphanumeric run.
    compact: list[str] = []
    for i in range(start, m.end()):
        ch = text[i]
        if ch != " ":
            compact.append(ch)
            if len(compact) == length:
                end = i + 1
                if end < len(text) and text[end].isalnum():
                    return None
                return end if _iban_checksum_ok("".join(compact).upper()) else None
    return None


def _ssn_at(text: str, pos: int) -> _Cand | None:
    m = _SSN.match(text, pos)
    if m is None:
        return None
    raw = m.group()
    if m.group("bare") is not None:
        before = text[max(0, pos - 30) : pos]
        if _SSN_CONTEXT.search(before) is None or _ID_CONTEXT.search(before) is not None:
            return None
        area, group, serial = raw[:3], raw[3:5], raw[5:]
    else:
        area, group, serial = raw[:3], raw[4:6], raw[7:]
    return (pos, m.end(), "ssn") if _ssn_parts_ok(area, group, serial) else None


def _ipv4_at(text: str, pos: int) -> _Cand | None:
    m = _IPV4.match(text, pos)
    if m is None or not all(_octet_ok(o) for o in m.group().split(".")):
        return None
    if pos and _VERSION_CONTEXT.search(text, max(0, pos - 16), pos) is not None:
        return None
    return pos, m.end(), "ip"


def _find_ipv6(text: str) -> Iterator[_Cand]:
    for m in _IPV6.finditer(text):
        cand = m.group().rstrip(".")
        if cand.endswith(":") and not cand.endswith("::"):
            cand = cand[:-1]  # "address fe80::1: ..." but keep "fe80:1::"
        if cand.count(":") < 2 or not any("0" <= ch <= "9" for ch in cand):
            continue
        if m.end() < len(text) and (text[m.end()].isalnum() or text[m.end()] == "_"):
            continue
        if _ip_ok_v6(cand):
            yield m.start(), m.start() + len(cand), "ip"


def _find_phones(
    text: str, regions: Sequence[str], claimed: Sequence[_Cand], digit_starts: Sequence[int]
) -> Iterator[_Cand]:
    """Phones written with "+", with "(area)", and from the numeric starts no other detector claimed."""
    matches: list[re.Match[str]] = []
    if "+" in text:
        matches.extend(_PHONE_PLUS.finditer(text))
    if "(" in text:
        matches.extend(_PHONE_PAREN.finditer(text))
    for pos in digit_starts:
        m = _PHONE_DIGITS.match(text, pos)
        if m is not None:
            matches.append(m)
    for m in matches:
        start = m.start()
        if claimed and any(cs <= start < ce for cs, ce, _ in claimed):
            continue
        found = _validate_phone(text, start, m.group(), regions)
        if found is not None:
            yield start, start + found, "phone"


def _validate_phone(text: str, start: int, cand: str, regions: Sequence[str]) -> int | None:
    """Length of the longest valid phone number at the start of ``cand`` (trying up to 2 fewer
    trailing digit groups, for "call 020 7946 0958 12 times"), or None."""
    if len(cand) < 9:
        return None  # fewer than 8-9 digits: most numbers in ordinary text stop here
    international = cand[0] == "+" or cand.startswith("00")
    groups = [(m.start(), m.end()) for m in _DIGIT_GROUP.finditer(cand)]
    if sum(e - s for s, e in groups) < 8:
        return None
    before = text[max(0, start - 30) : start]
    if not international and _ID_CONTEXT.search(before) is not None:
        return None
    first_len = groups[0][1] - groups[0][0]
    for kept in range(len(groups), max(0, len(groups) - 3), -1):
        end = groups[kept - 1][1]
        sub = cand[:end]
        if not international:
            if kept == 1:
                if _PHONE_CONTEXT.search(before) is None:
                    continue  # a bare run of digits is a phone only after a phone word
            elif groups[kept - 1][1] - groups[kept - 1][0] == 1:
                continue  # ends in a 1-digit group (ISBN-10 check digit)
            elif first_len == 1 and cand[0] != "1":
                continue  # "0.28.15.28.27": only the NANP trunk 1 stands alone
            elif kept >= 4 and cand[0] != "0" and all(cand[e] == "." for _, e in groups[: kept - 1]):
                continue  # 4+ dot-separated groups are a version unless French-style 01.23.45.67.89
        if _phone_e164(sub, regions) is not None:
            return end
    return None


# --------------------------------------------------------------------------------------------------
# Redaction.
# --------------------------------------------------------------------------------------------------


def _canonical(entity: str, value: str, phone_regions: Sequence[str]) -> str:
    if entity == "email":
        return value.strip().lower()
    if entity == "phone":
        e164 = _phone_e164(value.strip(), phone_regions)
        if e164 is not None:
            return e164
        digits = _ascii_digits(value)
        return "+" + digits if value.strip().startswith("+") else digits
    if entity in ("card", "ssn"):
        return _ascii_digits(value)
    if entity == "iban":
        return "".join(ch for ch in value if ch.isalnum()).upper()
    if entity == "ip":
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError:
            return value.strip()
    return value


def hmac_value(key: bytes, entity: str, value: str, *, phone_regions: Sequence[str] = DEFAULT_PHONE_REGIONS) -> str:
    """First 16 hex chars of HMAC-SHA256(``key``, canonical ``value``): joinable, not readable.

    The canonical value removes formatting so the same value written differently hashes equal:
    email lower-cased; phone in E.164 (national numbers resolved in ``phone_regions`` order, as the
    detector does); card and SSN digits only; IBAN alphanumerics upper-cased; IP in :mod:`ipaddress`
    form. Any other ``entity`` (e.g. a subject id) is hashed as given. The entity itself is not part
    of the message: the entity only picks the canonicalization, so equal canonical strings hash equal
    whatever the entity (a subject id ``"bob@example.com"`` matches that email's hash).
    """
    canonical = _canonical(entity, value, phone_regions)
    # surrogatepass: text decoded from JSON may hold lone surrogates; hashing must not fail on them.
    return hmac.new(key, canonical.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:16]


def redact(
    text: str,
    findings: Sequence[Finding],
    actions: Mapping[str, str],
    hmac_key: bytes,
    *,
    phone_regions: Sequence[str] = DEFAULT_PHONE_REGIONS,
) -> Redaction:
    """Apply ``actions`` (entity -> one of :data:`ACTIONS`) to ``findings`` in ``text``.

    ``findings`` must be within ``text`` and non-overlapping (as :meth:`PiiDetector.find` returns them);
    order does not matter. ``mask`` replaces a value by ``[ENTITY]``; ``hash`` by ``[ENTITY:<hmac_value>]``;
    ``flag`` leaves it and lists the entity in ``flagged``; ``drop_record`` and ``quarantine`` mask it and
    set ``drop`` / ``quarantine``. Findings of an entity absent from ``actions`` are left as is and not
    counted. Raises ValueError for an unknown entity or action in ``actions`` and for bad findings.
    An empty ``hmac_key`` is accepted but makes ``hash`` placeholders reversible by trying candidate
    emails/phones; callers should refuse a ``hash`` action without a key when they read their config.
    """
    for entity, action in actions.items():
        if entity not in ENTITY_TYPES:
            raise ValueError(f"unknown PII entity {entity!r}; known: {', '.join(ENTITY_TYPES)}")
        if action not in ACTIONS:
            raise ValueError(f"unknown PII action {action!r} for {entity!r}; known: {', '.join(ACTIONS)}")
    ordered = sorted(findings, key=lambda f: (f.start, f.end))
    counts: dict[str, int] = {}
    flagged: set[str] = set()
    drop = quarantine = False
    parts: list[str] = []
    pos = 0  # end of the text already copied or replaced
    last_end = 0  # end of the previous finding, replaced or not
    for f in ordered:
        if not 0 <= f.start < f.end <= len(text) or f.start < last_end:
            raise ValueError(f"finding {f!r} is outside the text or overlaps another")
        last_end = f.end
        if f.entity not in actions:
            continue
        action = actions[f.entity]
        counts[f.entity] = counts.get(f.entity, 0) + 1
        if action == "flag":
            flagged.add(f.entity)
            continue
        parts.append(text[pos : f.start])
        label = f.entity.upper()
        if action == "hash":
            digest = hmac_value(hmac_key, f.entity, text[f.start : f.end], phone_regions=phone_regions)
            parts.append(f"[{label}:{digest}]")
        else:
            parts.append(f"[{label}]")
            drop = drop or action == "drop_record"
            quarantine = quarantine or action == "quarantine"
        pos = f.end
    parts.append(text[pos:])
    return Redaction(
        text="".join(parts),
        counts=counts,
        flagged=tuple(e for e in ENTITY_TYPES if e in flagged),
        drop=drop,
        quarantine=quarantine,
    )


# Fail-closed patterns, no validation. Tokens are whitespace-delimited; every alternative is linear
# (token rules start only at a token boundary), so a huge blob without spaces cannot go quadratic.
_EVERYTHING = re.compile(
    r"""
      -----BEGIN[^\n]{0,80}?-----[\s\S]*?(?:-----END[^\n]{0,80}?-----|\Z)   # PEM-like blocks
    | (?<!\S)[^\s@]*@\S*                                 # any token with @
    | \S(?<!\S\S)[^\s:]*?://\S*                          # any token with ://
    | (?P<keep>\b(?i:bearer|token|secret|password|passwd|pwd|api[_\-]?key|authorization|auth)\b["']?
        (?:\s{0,3}[:=]\s{0,3}|\s+(?=\S{8,}))["']?)[^\s"']+  # the value after a credential keyword
    | [A-Za-z0-9+/=_.\-](?<![A-Za-z0-9+/=_.\-][A-Za-z0-9+/=_.\-])[A-Za-z0-9+/=_.\-]{19,}  # long tokens
    | (?<![\w:.])(?=[0-9A-Fa-f.]*:[0-9A-Fa-f.]*:)[0-9A-Fa-f:.]+  # IPv6-ish: 2+ colons in a hex token
    | \+?\d(?:[\s.\-()/:]{0,3}\d){2,}                    # 3+ digits with separators between
    """,
    re.X,
)


def _everything_sub(m: re.Match[str]) -> str:
    keep = m.group("keep")
    return "[REDACTED]" if keep is None else keep + "[REDACTED]"


def redact_everything(text: str) -> str:
    """Fail-closed masking for when a detector raised: replaces, without any validation, every run of 3+
    digits (allowing spaces, dashes, dots, slashes, colons, parentheses between them), every token containing
    ``@`` or ``://``, every 20+ character base64/hex-like token, IPv6-like tokens, the value after
    password/token/secret/bearer keywords, and ``-----BEGIN ... -----END ...-----`` blocks (to the end of
    the text when unterminated) with ``[REDACTED]``. Never raises: anything unexpected yields ``"[REDACTED]"``.
    """
    try:
        return _EVERYTHING.sub(_everything_sub, text if isinstance(text, str) else str(text))
    except Exception:
        return "[REDACTED]"
