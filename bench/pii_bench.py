"""PII detector benchmark: recall per entity, precision, throughput (labelloop.domain.pii).

    python bench/pii_bench.py                  # full size: 1,000 values per entity, 2,000 look-alikes, 50,000 texts
    python bench/pii_bench.py --size small     # a smoke run (CI), a few seconds
    python bench/pii_bench.py --json           # the same figures as JSON on stdout
    python bench/pii_bench.py --check          # exit 1 if a target is missed

Everything is generated in memory from a fixed seed (never downloaded, never written):

1. a recall corpus: for each entity, sentences embedding one generated value in varied formats
   (valid phone numbers of several regions from phonenumbers' example numbers with randomized
   subscriber digits, Luhn-valid cards of several issuers, checksum-valid IBANs of several countries,
   IPv4/IPv6, SSNs, URLs with credentials, every secret kind);
2. a precision corpus of sentences with look-alike non-PII numbers (order numbers, dates, times,
   versions, prices, ISBNs, tracking numbers, Luhn-invalid 16-digit numbers, ZIP codes, invalid phones);
3. a throughput corpus of ~300-character texts, ~10% of them with one PII value.

A planted value counts as found when a finding of the right entity covers it. Precision is findings that
cover a planted value of their entity / all findings, over corpora 1 and 2. Targets: recall >= 0.98 per
entity, precision >= 0.95, >= 5,000 docs/s (aim 20,000+).
"""

from __future__ import annotations

import argparse
import base64
import ipaddress
import json
import os
import platform
import random
import re
import string
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import phonenumbers

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from labelloop.domain.pii import ENTITY_TYPES, Finding, PiiDetector

SIZES = {
    "small": {"per_entity": 60, "lookalikes": 200, "texts": 2_000},
    "full": {"per_entity": 1_000, "lookalikes": 2_000, "texts": 50_000},
}
TARGET_RECALL = 0.98
TARGET_PRECISION = 0.95
TARGET_DOCS_PER_S = 5_000


@dataclass(frozen=True)
class Sample:
    text: str
    entity: str | None  # None: a look-alike sentence, nothing should be found
    start: int = 0
    end: int = 0
    kind: str = ""  # the generator variant, for the error listing


def embed(template: str, value: str, entity: str, kind: str) -> Sample:
    before, after = template.split("{v}")
    return Sample(before + value + after, entity, len(before), len(before) + len(value), kind)


# ------------------------------------------------------------------------------------------------
# Value generators. Each returns (value as written, the part that must be covered, kind).
# ------------------------------------------------------------------------------------------------

FIRST = ["john", "maria", "wei", "fatima", "oliver", "ana", "lukas", "priya", "chen", "sofia", "james", "noah"]
LAST = ["smith", "garcia", "zhang", "khan", "müller", "rossi", "dubois", "patel", "kim", "silva", "brown", "lee"]
DOMAINS = ["example.com", "mail.example.org", "corp.example.co.uk", "example.io", "uni-example.edu", "shop.example.de"]


def gen_email(rng: random.Random) -> tuple[str, str]:
    first, last = rng.choice(FIRST), rng.choice(LAST).replace("ü", "u")
    local = rng.choice(
        [
            f"{first}.{last}",
            f"{first}_{last}{rng.randint(1, 99)}",
            f"{first[0]}{last}",
            f"{first}+{rng.choice(['news', 'tag', 'x1'])}",
            f"{first}-{last}.{rng.randint(1970, 2005)}",
        ]
    )
    email = f"{local}@{rng.choice(DOMAINS)}"
    if rng.random() < 0.2:
        email = email.title() if rng.random() < 0.5 else email.upper()
    return email, "email"


EMAIL_TEMPLATES_EXTRA = ["From: Support <{v}>", "Click mailto:{v} to reach us.", "{v} wrote: thanks!"]


PHONE_REGIONS = ("US", "GB", "DE", "FR", "IN")
PHONE_TYPES = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE)


def random_valid_number(rng: random.Random, region: str) -> phonenumbers.PhoneNumber:
    """An example number of the region with randomized subscriber digits, kept only if still valid."""
    example = phonenumbers.example_number_for_type(region, rng.choice(PHONE_TYPES))
    assert example is not None
    national = str(example.national_number)
    keep = max(3, len(national) - 5)
    while True:
        digits = national[:keep] + "".join(rng.choice(string.digits) for _ in range(len(national) - keep))
        number = phonenumbers.parse("+" + str(example.country_code) + digits, None)
        if phonenumbers.is_valid_number(number):
            return number


