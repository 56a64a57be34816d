"""Find and redact personal information (PII) in transcript text.

Detected:
- EMAIL: written addresses ("jo@example.com"), and addresses as speech recognition spells them out ("jo dot smith
  at gmail dot com"), only when a known top-level domain follows the last "dot";
- PHONE: numbers the `phonenumbers` library finds valid for the session's region (organisations' toll-free,
  premium and shared-cost lines excepted), and exactly ten spoken digits in North American regions;
- NATIONAL_ID: US Social Security numbers, UK National Insurance numbers;
- CARD: payment card numbers, and IBANs (detail "iban");
- ADDRESS: US street addresses (number, capitalised street name, street suffix, optional unit, city, state and
  ZIP) and full UK postcodes;
- NAME: names from a list the tenant provides.

Why checksums and validity rules are required: counseling transcripts are full of numbers (ages, dates, times,
money, doses, days sober), and a redactor that hides them destroys the session for its reviewer. So a number is
reported only when it passes the test its issuer built into it: the Luhn check plus a card network's prefix and
length for cards, mod 97 for IBANs, the SSA's allocation rules for SSNs (with separators, or right after
"social security"/"SSN" for a bare nine-digit run), HMRC's prefix rules for NI numbers, and the numbering plan
for phone numbers. A random digit run passes a checksum about once in ten (Luhn) or once in 97 (IBAN), and the
prefix and length rules cut that further.

Pure: no I/O and no settings; `redact_segments` returns copies and leaves its input unchanged.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Iterator, Sequence
from copy import deepcopy
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import chain
from typing import Any

from phonenumbers import Leniency, PhoneNumberMatcher, PhoneNumberType, number_type


class PiiKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    NATIONAL_ID = "national_id"
    CARD = "card"
    ADDRESS = "address"
    NAME = "name"

    @property
    def placeholder(self) -> str:
        return f"[{self.name}]"


# Of two equally long overlapping detections, the kind found by the stricter test wins: a checksum beats a
# format, and a format beats a list lookup.
_PRIORITY = {PiiKind.CARD: 0, PiiKind.NATIONAL_ID: 1, PiiKind.EMAIL: 2, PiiKind.PHONE: 3, PiiKind.ADDRESS: 4,
             PiiKind.NAME: 5}


@dataclass(frozen=True)
class PiiSpan:
    """`text[start:end]` of the scanned text is PII of `kind`; `detail` names the rule that found it."""

    start: int
    end: int
    kind: PiiKind
    text: str = field(repr=False)  # kept out of repr so that a logged span does not leak what it hides
    detail: str

    @classmethod
    def of_match(cls, match: re.Match[str], kind: PiiKind, detail: str) -> PiiSpan:
        return cls(match.start(), match.end(), kind, match.group(), detail)


def detect_pii(text: str, names: Iterable[str] = (), *, region: str = "US") -> list[PiiSpan]:
    """PII in `text`, sorted by start and non-overlapping: of overlapping detections the longer wins, then the
    kind by priority CARD > NATIONAL_ID > EMAIL > PHONE > ADDRESS > NAME. `region` (ISO 3166, e.g. "US", "GB")
    is where phone numbers written without a country code are dialled."""
    return _resolve_overlaps(chain(find_cards(text), find_national_ids(text), find_emails(text),
                                   find_phones(text, region), find_addresses(text), find_names(text, names)))


def redact_text(text: str, spans: Sequence[PiiSpan]) -> str:
    """`text` with each span replaced by its kind's placeholder ("[EMAIL]", ...).

    Spans must not overlap and must have been found in this very text: a span whose `text` differs from what sits
    at its offsets belongs to another text, and redacting by its offsets would hide the wrong words.
    """
    pieces: list[str] = []
    cursor = 0
    for span in sorted(spans, key=lambda s: s.start):
        if span.start < cursor:
            raise ValueError(f"overlapping spans at offset {span.start}")
        if text[span.start:span.end] != span.text:
            raise ValueError(f"span {span.start}-{span.end} ({span.kind}) does not match the text at its offsets")
        pieces += [text[cursor:span.start], span.kind.placeholder]
        cursor = span.end
    pieces.append(text[cursor:])
    return "".join(pieces)


def redact_segments(segments: list[dict[str, Any]], names: Iterable[str] = (),
                    region: str = "US") -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Copies of transcript segments with the PII in "text" replaced by placeholders, and one finding per
    redaction.

    A finding is JSON-able and holds no PII, since findings are stored beside the redacted transcript:
    `{"segment": index, "start": ..., "end": ..., "kind": "email", "detail": "address", "placeholder": "[EMAIL]",
    "fingerprint": "..."}`, with character offsets into the segment's original text, and as fingerprint the first
    12 hex digits of an HMAC-SHA-256 of the hidden text under a key made for this call and then forgotten: a
    reviewer can tell whether two findings of one transcript hide the same thing, and nobody can recover what they
    hide by hashing every possible SSN or phone number, as a plain hash would allow. Other keys are copied unchanged,
    including word-level keys such as "words", which still hold the text.
    """
    names = tuple(names)  # read once, used for every segment
    key = secrets.token_bytes(32)
    redacted: list[dict[str, Any]] = []
    findings: list[dict[str, Any]] = []
    for index, segment in enumerate(segments):
        text = segment.get("text") or ""
        spans = detect_pii(text, names, region=region)
        copy = deepcopy(segment)
        copy["text"] = redact_text(text, spans)
        redacted.append(copy)
        findings += [_finding(index, span, key) for span in spans]
    return redacted, findings


