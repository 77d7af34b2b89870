"""Unit tests for PII detection and redaction (labelloop.domain.pii)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import re
from typing import cast

import pytest

from labelloop.domain.pii import (
    ACTIONS,
    ENTITY_TYPES,
    Finding,
    PiiDetector,
    hmac_value,
    redact,
    redact_everything,
)

DETECTOR = PiiDetector()
KEY = b"test-key"

# Secrets are assembled at run time so the repository holds no string a secret scanner would flag.
GITHUB_TOKEN = "gh" + "p_" + "A1b2C3d4E5" * 3 + "F6g7H8"
GITHUB_PAT = "github" + "_pat_" + "11ABCDEFG0123456789abc" + "_" + "x" * 59
SLACK_TOKEN = "xo" + "xb-" + "1234567890-0987654321-" + "AbCdEfGhIjKlMnOpQrStUvWx"
STRIPE_KEY = "sk" + "_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
GOOGLE_KEY = "AI" + "za" + "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"
AWS_KEY_ID = "AK" + "IA" + "IOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PRIVATE_KEY = "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7Vv2\nq0Zt9X\n-----END RSA " + "PRIVATE KEY-----"


def found(text: str, detector: PiiDetector = DETECTOR) -> list[tuple[str, str]]:
    return [(f.entity, text[f.start : f.end]) for f in detector.find(text)]


# --------------------------------------------------------------------------------------------------
# Known answers, one value per sentence: the finding is exactly the value.
# --------------------------------------------------------------------------------------------------

POSITIVES: dict[str, list[str]] = {
    "email": [
        "john.doe@example.com",
        "J.Doe+news@Mail.Example.co.uk",
        "first_last99@sub.domain.io",
        "a-b@x-y.org",
    ],
    "phone": [
        "+44 20 7946 0958",
        "+44 (0)20 7946 0958",
        "020 7946 0958",
        "0121 234 5678",
        "(201) 555-0123",
        "201-555-0123",
        "201.555.0123",
        "+1 201-555-0123",
        "+1 (201) 555-0123",
        "1-800-555-0199",
        "+12015550123",
        "0049 30 1234567",
        "+49 30 1234567",
        "030 1234567",
        "030/1234567",
        "01512 3456789",
        "01 23 45 67 89",
        "+33 6 12 34 56 78",
        "+91 98765 43210",
        "98765 43210",
        "+91-98765-43210",
    ],
    "card": [
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "4012888888881881",
        "5555 5555 5555 4444",
        "5105-1051-0510-5100",
        "2223003122003222",
        "3782 822463 10005",
        "371449635398431",
        "6011111111111117",
        "3530111333300000",
        "3056 930902 5904",
    ],
    "iban": [
        "DE89 3704 0044 0532 0130 00",
        "DE89370400440532013000",
        "GB82 WEST 1234 5698 7654 32",
        "GB82WEST12345698765432",
        "NL91ABNA0417164300",
        "FR14 2004 1010 0505 0001 3M02 606",
        "ES91 2100 0418 4502 0005 1332",
        "IT60X0542811101000000123456",
        "CH93 0076 2011 6238 5295 7",
        "BE68539007547034",
        "NO9386011117947",
        "de89 3704 0044 0532 0130 00",
    ],
    "ip": [
        "192.168.1.10",
        "8.8.8.8",
        "255.255.255.255",
        "2001:db8::1",
        "fe80::1ff:fe23:4567:890a",
        "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
        "::ffff:192.0.2.1",
        "::1",
        "2001:DB8:0:0:8:800:200C:417A",
    ],
    "ssn": [
        "123-45-6789",
        "078-05-1120",
        "219 09 9999",
    ],
    "secret": [
        AWS_KEY_ID,
        "ASIA" + "Y34FZKBOKMUTVV7A",
        PRIVATE_KEY,
        GITHUB_TOKEN,
        GITHUB_PAT,
        SLACK_TOKEN,
        STRIPE_KEY,
        GOOGLE_KEY,
        JWT,
    ],
}
SENTENCES = [
    "Please contact {v} about it.",
    "{v}",
    "{v} is the one",
    "value: ({v}), thanks",
    "see {v}.",
]


@pytest.mark.parametrize(
    ("entity", "value", "template"),
    [(e, v, t) for e, values in POSITIVES.items() for v in values for t in SENTENCES],
)
def test_detects_value_exactly(entity: str, value: str, template: str) -> None:
    text = template.format(v=value)
    assert found(text) == [(entity, value)]


def test_ipv6_with_port_in_brackets() -> None:
    assert found("connect to [2001:db8::1]:8443 now") == [("ip", "2001:db8::1")]


def test_ipv4_with_port_and_space_separated_list() -> None:
    assert found("10.0.0.1:8080 and 10.0.0.2 10.0.0.3") == [
        ("ip", "10.0.0.1"),
        ("ip", "10.0.0.2"),
        ("ip", "10.0.0.3"),
    ]


def test_bare_ssn_needs_context() -> None:
    assert found("My SSN: 123456789") == [("ssn", "123456789")]
    assert found("social security number is 078051120") == [("ssn", "078051120")]
    assert found("Your code is 123456789") == []


@pytest.mark.parametrize("value", ["000-12-3456", "666-12-3456", "912-34-5678", "123-00-4567", "123-45-0000"])
def test_invalid_ssn_parts_are_rejected(value: str) -> None:
    assert found(f"SSN {value}") == []


def test_ssn_separators_must_agree() -> None:
    assert found("SSN 123-45 6789") == []


def test_bare_phone_digits_need_phone_context() -> None:
    assert found("call me on 2015550123") == [("phone", "2015550123")]
    assert found("the value 2015550123 was logged") == []


def test_phone_national_number_is_tried_in_the_configured_regions_only() -> None:
    us_only = PiiDetector(["phone"], phone_regions=["US"])
    assert found("ring 020 7946 0958 today", us_only) == []
    assert found("ring (201) 555-0123 today", us_only) == [("phone", "(201) 555-0123")]
    gb_only = PiiDetector(["phone"], phone_regions=["gb"])
    assert found("ring 020 7946 0958 today", gb_only) == [("phone", "020 7946 0958")]


def test_phone_region_without_trunk_prefix() -> None:
    italy = PiiDetector(["phone"], phone_regions=["IT"])
    assert found("chiamami al 06 4568 1234 o 312 345 6789", italy) == [
        ("phone", "06 4568 1234"),
        ("phone", "312 345 6789"),
    ]


def test_phone_trailing_group_is_trimmed() -> None:
    assert found("call 020 7946 0958 12 times") == [("phone", "020 7946 0958")]


def test_table_row_of_values_separated_by_single_spaces() -> None:
    text = "John Smith 123-45-6789 4111111111111111 020 7946 0958 10.0.0.1"
    assert found(text) == [
        ("ssn", "123-45-6789"),
        ("card", "4111111111111111"),
        ("phone", "020 7946 0958"),
        ("ip", "10.0.0.1"),
    ]
    assert found("+44 20 7946 0958 4111111111111111") == [("phone", "+44 20 7946 0958"), ("card", "4111111111111111")]


def test_tail_of_space_grouped_number_is_not_a_value() -> None:
    # "3895 3361 9444 2034 26" alone is a Luhn-valid Diners number; here it is the tail of a tracking number.
    assert found("USPS 9400 3895 3361 9444 2034 26") == []
    assert found("USPS 9400 1000 0123 4567 0412 34") == []
    assert found("qty 2 4111 1111 1111 1111") == [("card", "4111 1111 1111 1111")]


def test_card_followed_by_expiry_and_cvv() -> None:
    assert found("card 4111 1111 1111 1111 12/26 123") == [("card", "4111 1111 1111 1111")]


def test_card_requires_luhn_issuer_and_length() -> None:
    assert found("4111 1111 1111 1112") == []  # Luhn fails
    assert found("9111111111111117") == []  # Luhn-valid, no issuer starts with 9
    assert found("37828224631000") == []  # Amex prefix, 14 digits: Amex is 15


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def ean13_ok(digits: str) -> bool:
    return (10 - sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits[:12])) % 10) % 10 == int(digits[12])


def test_ean13_barcode_is_not_a_visa_unless_payment_context() -> None:
    barcode = "4006381333924"
    assert luhn_ok(barcode)
    assert ean13_ok(barcode)
    assert ean13_ok("4006381333931")  # a real barcode (checks the checker)
    assert found(f"Barcode {barcode} scans wrong") == []
    assert found(f"paid with card {barcode}") == [("card", barcode)]


def test_iban_checksum_and_length() -> None:
    assert found("DE89 3704 0044 0532 0130 01") == []  # checksum
    assert found("DE89 3704 0044 0532 0130 0") == []  # DE is 22 characters
    assert found("XX89370400440532013000") == []  # no such country


def test_iban_followed_by_words_and_another_iban() -> None:
    text = "IBAN GB82WEST12345698765432 and NL91 ABNA 0417 1643 00 please"
    assert found(text) == [("iban", "GB82WEST12345698765432"), ("iban", "NL91 ABNA 0417 1643 00")]


def test_url_credentials_are_the_userinfo() -> None:
    text = "db at postgresql://svc_app:s3cr3t!pw@db.example.com:5432/app ok"
    assert found(text) == [("url_credentials", "svc_app:s3cr3t!pw")]
    assert found("https://user@example.com/x") == [("email", "user@example.com")]  # no password
    assert found("https://example.com/?mail=a:b") == []


def test_secret_values_after_context() -> None:
    assert found(f"aws_secret_access_key = {AWS_SECRET}") == [("secret", AWS_SECRET)]
    assert found(f'AWS_SECRET_ACCESS_KEY="{AWS_SECRET}"') == [("secret", AWS_SECRET)]
    token = "abcDEF123-ghiJKL456._~"
    assert found(f"Authorization: Bearer {token}") == [("secret", token)]
    assert found("Authorization: Bearer short") == []


def test_unterminated_private_key_runs_to_the_end() -> None:
    text = "key:\n-----BEGIN " + "PRIVATE KEY-----\nMIIEvQIBADANBgkq"
    assert found(text) == [("secret", text[5:])]


# --------------------------------------------------------------------------------------------------
# Look-alikes.
# --------------------------------------------------------------------------------------------------

LOOKALIKES = [
    "Where is my order #123456789?",
    "Order ORD-2023-000123 has not shipped.",
    "order number 2015550123 was cancelled",
    "Invoice no. 9876543210 is overdue",
    "It arrived on 2023-11-05.",
    "Delivered 05/11/2023 at noon",
    "Termin am 5.11.2023 bestätigt, oder 05.11.2023.",
    "Logged at 2023-11-05 14:30:45",
    "Meeting from 10:30 to 11:45, lunch 12:00:00-13:00:00",
    "Upgrade to v1.2.3 fixed it.",
    "Windows version 10.0.19045.2364 crashes.",
    "Version 1.2.3.4 and build 10.0.0.1 and v1.2.3.4",
    "Build 1.2.3.4.5 is broken, and 28.13.17.25.11 too.",
    "Release 3.2.1-beta.4 is out.",
    "I was charged $1,234.56 instead of $99.99, total 1.234,56 EUR.",
    "Revenue was 1,234,567,890 or 12 345 678 EUR.",
    "The book ISBN 978-3-16-148410-0 or 9783161484100 or ISBN 0-306-40615-2.",
    "Tracking: 1Z999AA10123456784",
    "USPS 9400 1000 0000 0000 0000 00 and FedEx 7489 8412 3456.",
    "Reference 4111 1111 1111 1112 on the statement; code 5500000000000005.",
    "Pi is about 3.14159 and e is 2.71828.",
    "The box is 40.5 x 30 x 12 cm, 2.5 kg.",
    "We were customers 2019-2023.",
    "Ship to ZIP 90210 or 90210-1234.",
    "The number (123) 456-7890 does not exist, nor 555-123-4567.",
    "Dial 555-0123 from inside the building.",
    "Sort code 12-34-56, expiry 09/27, CVV 123.",
    "Request id 123e4567-e89b-12d3-a456-426614174000 failed.",
    "Device MAC 00:1A:2B:3C:4D:5E is offline.",
    "Event at unix time 1699123456 was dropped.",
    "Fixed in commit 9fceb02d0ae598e95dc970b74767f19372d61af8.",
    "We are at 48.8566, 2.3522.",
    "Address 999.10.10.10 is invalid, as is 256.1.1.1.",
    "std::vector<int> and Foo::Bar::baz() and dead::beef",
    "Growth was 12.5% in Q3 2023.",
    "Serial ABCD12345678 under warranty, SKU 123-456-7890.",
    "Contact support@ or @support_team on Twitter.",
    "See https://help.example.com/articles/1234 for the steps.",
]


@pytest.mark.parametrize("text", LOOKALIKES)
def test_lookalikes_are_not_pii(text: str) -> None:
    assert found(text) == []
    assert not DETECTOR.contains_any(text)


# --------------------------------------------------------------------------------------------------
# Overlaps, ordering, configuration.
# --------------------------------------------------------------------------------------------------


def test_url_credentials_win_over_email() -> None:
    text = "https://bob:pw@mail.example.com"
    assert found(text) == [("url_credentials", "bob:pw")]


def test_longer_ipv6_wins_over_embedded_ipv4() -> None:
    assert found("from ::ffff:10.1.2.3 today") == [("ip", "::ffff:10.1.2.3")]


def test_bearer_jwt_is_one_secret() -> None:
    assert found(f"Authorization: Bearer {JWT}") == [("secret", JWT)]


def test_iban_digits_are_not_also_a_phone() -> None:
    assert found("NL91 ABNA 0417 1643 00") == [("iban", "NL91 ABNA 0417 1643 00")]


def test_findings_sorted_and_non_overlapping() -> None:
    text = (
        f"Mail a@b.io, call +44 20 7946 0958, card 4111111111111111, ip 10.0.0.1, key {AWS_KEY_ID}, "
        "IBAN DE89370400440532013000, SSN 123-45-6789, https://u:p@h.example.com"
    )
    findings = DETECTOR.find(text)
    assert [f.entity for f in findings] == [
        "email",
        "phone",
        "card",
        "ip",
        "secret",
        "iban",
        "ssn",
        "url_credentials",
    ]
    for a, b in itertools.pairwise(findings):
        assert a.end <= b.start
    assert DETECTOR.contains_any(text)


def test_entity_subset() -> None:
    only_email = PiiDetector(["email"])
    text = "a@b.io and 4111 1111 1111 1111 and 10.0.0.1"
    assert found(text, only_email) == [("email", "a@b.io")]
    assert only_email.entities == frozenset({"email"})
    assert found(text, PiiDetector("card")) == [("card", "4111 1111 1111 1111")]
    assert not PiiDetector(["ssn"]).contains_any(text)


def test_unknown_entity_raises_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown PII entity 'passport'") as exc:
        PiiDetector(["email", "passport"])
    for name in ENTITY_TYPES:
        assert name in str(exc.value)


def test_unknown_phone_region_raises() -> None:
    with pytest.raises(ValueError, match="unknown phone region 'XX'"):
        PiiDetector(phone_regions=["US", "XX"])


def test_empty_and_plain_text() -> None:
    assert DETECTOR.find("") == []
    assert DETECTOR.find("The package arrived late and the box was damaged.") == []
    assert not DETECTOR.contains_any("")


def test_non_ascii_digits_do_not_crash() -> None:
    assert DETECTOR.find("card \u0664\u0661\u0661\u0661" * 5) == []
    assert DETECTOR.find("\uff14\uff11\uff11\uff11 1111 1111 1111") == []


def test_pathological_inputs_finish() -> None:
    # Long digit/separator runs and long tokens must not backtrack exponentially.
    for text in ("1 " * 3000, "1." * 3000, "+1" + " 2" * 3000, "a:" * 3000, "ab12 " * 2000, "x@" * 3000):
        DETECTOR.find(text)
        redact_everything(text)


# --------------------------------------------------------------------------------------------------
# redact and hmac_value.
# --------------------------------------------------------------------------------------------------

ALL_MASK = dict.fromkeys(ENTITY_TYPES, "mask")


def test_mask_uses_typed_placeholders() -> None:
    text = (
        f"a@b.io +44 20 7946 0958 4111111111111111 DE89370400440532013000 10.0.0.1 123-45-6789 "
        f"ftp://u:p@h.example.com {AWS_KEY_ID}"
    )
    result = redact(text, DETECTOR.find(text), ALL_MASK, KEY)
    assert result.text == ("[EMAIL] [PHONE] [CARD] [IBAN] [IP] [SSN] ftp://[URL_CREDENTIALS]@h.example.com [SECRET]")
    assert result.counts == dict.fromkeys(ENTITY_TYPES, 1)
    assert result.flagged == ()
    assert not result.drop
    assert not result.quarantine


def test_hash_is_joinable_across_formats() -> None:
    pairs = {
        "email": ("Bob.Smith@Example.COM", "bob.smith@example.com"),
        "phone": ("+44 20 7946 0958", "020 7946 0958"),
        "card": ("4111 1111 1111 1111", "4111-1111-1111-1111"),
        "iban": ("DE89 3704 0044 0532 0130 00", "de89370400440532013000"),
        "ssn": ("078-05-1120", "078 05 1120"),
        "ip": ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
    }
    for entity, (a, b) in pairs.items():
        ra = redact(f"x {a} y", DETECTOR.find(f"x {a} y"), {entity: "hash"}, KEY)
        rb = redact(f"x {b} y", DETECTOR.find(f"x {b} y"), {entity: "hash"}, KEY)
        assert re.fullmatch(rf"x \[{entity.upper()}:[0-9a-f]{{16}}\] y", ra.text), ra.text
        assert ra.text == rb.text, entity
        assert ra.counts == {entity: 1}


def test_phone_hash_equal_for_international_forms() -> None:
    forms = ["+44 20 7946 0958", "020 7946 0958", "+44 (0)20 7946 0958", "0044 20 7946 0958", "+442079460958"]
    assert len({hmac_value(KEY, "phone", f) for f in forms}) == 1


def test_hash_known_answer_and_key_dependence() -> None:
    expected = hmac.new(KEY, b"bob@example.com", hashlib.sha256).hexdigest()[:16]
    assert hmac_value(KEY, "email", " Bob@Example.com ") == expected
    assert hmac_value(b"other-key", "email", "bob@example.com") != expected
    assert hmac_value(KEY, "email", "alice@example.com") != expected
    # Any other entity (e.g. a subject id) is hashed as given.
    assert hmac_value(KEY, "subject", "user-42") == hmac.new(KEY, b"user-42", hashlib.sha256).hexdigest()[:16]
    assert (
        hmac_value(KEY, "phone", "+1 (201) 555-0123")
        == (hmac.new(KEY, b"+12015550123", hashlib.sha256).hexdigest()[:16])
    )


def test_hash_survives_lone_surrogates() -> None:
    assert re.fullmatch(r"[0-9a-f]{16}", hmac_value(KEY, "subject", "user-\ud800"))


def test_hash_differs_with_key_in_redaction() -> None:
    text = "mail a@b.io"
    findings = DETECTOR.find(text)
    assert (
        redact(text, findings, {"email": "hash"}, b"k1").text != redact(text, findings, {"email": "hash"}, b"k2").text
    )


def test_flag_leaves_text_and_lists_entity() -> None:
    text = "mail a@b.io or c@d.io, ip 10.0.0.1"
    result = redact(text, DETECTOR.find(text), {"email": "flag", "ip": "mask"}, KEY)
    assert result.text == "mail a@b.io or c@d.io, ip [IP]"
    assert result.flagged == ("email",)
    assert result.counts == {"email": 2, "ip": 1}
    assert not result.drop
    assert not result.quarantine


@pytest.mark.parametrize(("action", "drop", "quarantine"), [("drop_record", True, False), ("quarantine", False, True)])
def test_drop_and_quarantine_still_mask(action: str, drop: bool, quarantine: bool) -> None:
    text = "card 4111 1111 1111 1111, mail a@b.io"
    result = redact(text, DETECTOR.find(text), {"card": action, "email": "mask"}, KEY)
    assert result.text == "card [CARD], mail [EMAIL]"
    assert result.drop is drop
    assert result.quarantine is quarantine
    assert result.counts == {"card": 1, "email": 1}


def test_entity_without_action_is_left_and_not_counted() -> None:
    text = "mail a@b.io, ip 10.0.0.1"
    result = redact(text, DETECTOR.find(text), {"ip": "mask"}, KEY)
    assert result.text == "mail a@b.io, ip [IP]"
    assert result.counts == {"ip": 1}
    assert redact(text, DETECTOR.find(text), {}, KEY).text == text


def test_redact_accepts_unsorted_findings() -> None:
    text = "a@b.io 10.0.0.1"
    findings = list(reversed(DETECTOR.find(text)))
    assert redact(text, findings, ALL_MASK, KEY).text == "[EMAIL] [IP]"


def test_redact_rejects_bad_input() -> None:
    text = "a@b.io"
    with pytest.raises(ValueError, match="unknown PII action 'erase'"):
        redact(text, [], {"email": "erase"}, KEY)
    with pytest.raises(ValueError, match="unknown PII entity 'mail'"):
        redact(text, [], {"mail": "mask"}, KEY)
    with pytest.raises(ValueError, match="overlaps"):
        redact(text, [Finding("email", 0, 4), Finding("email", 2, 6)], ALL_MASK, KEY)
    with pytest.raises(ValueError, match="outside"):
        redact(text, [Finding("email", 0, 99)], ALL_MASK, KEY)
    assert redact(text, DETECTOR.find(text), {"email": "mask"}, b"").text == "[EMAIL]"
    assert set(ACTIONS) == {"mask", "hash", "flag", "drop_record", "quarantine"}


# --------------------------------------------------------------------------------------------------
# redact_everything (fail-closed).
# --------------------------------------------------------------------------------------------------

CANARIES = [
    "canary.person@example.com",
    "+44 20 7946 0958",
    "(201) 555-0123",
    "4111 1111 1111 1111",
    "3782-822463-10005",
    "GB82 WEST 1234 5698 7654 32",
    "DE89370400440532013000",
    "192.168.77.10",
    "2001:db8::7",
    "fe80::1ff:fe23:4567:890a",
    "078-05-1120",
    "https://admin:hunter2@db.example.com/x",
    AWS_KEY_ID,
    AWS_SECRET,
    GITHUB_TOKEN,
    SLACK_TOKEN,
    STRIPE_KEY,
    GOOGLE_KEY,
    JWT,
    PRIVATE_KEY,
    "Bearer abcdefghijklmnopq",
]


@pytest.mark.parametrize("canary", CANARIES)
def test_redact_everything_leaves_no_canary(canary: str) -> None:
    text = f"Hi, here it is: {canary}. Thanks!"
    out = redact_everything(text)
    assert "[REDACTED]" in out
    assert canary not in out
    assert re.search(r"[0-9](?:[ .\-]?[0-9]){2}", out) is None  # no run of 3 digits survives
    for part in re.split(r"[\s:/@.\-]+", canary):
        if len(part) >= 8:
            assert part not in out, part


def test_redact_everything_keeps_ordinary_words() -> None:
    assert redact_everything("The box was damaged in 2 places.") == "The box was damaged in 2 places."
    assert redact_everything("Order 12345 and call 555") == "Order [REDACTED] and call [REDACTED]"


def test_redact_everything_never_raises() -> None:
    assert redact_everything("") == ""
    assert redact_everything(cast(str, None)) == "None"
    assert redact_everything(cast(str, 4111111111111111)) == "[REDACTED]"
    assert "\ud800" in redact_everything("lone surrogate \ud800 ok")