def gen_phone(rng: random.Random) -> tuple[str, str]:
    region = rng.choice(PHONE_REGIONS)
    number = random_valid_number(rng, region)
    fmt = phonenumbers.PhoneNumberFormat
    intl = phonenumbers.format_number(number, fmt.INTERNATIONAL)
    national = phonenumbers.format_number(number, fmt.NATIONAL)
    choices = [
        ("international", intl),
        ("national", national),
        ("e164", phonenumbers.format_number(number, fmt.E164)),
        ("00-prefix", "00" + intl[1:]),
        ("intl-dashes", intl.replace(" ", "-")),
        ("tel-uri", phonenumbers.format_number(number, fmt.RFC3966)),
    ]
    if region == "US":
        nsn = str(number.national_number)
        area, exch, line = nsn[:3], nsn[3:6], nsn[6:]
        choices += [
            ("us-dashes", f"{area}-{exch}-{line}"),
            ("us-dots", f"{area}.{exch}.{line}"),
            ("us-1-dashes", f"1-{area}-{exch}-{line}"),
            ("us-plus-parens", f"+1 ({area}) {exch}-{line}"),
            ("us-spaces", f"{area} {exch} {line}"),
            ("us-plus-dots", f"+1.{area}.{exch}.{line}"),
        ]
    if region in ("GB", "DE"):
        choices.append(("intl-trunk-0", intl.replace(" ", " (0)", 1)))
        area, _, rest = national.partition(" ")
        if rest:
            choices.append(("national-paren-area", f"({area}) {rest}"))
            if region == "DE":
                choices.append(("de-slash", f"{area}/{rest.replace(' ', '')}"))
    if region == "IN" and phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE:
        nsn = str(number.national_number)
        choices.append(("in-mobile-no-trunk", f"{nsn[:5]} {nsn[5:]}"))
    kind, value = rng.choice(choices)
    return value, f"phone:{region}:{kind}"


CARD_ISSUERS = [  # (name, prefixes, length, grouping)
    ("visa", ["4"], 16, (4, 4, 4, 4)),
    ("visa13", ["4"], 13, (4, 4, 5)),
    ("mastercard", ["51", "52", "53", "54", "55", "2221", "2500", "2720"], 16, (4, 4, 4, 4)),
    ("amex", ["34", "37"], 15, (4, 6, 5)),
    ("discover", ["6011", "65", "644"], 16, (4, 4, 4, 4)),
    ("jcb", ["3528", "3589"], 16, (4, 4, 4, 4)),
    ("diners", ["300", "36", "38"], 14, (4, 6, 4)),
    ("unionpay19", ["62"], 19, (4, 4, 4, 4, 3)),
]