def _finding(segment_index: int, span: PiiSpan, key: bytes) -> dict[str, Any]:
    return {"segment": segment_index, "start": span.start, "end": span.end, "kind": span.kind.value,
            "detail": span.detail, "placeholder": span.kind.placeholder,
            "fingerprint": hmac.new(key, span.text.encode(), hashlib.sha256).hexdigest()[:12]}


def _resolve_overlaps(spans: Iterable[PiiSpan]) -> list[PiiSpan]:
    chosen: list[PiiSpan] = []
    for span in sorted(spans, key=lambda s: (s.start - s.end, _PRIORITY[s.kind], s.start)):
        if all(span.end <= kept.start or span.start >= kept.end for kept in chosen):
            chosen.append(span)
    return sorted(chosen, key=lambda s: s.start)


# --- Payment cards and IBANs ---------------------------------------------------------------------------------

# Digit groups joined by single spaces or dashes, as card numbers are written and read out.
_DIGIT_GROUPS = re.compile(r"(?<![\d-])\d+(?:[ -]\d+)*(?!\d)")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{1,4}){2,9}\b", re.IGNORECASE)
# ISO 13616 registry: each country's IBANs have one fixed length.
_IBAN_LENGTHS = {entry[:2]: int(entry[2:]) for entry in (
    "AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DK18 DO28 EE20 EG29 ES24 "
    "FI18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 IE22 IL23 IQ23 IS26 IT27 JO30 KW30 KZ20 LB28 LC32 "
    "LI21 LT20 LU20 LV21 LY25 MC27 MD24 ME22 MK19 MR27 MT31 MU30 NL18 NO15 PK24 PL28 PS29 PT25 QA29 RO24 RS22 "
    "SA24 SC31 SD18 SE24 SI19 SK24 SM27 ST25 SV28 TL23 TN24 TR26 UA29 VA22 VG24 XK20").split()}


def find_cards(text: str) -> Iterator[PiiSpan]:
    for run in _DIGIT_GROUPS.finditer(text):
        end = _card_end(run)
        if end is not None:
            yield PiiSpan(run.start(), end, PiiKind.CARD, text[run.start():end], "luhn")
    for match in _IBAN.finditer(text):
        end = _iban_end(match)
        if end is not None:
            yield PiiSpan(match.start(), end, PiiKind.CARD, text[match.start():end], "iban")


def passes_luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def card_network(digits: str) -> str | None:
    """The network whose prefix (IIN) and length the number has: Visa, Mastercard, Amex or Discover."""
    length = len(digits)
    if digits.startswith("4") and length in (13, 16, 19):
        return "visa"
    if (51 <= int(digits[:2]) <= 55 or 2221 <= int(digits[:4]) <= 2720) and length == 16:
        return "mastercard"
    if digits[:2] in ("34", "37") and length == 15:
        return "amex"
    if digits.startswith(("6011", "65")) and 16 <= length <= 19:
        return "discover"
    return None


def passes_iban_checksum(iban: str) -> bool:
    """ISO 7064 mod 97-10: country and check digits moved to the end, letters read as 10..35, remainder 1."""
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def _card_end(run: re.Match[str]) -> int | None:
    """End offset of the longest leading run of whole groups that is a card number; trailing groups (an expiry
    date, a security code) may follow it."""
    groups = list(re.finditer(r"\d+", run.group()))
    for count in range(len(groups), 0, -1):
        digits = "".join(group.group() for group in groups[:count])
        if 13 <= len(digits) <= 19 and passes_luhn(digits) and card_network(digits):
            return run.start() + groups[count - 1].end()
    return None


def _iban_end(match: re.Match[str]) -> int | None:
    """End offset of the IBAN the match starts with: as long as its country's IBANs, ending where a group ends."""
    raw = match.group()
    length = _IBAN_LENGTHS.get(raw[:2].upper())
    compact = raw.replace(" ", "").upper()
    if length is None or len(compact) < length or not passes_iban_checksum(compact[:length]):
        return None
    seen = 0
    for offset, char in enumerate(raw):
        seen += char != " "
        if seen == length:
            cut = offset + 1
            return match.start() + cut if cut == len(raw) or raw[cut] == " " else None
    return None


# --- National identifiers ------------------------------------------------------------------------------------

# Separated SSNs (123-45-6789, 123 45 6789), one separator throughout, not part of a longer digit run.
_SSN_SEPARATED = re.compile(r"(?<!\d)(?<!\d[- ])(\d{3})([- ])(\d{2})\2(\d{4})(?![- ]?\d)")
_BARE_NINE_DIGITS = re.compile(r"(?<![\d-])(\d{3})(\d{2})(\d{4})(?![\d-])")
# A bare nine-digit run is an SSN only right after someone names it: "my social security number is 123456789".
_SSN_CONTEXT = re.compile(r"(?:social\s+security|\bssn)\b\D{0,20}$", re.IGNORECASE)
# HMRC: first letter not D F I Q U V, second not D F I O Q U V, and BG GB KN NK NT TN ZZ are never issued.
_NINO = re.compile(r"\b(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b",
                   re.IGNORECASE)


def find_national_ids(text: str) -> Iterator[PiiSpan]:
    for match in _SSN_SEPARATED.finditer(text):
        if is_valid_ssn(match[1], match[3], match[4]):
            yield PiiSpan.of_match(match, PiiKind.NATIONAL_ID, "us_ssn")
    for match in _BARE_NINE_DIGITS.finditer(text):
        if is_valid_ssn(match[1], match[2], match[3]) and _SSN_CONTEXT.search(text[:match.start()][-40:]):
            yield PiiSpan.of_match(match, PiiKind.NATIONAL_ID, "us_ssn")
    for match in _NINO.finditer(text):
        yield PiiSpan.of_match(match, PiiKind.NATIONAL_ID, "uk_nino")


def is_valid_ssn(area: str, group: str, serial: str) -> bool:
    """The SSA never issues area 000, 666 or 900-999, group 00 or serial 0000."""
    return area not in ("000", "666") and not area.startswith("9") and group != "00" and serial != "0000"


# --- Email addresses -----------------------------------------------------------------------------------------

_EMAIL = re.compile(r"(?<![\w.%+])\w[\w.%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])")
# "john dot smith at gmail dot com": only with " dot <known top-level domain>" at the end, which ordinary
# sentences with "at" in them do not have.
_TLDS = "com|net|org|edu|gov|io|co|us|uk|ca|au|de|info|biz"
_WORD = r"[a-z0-9]+"
_SPOKEN_EMAIL = re.compile(
    rf"\b(?P<mailbox>{_WORD}(?:(?:\s+(?:dot|underscore|dash|hyphen)\s+|[._-]){_WORD}){{0,3}})\s+at\s+"
    rf"{_WORD}(?:(?:\s+dot\s+|\.){_WORD}){{0,2}}\s+dot\s+(?:{_TLDS})\b", re.IGNORECASE)
# Words that stand before "at" in "I bought it at amazon dot com": such a one-word mailbox is not one.
_NOT_A_MAILBOX = frozenset(
    "i me you he she it we they him her us them this that these those one is am are was were be been being look "
    "looked looking work works worked working stay stayed shop shopped buy bought order ordered online up out "
    "there here something anything everything stuff".split())


def find_emails(text: str) -> Iterator[PiiSpan]:
    for match in _EMAIL.finditer(text):
        yield PiiSpan.of_match(match, PiiKind.EMAIL, "address")
    for match in _SPOKEN_EMAIL.finditer(text):
        if match["mailbox"].lower() not in _NOT_A_MAILBOX:
            yield PiiSpan.of_match(match, PiiKind.EMAIL, "spoken")


# --- Phone numbers -------------------------------------------------------------------------------------------

# Organisations' lines (crisis lines, helplines, businesses) are not a person's number, and a reviewer needs to
# see that a counselor gave one.
_ORGANISATION_LINES = frozenset({PhoneNumberType.TOLL_FREE, PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST})
_CLOSING_BRACKET = {"(": ")", "[": "]"}
_DIGIT_WORDS = {"zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
                "seven": "7", "eight": "8", "nine": "9"}
_ANY_DIGIT_WORD = "|".join(_DIGIT_WORDS)
# A run of spoken digits; not starting with "oh", which is more often an interjection ("Oh, five five five").
_SPOKEN_DIGITS = re.compile(rf"\b(?!oh\b)(?:{_ANY_DIGIT_WORD})(?:[\s,-]+(?:{_ANY_DIGIT_WORD}))*\b", re.IGNORECASE)
# How many spoken digits make a phone number, by region; other regions get no spoken-digit detection.
_SPOKEN_PHONE_LENGTH = {"US": 10, "CA": 10}