def luhn_complete(body: str) -> str:
    """Append the Luhn check digit to ``body``."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def gen_card(rng: random.Random) -> tuple[str, str]:
    name, prefixes, length, grouping = rng.choice(CARD_ISSUERS)
    prefix = rng.choice(prefixes)
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - 1 - len(prefix)))
    digits = luhn_complete(body)
    style = rng.choice(["contiguous", "spaces", "dashes"])
    if style == "contiguous" or (name == "visa13" and style == "dashes"):
        return digits, f"card:{name}:contiguous"
    groups, pos = [], 0
    for size in grouping:
        groups.append(digits[pos : pos + size])
        pos += size
    return (" " if style == "spaces" else "-").join(groups), f"card:{name}:{style}"


IBAN_FORMATS = {  # country -> BBAN structure: n = digit, a = upper letter, c = alphanumeric
    "DE": "n" * 18,
    "GB": "aaaa" + "n" * 14,
    "FR": "n" * 10 + "c" * 11 + "nn",
    "NL": "aaaa" + "n" * 10,
    "ES": "n" * 20,
    "IT": "a" + "n" * 10 + "c" * 12,
    "CH": "n" * 5 + "c" * 12,
    "BE": "n" * 12,
    "AT": "n" * 16,
    "PL": "n" * 24,
    "NO": "n" * 11,
    "SE": "n" * 20,
}


def iban_check_digits(country: str, bban: str) -> str:
    numeric = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    return f"{98 - int(numeric) % 97:02d}"


def gen_iban(rng: random.Random) -> tuple[str, str]:
    country = rng.choice(list(IBAN_FORMATS))
    alphabet = {"n": string.digits, "a": string.ascii_uppercase, "c": string.ascii_uppercase + string.digits}
    bban = "".join(rng.choice(alphabet[c]) for c in IBAN_FORMATS[country])
    iban = country + iban_check_digits(country, bban) + bban
    if rng.random() < 0.5:
        return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)), f"iban:{country}:grouped"
    return iban, f"iban:{country}:compact"


def gen_ip(rng: random.Random) -> tuple[str, str]:
    kind = rng.choice(["v4", "v4", "v6-compressed", "v6-full", "v6-mapped", "v6-linklocal"])
    if kind == "v4":
        v4 = ".".join(str(o) for o in [rng.randint(1, 223), *(rng.randint(0, 255) for _ in range(3))])
        return v4, "ip:v4"
    if kind == "v6-mapped":
        v4 = ".".join(str(rng.randint(1, 254)) for _ in range(4))
        return f"::ffff:{v4}", "ip:v6-mapped"
    groups = [rng.randint(0, 0xFFFF) for _ in range(8)]
    groups[0] = rng.choice([0x2001, 0x2A00, 0x2600, 0xFE80]) if kind != "v6-linklocal" else 0xFE80
    zero_from = rng.randint(1, 5)
    for i in range(zero_from, zero_from + rng.randint(1, 3)):
        groups[i] = 0
    address = ipaddress.IPv6Address(int("".join(f"{g:04x}" for g in groups), 16))
    if kind == "v6-full":
        return address.exploded, "ip:v6-full"
    text = address.compressed
    return (text.upper() if rng.random() < 0.2 else text), f"ip:{kind}"


def gen_ssn_parts(rng: random.Random) -> tuple[str, str, str]:
    area = rng.choice([a for a in range(1, 900) if a != 666])
    return f"{area:03d}", f"{rng.randint(1, 99):02d}", f"{rng.randint(1, 9999):04d}"


def gen_ssn(rng: random.Random) -> tuple[str, str]:
    area, group, serial = gen_ssn_parts(rng)
    style = rng.choice(["dashes", "dashes", "spaces", "bare"])
    sep = {"dashes": "-", "spaces": " ", "bare": ""}[style]
    return f"{area}{sep}{group}{sep}{serial}", f"ssn:{style}"


def gen_password(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits + "!$%^&*_-.~"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(6, 20)))


def token(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def gen_secret(rng: random.Random) -> tuple[str, str]:
    kind = rng.choice(
        ["aws_key_id", "aws_secret", "private_key", "bearer", "github", "slack", "stripe", "google", "jwt"]
    )
    upper_digits = string.ascii_uppercase + "234567"
    if kind == "aws_key_id":
        return rng.choice(["AKIA", "ASIA"]) + token(rng, 16, upper_digits), kind
    if kind == "aws_secret":
        return token(rng, 40, string.ascii_letters + string.digits + "/+"), kind
    if kind == "private_key":
        label = rng.choice(["RSA ", "EC ", "OPENSSH ", "", "ENCRYPTED "])
        body = "\n".join(token(rng, 64, string.ascii_letters + string.digits + "+/") for _ in range(rng.randint(2, 5)))
        return f"-----BEGIN {label}PRIVATE KEY-----\n{body}\n-----END {label}PRIVATE KEY-----", kind
    if kind == "bearer":
        return token(rng, rng.randint(20, 48), string.ascii_letters + string.digits + "-._~"), kind
    if kind == "github":
        prefix = rng.choice(["ghp_", "gho_", "ghs_"])
        if rng.random() < 0.3:
            return "github_pat_" + token(rng, 22) + "_" + token(rng, 59), "github:pat"
        return prefix + token(rng, 36), f"github:{prefix}"
    if kind == "slack":
        ids = f"{rng.randint(10**9, 10**12)}-{rng.randint(10**9, 10**12)}"
        return f"xox{rng.choice('bpa')}-{ids}-{token(rng, 24)}", kind
    if kind == "stripe":
        return rng.choice(["sk_live_", "rk_live_"]) + token(rng, rng.choice([24, 32, 99])), kind
    if kind == "google":
        return "AIza" + token(rng, 35, string.ascii_letters + string.digits + "_-"), kind
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64url(json.dumps({"sub": str(rng.randint(1, 10**9)), "name": rng.choice(FIRST)}).encode())
    return f"{header}.{payload}.{b64url(rng.randbytes(32))}", kind


def gen_url_credentials(rng: random.Random) -> tuple[str, str, str]:
    """(whole URL, the userinfo, kind)."""
    scheme = rng.choice(["https", "http", "ftp", "postgresql", "mysql", "redis", "amqp", "mongodb+srv"])
    user = rng.choice([rng.choice(FIRST), "admin", "svc_" + rng.choice(FIRST), "deploy-bot"])
    userinfo = f"{user}:{gen_password(rng)}"
    host = rng.choice(["db.example.com", "db-3.example.com", "cache.internal", "example.org:5432", "files.example.net"])
    path = rng.choice(["", "/", "/app", "/v1/data?x=1", "/backups/db.tar.gz"])
    return f"{scheme}://{userinfo}@{host}{path}", userinfo, f"url:{scheme}"


TEMPLATES: dict[str, list[str]] = {
    "email": [
        "Please send the invoice to {v} before Friday.",
        "My email is {v}",
        "Contact: {v}, or reply to this ticket.",
        "I wrote to ({v}) twice but nobody answered.",
        "cc {v}; thanks!",
        'The form says "{v}" but that address is wrong.',
    ],
    "phone": [
        "You can call me at {v} after 5pm.",
        "My phone number is {v}.",
        "Reach our office on {v}, Monday to Friday.",
        "Tel: {v}",
        "Please text me ({v}) when the parcel ships.",
        "Mobile {v} - ask for Dana.",
        "He left a voicemail from {v} yesterday.",
    ],
    "card": [
        "I paid with card {v} and was charged twice.",
        "Card number: {v}, expiry 09/27.",
        "Please refund to {v}.",
        "The payment from {v} bounced.",
        "Use my other card ({v}) instead.",
    ],
    "iban": [
        "Please wire the refund to IBAN {v}.",
        "Bank account: {v}",
        "My IBAN is {v}, the account holder is me.",
        "Transfer to {v} failed twice.",
    ],
    "ip": [
        "The login came from {v} at night.",
        "Connection to {v}:8443 refused.",
        "Connection to [{v}]:8443 refused.",
        "Server address: {v}",
        "Blocked host {v}, please whitelist it.",
        "ping {v} times out for us.",
        "The request (from {v}) was rejected.",
    ],
    "ssn": [
        "My SSN is {v}.",
        "Social security number: {v}",
        "SSN: {v}, date of birth on file.",
        "my social security no. is {v}",
    ],
    "url_credentials": [
        "Connect with {v} from the app server.",
        "The config has DATABASE_URL={v}",
        "Download it from {v} please.",
        "I pasted {v} in the chat by mistake.",
    ],
}
SECRET_TEMPLATES: dict[str, list[str]] = {
    "aws_secret": ["aws_secret_access_key = {v}", 'AWS_SECRET_ACCESS_KEY="{v}" in the env file', "aws_secret_key: {v}"],
    "private_key": ["Here is the key:\n{v}\nplease rotate it.", "{v}"],
    "bearer": ["Authorization: Bearer {v}", "curl -H 'Authorization: Bearer {v}' https://api.example.com"],
    "default": ["Our token {v} leaked in the logs.", "key={v}", "Found {v} in the repo history.", "export T={v}"],
}

FILLERS = [
    "Hi team, ",
    "Hello, ",
    "",
    "Quick question: ",
    "As discussed on the 3rd, ",
    "Update (2 of 3): ",
    "Sorry for the delay. ",
]


def recall_corpus(rng: random.Random, per_entity: int) -> list[Sample]:
    out: list[Sample] = []
    simple: dict[str, Callable[[random.Random], tuple[str, str]]] = {
        "email": gen_email,
        "phone": gen_phone,
        "card": gen_card,
        "iban": gen_iban,
        "ip": gen_ip,
        "ssn": gen_ssn,
    }
    for entity in ENTITY_TYPES:
        for _ in range(per_entity):
            filler = rng.choice(FILLERS)
            if entity == "url_credentials":
                url, userinfo, kind = gen_url_credentials(rng)
                template = filler + rng.choice(TEMPLATES[entity])
                before, _ = template.split("{v}")
                text = template.replace("{v}", url)
                start = len(before) + url.index("://") + 3
                out.append(Sample(text, entity, start, start + len(userinfo), kind))
            elif entity == "secret":
                value, kind = gen_secret(rng)
                group = kind if kind in SECRET_TEMPLATES else "default"
                out.append(embed(filler + rng.choice(SECRET_TEMPLATES[group]), value, entity, kind))
            else:
                value, kind = simple[entity](rng)
                templates = TEMPLATES[entity] + (EMAIL_TEMPLATES_EXTRA if entity == "email" else [])
                if kind.startswith("ip:v4"):
                    templates = [t for t in templates if "[" not in t]  # brackets are for IPv6
                elif kind.startswith("ip:"):
                    templates = [t for t in templates if "}:" not in t]  # IPv6 with a port needs brackets
                sample = embed(filler + rng.choice(templates), value, entity, kind)
                if kind.endswith("tel-uri"):  # the finding is the number after "tel:"
                    sample = Sample(sample.text, entity, sample.start + 4, sample.end, kind)
                out.append(sample)
    return out


def isbn13(rng: random.Random) -> str:
    body = "978" + "".join(rng.choice(string.digits) for _ in range(9))
    check = (10 - sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(body)) % 10) % 10
    digits = body + str(check)
    if rng.random() < 0.5:
        return digits
    return f"{digits[:3]}-{digits[3]}-{digits[4:6]}-{digits[6:12]}-{digits[12]}"


def isbn10(rng: random.Random) -> str:
    body = "".join(rng.choice(string.digits) for _ in range(9))
    check = (11 - sum(int(d) * (10 - i) for i, d in enumerate(body)) % 11) % 11
    c = "X" if check == 10 else str(check)
    return f"{body[0]}-{body[1:4]}-{body[4:9]}-{c}"


def ean13(rng: random.Random) -> str:
    """A German-range EAN-13 product barcode (starts with 4, like a Visa number)."""
    body = str(rng.randint(400, 440)) + "".join(rng.choice(string.digits) for _ in range(9))
    check = (10 - sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(body)) % 10) % 10
    return body + str(check)


def luhn_invalid_16(rng: random.Random) -> str:
    digits = luhn_complete(rng.choice(["4", "5", "6", "3"]) + "".join(rng.choice(string.digits) for _ in range(14)))
    bad = digits[:-1] + str((int(digits[-1]) + rng.randint(1, 9)) % 10)
    return bad if rng.random() < 0.5 else " ".join(bad[i : i + 4] for i in range(0, 16, 4))


def invalid_phone(rng: random.Random) -> str:
    """A NANP-shaped number with an area code starting with 1 (none exists): invalid in the US, and in the
    trunk-0 regions a number without the trunk 0 only counts as a 10-digit mobile, which these are not."""
    mobile = phonenumbers.PhoneNumberType.MOBILE
    while True:
        value = f"(1{rng.randint(0, 99):02d}) {rng.randint(200, 999)}-{rng.randint(0, 9999):04d}"
        numbers = [phonenumbers.parse(value, region) for region in PHONE_REGIONS]
        if not any(phonenumbers.is_valid_number(n) and phonenumbers.number_type(n) == mobile for n in numbers):
            return value


_RANGE = re.compile(r"\{(-?\d+)\.\.(-?\d+)(?::(\d+))?\}")


def fill(template: str, rng: random.Random) -> str:
    """Replace each ``{a..b}`` (or ``{a..b:width}``, zero-padded) with a random integer in [a, b]."""

    def draw(m: re.Match[str]) -> str:
        value = rng.randint(int(m.group(1)), int(m.group(2)))
        return f"{value:0{m.group(3)}d}" if m.group(3) else str(value)

    return _RANGE.sub(draw, template)


# Look-alikes: a template for fill(), or a function for the ones that need a checksum or a token.
LOOKALIKES: list[tuple[str, str | Callable[[random.Random], str]]] = [
    ("order#", "Where is my order #{100000000..999999999}?"),
    ("order-id", "Order ORD-{2015..2024}-{0..999999:6} has not shipped."),
    ("order-no", "order number {1000000000..9999999999} was cancelled"),
    ("invoice", "Invoice INV-{100000..999999} is overdue by {2..40} days."),
    ("date-iso", "It arrived on {2000..2030}-{1..12:2}-{1..28:2}."),
    ("date-slash", "Delivered {1..28:2}/{1..12:2}/{2000..2030} at 9"),
    ("date-dots", "Termin am {1..28}.{1..12}.{2000..2030} bestätigt."),
    ("datetime", "Logged at {2019..2024}-{1..12:2}-{10..28} {10..23}:{10..59}:{10..59}"),
    ("time", "Meeting from {8..12}:{0..59:2} to {13..18}:30."),
    ("version-v", "Upgrade to v{1..9}.{0..20}.{0..99} fixed it."),
    ("version-long", "Windows version 10.0.{10000..22999}.{100..9999} crashes."),
    ("version-4part", "Running version {1..9}.{0..9}.{0..9}.{0..99} now."),
    ("version-5part", "Build {0..30}.{0..30}.{0..30}.{0..30}.{0..30} is broken."),
    ("semver", "Release {1..9}.{0..20}.{0..9}-beta.{1..9} is out."),
    ("price", "I was charged ${1..9},{100..999}.{0..99:2} instead of ${10..99}.99."),
    ("price-eu", "Total: {1..9}.{100..999},{0..99:2} EUR"),
    ("big-number", "Revenue was {1..999},{100..999},{100..999} or {1..999} {100..999} {100..999} EUR."),
    ("pi", "Pi is about 3.14159 and e is {2..3}.71828."),
    ("percent", "Growth was {1..99}.{0..99}% in Q{1..4} {2015..2024}."),
    ("measure", "The box is {10..99}.{0..9} x {10..99} x {5..50} cm, {1..30}.{0..9} kg."),
    ("coords", "We are at {-89..89}.{1000..9999}, {-179..179}.{1000..9999}."),
    ("years", "We were customers {1990..2015}-{2016..2024}."),
    ("zip", "Ship to ZIP {10000..99999} or {10000..99999}-{1000..9999}."),
    ("fedex", "FedEx {1000..9999} {1000..9999} {1000..9999} is stuck."),
    ("usps", "USPS tracking 9400 {0..9999:4} {0..9999:4} {0..9999:4} {0..9999:4} {10..99}"),
    ("sku", "SKU {100..999}-{100..999}-{1000..9999} is out of stock."),
    ("timestamp", "Event at unix time {1500000000..1800000000} was dropped."),
    ("bad-ipv4", "Address {256..999}.{0..255}.{0..255}.{0..255} is invalid."),
    ("time-range", "Open {7..10:2}:00-{16..20}:30 daily, lunch 12:00:00 to 13:00:00."),
    ("short-phone", "Dial {200..999}-{1000..9999} from inside the building."),
    ("sort-code", "Sort code {10..99}-{10..99}-{10..99} is missing."),
    ("expiry-cvv", "Expiry {1..12:2}/{24..30}, CVV {100..999}."),
    ("room-ext", "Room {100..999}, ext. {1000..9999}, floor {1..30}."),
    ("cxx", "std::vector<int> and Foo::Bar::baz() do not compile."),
    ("isbn13", lambda r: f"The book (ISBN {isbn13(r)}) is out of stock."),
    ("isbn10", lambda r: f"ISBN {isbn10(r)} was the old edition."),
    (
        "ups",
        lambda r: f"Tracking: 1Z{token(r, 6, string.ascii_uppercase + string.digits)}{r.randint(10**9, 10**10 - 1)}",
    ),
    ("luhn-invalid", lambda r: f"Reference {luhn_invalid_16(r)} on the statement."),
    ("luhn-invalid-bare", lambda r: f"The code {luhn_invalid_16(r)} did not work."),
    ("invalid-phone", lambda r: f"The number {invalid_phone(r)} does not exist."),
    ("serial", lambda r: f"Serial {token(r, 4, string.ascii_uppercase)}{r.randint(10**7, 10**8)} under warranty."),
    ("ean13", lambda r: f"Barcode {ean13(r)} scans as the wrong product."),
    ("uuid", lambda r: f"Request id {uuid_like(r)} failed."),
    ("mac", lambda r: "Device MAC " + ":".join(f"{r.randint(0, 255):02X}" for _ in range(6)) + " is offline."),
    ("git-sha", lambda r: f"Fixed in commit {token(r, 40, '0123456789abcdef')}."),
]


def uuid_like(rng: random.Random) -> str:
    h = token(rng, 32, "0123456789abcdef")
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def precision_corpus(rng: random.Random, n: int) -> list[Sample]:
    out = []
    for i in range(n):
        kind, gen = LOOKALIKES[i % len(LOOKALIKES)]
        sentence = fill(gen, rng) if isinstance(gen, str) else gen(rng)
        out.append(Sample(rng.choice(FILLERS) + sentence, None, kind=kind))
    return out


PLAIN = [
    "The package arrived late and the box was damaged.",
    "I would like to cancel my subscription at the end of the month.",
    "My screen flickers after the last update, please help.",
    "Thanks for the quick reply, the issue is resolved now.",
    "The app crashes every time I open the settings page.",
    "Can you send me a replacement battery? The old one swells.",
    "I was charged twice for the same order last week.",
    "Our team uses the product daily and we love the new dashboard.",
    "The delivery driver left the parcel at the wrong door again.",
    "Please update the shipping address on my account.",
    "I waited 3 days for an answer, which is too long.",
    "The refund of $49.99 has not appeared on my statement yet.",
    "Version 2.4 broke the export feature for large files.",
    "We ordered 12 units but only 10 arrived in 2 boxes.",
    "Is there a student discount for the annual plan?",
    "The warranty covers 24 months from the purchase date.",
    "Support ticket 48213 has been open since March.",
    "Login fails with error 503 around 9am every morning.",
    "The manual on page 14 does not match the device.",
    "I love the colour but the size runs small.",
    "The new firmware drains the battery in about 6 hours.",
    "Could you explain the difference between the two plans?",
    "My order from 2023 still shows as processing.",
    "The password reset email never arrives in my inbox.",
    "The speaker crackles at volume levels above 70%.",
    "See https://help.example.com/articles/1234 for the steps.",
    "Thanks @support_team, the fix in 3.2.1 works.",
    "Meeting moved to 14:30 on 2024-03-05: agenda attached.",
    "The kit weighs 2.5 kg and measures 40 x 30 x 12 cm.",
]


def throughput_corpus(rng: random.Random, n: int, pii: list[Sample]) -> tuple[list[str], int]:
    texts, with_pii = [], 0
    for _ in range(n):
        parts: list[str] = []
        size = 0
        target = rng.randint(270, 330)
        if rng.random() < 0.10:
            sample = rng.choice(pii)
            parts.append(sample.text)
            size += len(sample.text)
            with_pii += 1
        while size < target:
            sentence = rng.choice(PLAIN)
            parts.insert(rng.randint(0, len(parts)), sentence)
            size += len(sentence) + 1
        texts.append(" ".join(parts))
    return texts, with_pii


def covers(f: Finding, s: Sample) -> bool:
    return f.entity == s.entity and f.start <= s.start and f.end >= s.end


def evaluate(detector: PiiDetector, samples: list[Sample]) -> dict[str, Any]:
    found: dict[str, int] = dict.fromkeys(ENTITY_TYPES, 0)
    planted: dict[str, int] = dict.fromkeys(ENTITY_TYPES, 0)
    true_pos = all_findings = 0
    misses: list[tuple[str, str, str]] = []
    false_pos: list[tuple[str, str, str]] = []
    for s in samples:
        findings = detector.find(s.text)
        all_findings += len(findings)
        hit = False
        for f in findings:
            if s.entity is not None and covers(f, s):
                true_pos += 1
                hit = True
            else:
                false_pos.append((s.kind or str(s.entity), f.entity, s.text[f.start : f.end]))
        if s.entity is not None:
            planted[s.entity] += 1
            if hit:
                found[s.entity] += 1
            else:
                misses.append((s.kind, s.text[s.start : s.end], s.text))
    recall = {e: (found[e] / planted[e] if planted[e] else 1.0) for e in ENTITY_TYPES}
    total_planted = sum(planted.values())
    return {
        "recall": recall,
        "recall_overall": sum(found.values()) / total_planted if total_planted else 1.0,
        "precision": true_pos / all_findings if all_findings else 1.0,
        "findings": all_findings,
        "true_positives": true_pos,
        "misses": misses,
        "false_positives": false_pos,
    }


def throughput(detector: PiiDetector, texts: list[str]) -> dict[str, float]:
    for t in texts[:500]:  # warm-up: compiled-pattern caches, phonenumbers metadata
        detector.find(t)
    t0 = time.perf_counter()
    found = 0
    for t in texts:
        found += len(detector.find(t))
    elapsed = time.perf_counter() - t0
    t0 = time.perf_counter()
    for t in texts:
        detector.contains_any(t)
    elapsed_any = time.perf_counter() - t0
    return {
        "docs": len(texts),
        "seconds": round(elapsed, 3),
        "docs_per_s": round(len(texts) / elapsed),
        "us_per_doc": round(elapsed / len(texts) * 1e6, 2),
        "contains_any_docs_per_s": round(len(texts) / elapsed_any),
        "findings": found,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=sorted(SIZES), default="full")
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--show-errors", type=int, default=0, metavar="N", help="list up to N misses and false positives")
    args = ap.parse_args()
    size = SIZES[args.size]
    rng = random.Random(args.seed)

    t0 = time.perf_counter()
    pii = recall_corpus(rng, size["per_entity"])
    lookalikes = precision_corpus(rng, size["lookalikes"])
    texts, with_pii = throughput_corpus(rng, size["texts"], pii)
    generate_s = time.perf_counter() - t0

    detector = PiiDetector()
    quality = evaluate(detector, pii + lookalikes)
    speed = throughput(detector, texts)
    speed["with_pii"] = with_pii
    speed["mean_chars"] = round(sum(map(len, texts)) / len(texts), 1)

    report: dict[str, Any] = {
        "size": args.size,
        "seed": args.seed,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "corpus": {
            "recall_samples": len(pii),
            "lookalike_samples": len(lookalikes),
            "throughput_texts": len(texts),
            "generate_s": round(generate_s, 2),
        },
        "recall": {e: round(v, 4) for e, v in quality["recall"].items()},
        "recall_overall": round(quality["recall_overall"], 4),
        "precision": round(quality["precision"], 4),
        "findings": quality["findings"],
        "false_positives": len(quality["false_positives"]),
        "throughput": speed,
    }
    failed = [e for e, v in quality["recall"].items() if v < TARGET_RECALL]
    ok = bool(not failed and quality["precision"] >= TARGET_PRECISION and speed["docs_per_s"] >= TARGET_DOCS_PER_S)
    report["targets_met"] = ok

    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"PII bench ({args.size}, seed {args.seed}), Python {platform.python_version()}, {os.cpu_count()} CPUs")
        print(f"  corpora: {len(pii)} planted values, {len(lookalikes)} look-alikes, {len(texts)} texts")
        for e, v in quality["recall"].items():
            mark = "" if v >= TARGET_RECALL else "   <-- below target"
            print(f"  recall {e:<16} {v:.4f}{mark}")
        print(f"  recall overall          {quality['recall_overall']:.4f}")
        print(
            f"  precision               {quality['precision']:.4f}  "
            f"({quality['true_positives']}/{quality['findings']} findings)"
        )
        print(
            f"  throughput              {speed['docs_per_s']:,} docs/s ({speed['us_per_doc']} us/doc, "
            f"{speed['with_pii']} texts with PII, {speed['mean_chars']} chars mean); "
            f"contains_any {speed['contains_any_docs_per_s']:,} docs/s"
        )
        print(f"  targets met: {ok}")
    if args.show_errors:
        out = sys.stderr
        sys.stdout.flush()
        print("misses (kind, value, text):", file=out)
        for kind, value, text in quality["misses"][: args.show_errors]:
            print(f"  {kind}: {value!r} in {text!r}", file=out)
        print("false positives (sample kind, entity, value):", file=out)
        for kind, entity, value in quality["false_positives"][: args.show_errors]:
            print(f"  {kind}: {entity} {value!r}", file=out)
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