def find_phones(text: str, region: str) -> Iterator[PiiSpan]:
    for found in PhoneNumberMatcher(text, region.upper(), leniency=Leniency.VALID):
        if number_type(found.number) not in _ORGANISATION_LINES:
            start, raw = found.start, found.raw_string
            # The matcher keeps an opening bracket whose partner is missing, as in "[1-800-...](http:...)".
            if raw[0] in _CLOSING_BRACKET and _CLOSING_BRACKET[raw[0]] not in raw:
                start, raw = start + 1, raw[1:]
            yield PiiSpan(start, start + len(raw), PiiKind.PHONE, raw, "phonenumbers")
    length = _SPOKEN_PHONE_LENGTH.get(region.upper())
    for match in _SPOKEN_DIGITS.finditer(text) if length else ():
        digits = [_DIGIT_WORDS[word.lower()] for word in re.findall(r"[a-z]+", match.group(), re.IGNORECASE)]
        # A North American area code never starts with 0 or 1, which also rules out counting "one two three...".
        if len(digits) == length and digits[0] not in "01":
            yield PiiSpan.of_match(match, PiiKind.PHONE, "spoken")


# --- Postal addresses ----------------------------------------------------------------------------------------

# "Dr" and "St" before a capitalised word are titles ("2 Weeks Dr Smith", "St Mary's"), not street suffixes.
_STREET_SUFFIX = (r"Street|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|(?:Dr|St)(?!\.?\s+[A-Z][a-z])|Court|Ct|"
                  "Way|Place|Pl|Terrace|Ter|Circle|Cir|Parkway|Pkwy|Highway|Hwy|Square|Sq|Trail|Trl|Loop|Alley|Plaza")
_US_STATE = ("AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|"
             "ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY")
# Street-name words must be capitalised and followed by a street suffix, so that "5 miles down the road" and
# "at 5 I drive" are not addresses.
_CAPITALISED = r"[A-Z][a-zA-Z'-]*[a-z]"
_US_STREET_ADDRESS = re.compile(
    r"(?<![\w$.,:/-])\d{1,6}(?:-\d{1,4})?[A-Z]?\s+"
    r"(?:(?:N|S|E|W|NE|NW|SE|SW|North|South|East|West)\.?\s+)?"
    rf"(?:{_CAPITALISED}|\d{{1,3}}(?:st|nd|rd|th))(?:\s+{_CAPITALISED}){{0,3}}\s+(?:{_STREET_SUFFIX})\b"
    r"(?:\.?,?\s+(?i:apt|apartment|unit|suite|ste)\.?\s*#?\s*(?:\d+[A-Za-z]?|[A-Za-z]\d*)\b|\.?,?\s*#\s?\d+[A-Za-z]?\b)?"
    rf"(?:\.?,?\s+{_CAPITALISED}(?:\s+{_CAPITALISED}){{0,2}},?\s+(?:{_US_STATE})\b(?:\s+\d{{5}}(?:-\d{{4}})?\b)?)?")
# Royal Mail's full postcode (outward and inward code), in capitals.
_UK_POSTCODE = re.compile(r"\b[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2}\b")


def find_addresses(text: str) -> Iterator[PiiSpan]:
    for match in _US_STREET_ADDRESS.finditer(text):
        yield PiiSpan.of_match(match, PiiKind.ADDRESS, "us_street")
    for match in _UK_POSTCODE.finditer(text):
        yield PiiSpan.of_match(match, PiiKind.ADDRESS, "uk_postcode")


# --- Names ---------------------------------------------------------------------------------------------------

def find_names(text: str, names: Iterable[str]) -> Iterator[PiiSpan]:
    """Whole-word, case-insensitive matches of the listed names; a multi-word name matches across any spacing."""
    pattern = names_pattern(names)
    if pattern is not None:
        for match in pattern.finditer(text):
            yield PiiSpan.of_match(match, PiiKind.NAME, "list")


def names_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern for the whole list, None when it holds no names; longest names first, so that "Jane Doe" is
    taken whole rather than as "Jane"."""
    if isinstance(names, str):
        # A bare string would be read letter by letter, and every single letter would become a name.
        raise TypeError("names must be a collection of names, not one string")
    spellings = {tuple(name.lower().split()) for name in names if name.strip()}
    if not spellings:
        return None
    alternatives = [r"\s+".join(map(re.escape, words)) for words in sorted(spellings, key=lambda w: -len(" ".join(w)))]
    # Lookarounds rather than \b: a name may start or end with a non-word character ("J.", "(MJ)").
    return re.compile(rf"(?<!\w)(?:{'|'.join(alternatives)})(?!\w)", re.IGNORECASE)
