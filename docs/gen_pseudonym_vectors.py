#!/usr/bin/env python3
"""Generates docs/pseudonym-vectors.json: test vectors for the `pg2` pseudonymisation
scheme specified in docs/pseudonymisation.md.

This is an independent implementation of the scheme (Python standard library only:
hashlib, json, unicodedata). It shares no code with the Rust crate; the Rust
integration test tests/lib/pseudonym_vectors.rs checks the crate against its output.

    python3 docs/gen_pseudonym_vectors.py            # rewrite the vector file
    python3 docs/gen_pseudonym_vectors.py --check    # fail if the file is out of date

All BSNs are designated test numbers (999998523 and friends; 999998620 fails the
11-proof). All secrets are obviously fake byte ranges: never use them for real data.
"""

import hashlib
import hmac
import json
import math
import sys
import unicodedata
from decimal import Decimal
from pathlib import Path

OUT = Path(__file__).resolve().parent / "pseudonym-vectors.json"

SCHEME = "pg2"
MIN_SECRET_BYTES = 32
VALUE_TYPES = ("bsn", "name", "date", "postcode", "string", "text", "boolean", "number")

# Unicode White_Space (PropList.txt); Rust's `char::is_whitespace` and
# `str::split_whitespace` use exactly this set. Python's `str.isspace` and `str.split()`
# do NOT: they also treat U+001C..U+001F as white space.
WHITE_SPACE = frozenset(
    "\u0009\u000a\u000b\u000c\u000d\u0020\u0085\u00a0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)


class ValueProblem(Exception):
    """Why a value has no normalised form: "invalid-bsn" or "wrong-type"."""

    def __init__(self, problem):
        super().__init__(problem)
        self.problem = problem


# --- HMAC-SHA256, written out (RFC 2104) on top of hashlib.sha256 -----------------

BLOCK = 64  # SHA-256 block size in bytes


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    if len(key) > BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(BLOCK, b"\x00")
    inner = hashlib.sha256(bytes(k ^ 0x36 for k in key) + message).digest()
    return hashlib.sha256(bytes(k ^ 0x5C for k in key) + inner).digest()


# --- Normalisation -----------------------------------------------------------------


def normalise_bsn(raw: str) -> str:
    digits = raw.replace(" ", "").replace(".", "")  # U+0020 and U+002E only
    if len(digits) == 8:
        digits = "0" + digits
    if len(digits) != 9 or not all("0" <= c <= "9" for c in digits):
        raise ValueProblem("invalid-bsn")
    weights = (9, 8, 7, 6, 5, 4, 3, 2, -1)
    total = sum(w * (ord(c) - ord("0")) for w, c in zip(weights, digits))
    if total == 0 or total % 11 != 0:
        raise ValueProblem("invalid-bsn")
    return digits


def split_white_space(s: str):
    word = []
    for c in s:
        if c in WHITE_SPACE:
            if word:
                yield "".join(word)
                word = []
        else:
            word.append(c)
    if word:
        yield "".join(word)


def normalise_name(raw: str) -> str:
    nfc = unicodedata.normalize("NFC", raw)
    # str.lower is the Unicode full default lowercase mapping, with the Final_Sigma
    # condition, like Rust's str::to_lowercase.
    return " ".join(split_white_space(nfc)).lower()


def is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def valid_date(s: str) -> bool:
    # Strict YYYY-MM-DD, ASCII digits, proleptic Gregorian calendar, years 0000-9999.
    # (Python's datetime starts at year 1; the Rust implementation accepts year 0000.)
    if len(s) != 10 or s[4] != "-" or s[7] != "-":
        return False
    parts = (s[0:4], s[5:7], s[8:10])
    if not all(all("0" <= c <= "9" for c in p) for p in parts):
        return False
    year, month, day = (int(p) for p in parts)
    if not 1 <= month <= 12:
        return False
    days = [31, 29 if is_leap(year) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    return 1 <= day <= days[month - 1]


def serde_json_float(x: float) -> str:
    """A finite float as serde_json 1.0.154 prints it (shortest round-trip digits,
    fixed notation for decimal exponents -5..=15, else `d.ddde+X` / `de-X`).
    Implementation-defined: other JSON libraries print floats differently."""
    if x == 0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    sign = "-" if x < 0 else ""
    t = Decimal(repr(abs(x))).as_tuple()  # repr: shortest round-trip digits
    digits = "".join(str(d) for d in t.digits)
    stripped = digits.rstrip("0")
    exp = t.exponent + (len(digits) - len(stripped))  # value = stripped * 10**exp
    digits = stripped
    point = len(digits) - 1 + exp  # decimal exponent of the leading digit
    if -5 <= point <= 15:
        if exp >= 0:
            body = digits + "0" * exp + ".0"
        elif point >= 0:
            body = digits[: point + 1] + "." + digits[point + 1 :]
        else:
            body = "0." + "0" * (-point - 1) + digits
    else:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        body = mantissa + "e" + ("+" if point >= 0 else "-") + str(abs(point))
    return sign + body


def normalise_number(n) -> str:
    # serde_json keeps integers in [-2**63, 2**64 - 1] exactly; any other JSON number
    # (a fraction, an exponent, `-0`, a larger integer) becomes an f64.
    if isinstance(n, int) and -(2**63) <= n <= 2**64 - 1:
        return str(n)
    return serde_json_float(float(n))


def normalise(value_type: str, value) -> str:
    """The normalised value (the message body) of a JSON value (as json.loads gives it)."""
    if value_type == "boolean":
        if isinstance(value, bool):
            return "true" if value else "false"
        raise ValueProblem("wrong-type")
    if value_type == "number":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return normalise_number(value)
        raise ValueProblem("wrong-type")
    if not isinstance(value, str):
        raise ValueProblem("wrong-type")
    if value_type == "bsn":
        return normalise_bsn(value)
    if value_type == "name":
        return normalise_name(value)
    if value_type == "date":
        if not valid_date(value):
            raise ValueProblem("wrong-type")
        return value
    if value_type == "postcode":
        # str.upper: full default uppercase mapping per character (ß -> SS).
        return "".join(c for c in value if c not in WHITE_SPACE).upper()
    if value_type in ("string", "text"):
        return value
    raise ValueError(f"unknown value type {value_type}")


# --- The scheme ----------------------------------------------------------------------


def valid_key_id(key_id: str) -> bool:
    return (
        1 <= len(key_id) <= 64
        and all(c.isascii() and (c.isalnum() or c in "-_") for c in key_id)
    )


def valid_domain(domain: str) -> bool:
    group, _, name = domain.partition("/")
    ok = lambda part: part != "" and all(c in "abcdefghijklmnopqrstuvwxyz0123456789-" for c in part)
    return ok(group) and ok(name)


def message(domain: str, value_type: str, normalised: str) -> bytes:
    return b"\x00".join([
        SCHEME.encode("ascii"),
        domain.encode("ascii"),
        value_type.encode("ascii"),
        normalised.encode("utf-8"),
    ])


def pseudonym(domain: str, key_id: str, secret: bytes, value_type: str, normalised: str) -> str:
    assert valid_key_id(key_id) and len(secret) >= MIN_SECRET_BYTES
    assert valid_domain(domain) and value_type in VALUE_TYPES
    tag = hmac_sha256(secret, message(domain, value_type, normalised))
    return f"{SCHEME}:{key_id}:{tag.hex()}"


# --- Vectors -------------------------------------------------------------------------

# RFC 4231 section 4, HMAC-SHA-256 results (copied from the RFC, not computed).
RFC4231 = [
    ("Test Case 1", "0b" * 20, b"Hi There".hex(),
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", None),
    ("Test Case 2", b"Jefe".hex(), b"what do ya want for nothing?".hex(),
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", None),
    ("Test Case 3", "aa" * 20, "dd" * 50,
     "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe", None),
    ("Test Case 4", bytes(range(1, 26)).hex(), "cd" * 50,
     "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b", None),
    ("Test Case 5 (output truncated to 128 bits)", "0c" * 20,
     b"Test With Truncation".hex(), "a3b6167473100ee06e0c796c2955552b", 16),
    ("Test Case 6 (key larger than the block size)", "aa" * 131,
     b"Test Using Larger Than Block-Size Key - Hash Key First".hex(),
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", None),
    ("Test Case 7 (key and data larger than the block size)", "aa" * 131,
     b"This is a test using a larger than block-size key and a larger than "
     b"block-size data. The key needs to be hashed before being used by the "
     b"HMAC algorithm.".hex(),
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2", None),
]

# Fake secrets, as (domain, key id, secret). Domain drenthe/zvh-signalen: k1 (retired)
# and k2 (active); domain groningen/zvh-signalen: k1. FRIESLAND_SAME_SECRET is a
# misconfiguration on purpose: another domain under Drenthe's k1 secret and id.
DRENTHE_K1 = ("drenthe/zvh-signalen", "k1", bytes(range(0x00, 0x20)))
DRENTHE_K2 = ("drenthe/zvh-signalen", "k2", bytes(range(0x40, 0x60)))
GRONINGEN_K1 = ("groningen/zvh-signalen", "k1", bytes(range(0x20, 0x40)))
FRIESLAND_SAME_SECRET = ("friesland/ggd-advies", "k1", bytes(range(0x00, 0x20)))
# 80 bytes: HMAC hashes it first
LONG_KEY = ("drenthe/zvh-signalen", "2025-q1_long", bytes(range(0x60, 0xB0)))

D = DRENTHE_K1

PSEUDONYMS = [
    # bsn
    ("bsn: designated test number", "bsn", "999998523", D),
    ("bsn: spaces (U+0020) are removed", "bsn", "999 998 523", D),
    ("bsn: dots are removed", "bsn", "9999.98.523", D),
    ("bsn: leading and trailing spaces are removed", "bsn", "  999998523 ", D),
    ("bsn: designated test number", "bsn", "999998535", D),
    ("bsn: designated test number", "bsn", "999996708", D),
    ("bsn: designated test number, with dots and spaces", "bsn", "9999 92.934", D),
    ("bsn: designated test number", "bsn", "999995844", D),
    ("bsn: 8 digits are left-padded with one zero, then 11-proof", "bsn", "12345672", D),
    # key rotation and domain separation
    ("rotation: same BSN, drenthe/zvh-signalen, new active key k2", "bsn", "999998523", DRENTHE_K2),
    ("domain separation: same BSN, groningen/zvh-signalen key k1 (same id, other secret)",
     "bsn", "999998523", GRONINGEN_K1),
    ("domain separation: same name, groningen/zvh-signalen key k1", "name", "Jan de Vries", GRONINGEN_K1),
    ("rotation: same name, drenthe/zvh-signalen key k2", "name", "Jan de Vries", DRENTHE_K2),
    ("domain separation: same BSN, same key id and secret, another domain (friesland/ggd-advies)",
     "bsn", "999998523", FRIESLAND_SAME_SECRET),
    ("secret longer than the SHA-256 block (80 bytes), key id with - and _",
     "bsn", "999998523", LONG_KEY),
    # name
    ("name: lowercased", "name", "Jan de Vries", D),
    ("name: NFD input, mixed case, tabs, newline and double spaces",
     "name", "  Zoe\u0308\t\tDE  Vries\n", D),
    ("name: NFC input gives the same pseudonym as the NFD one", "name", "Zo\u00eb de Vries", D),
    ("name: no-break space and ideographic space are white space", "name", "Jan\u00a0de\u3000VRIES", D),
    ("name: U+FEFF, U+200B and U+001F are not Unicode White_Space and are kept",
     "name", "\ufeffJan\u200bde\u001fVries", D),
    ("name: full lowercase mapping (U+0130 becomes i + U+0307; no NFC afterwards)",
     "name", "\u0130lse \u00c7EL\u0130K", D),
    ("name: Greek capital sigma at the end of a word becomes final sigma",
     "name", "\u03a3\u03a9\u039a\u03a1\u0391\u03a4\u0397\u03a3 \u03a0\u0391\u03a0\u0391\u0394\u039f\u03a0\u039f\u03a5\u039b\u039f\u03a3", D),
    ("name: punctuation is kept", "name", "O'Brien-Smith, A.", D),
    ("name: only white space normalises to the empty string (all blank names link)", "name", " \t ", D),
    # date
    ("date: YYYY-MM-DD", "date", "1990-04-03", D),
    ("date: leap day", "date", "2024-02-29", D),
    ("date: leap day in a year divisible by 400", "date", "2000-02-29", D),
    # postcode
    ("postcode: space removed, uppercased", "postcode", "9401 ab", D),
    ("postcode: already normal", "postcode", "9401AB", D),
    ("postcode: any Unicode white space removed", "postcode", "\t9401\u00a0ab\n", D),
    ("postcode: not validated; full uppercase mapping (\u00df -> SS)", "postcode", "stra\u00dfe 1", D),
    # string and text
    ("string: as given", "string", "Zaak 2025-0042", D),
    ("string: not normalised (NFD stays NFD)", "string", "Zoe\u0308", D),
    ("string: NFC differs from NFD", "string", "Zo\u00eb", D),
    ("string: a BSN as a string pseudonymises differently from the bsn type", "string", "999998523", D),
    ("text: as given, white space kept", "text", " Regel 1\nRegel 2  ", D),
    ("text: same characters as a string, other type name in the message", "text", "Zaak 2025-0042", D),
    # boolean
    ("boolean: true", "boolean", True, D),
    ("boolean: false", "boolean", False, D),
    # number
    ("number: integer", "number", 42, D),
    ("number: negative integer", "number", -7, D),
    ("number: zero", "number", 0, D),
    ("number: largest u64", "number", 2**64 - 1, D),
    ("number: float 1.0 prints as 1.0, unlike the integer 1 (float text is implementation-defined)",
     "number", 1.0, D),
    ("number: integer 1", "number", 1, D),
    ("number: float (implementation-defined text)", "number", 2.5, D),
    ("number: float with exponent (implementation-defined text: serde_json 1.0.154 prints 1e+21)",
     "number", 1e21, D),
]

INVALID = [
    ("bsn: fails the 11-proof", "bsn", "999998620", "invalid-bsn"),
    ("bsn: weighted sum 0", "bsn", "000000000", "invalid-bsn"),
    ("bsn: weighted sum 0 though divisible by 11 (2*1 - 2)", "bsn", "000000012", "invalid-bsn"),
    ("bsn: 8 zeros, padded to 000000000", "bsn", "00000000", "invalid-bsn"),
    ("bsn: 8 digits failing the 11-proof after padding", "bsn", "12345673", "invalid-bsn"),
    ("bsn: 10 digits", "bsn", "9999985230", "invalid-bsn"),
    ("bsn: 7 digits", "bsn", "9999985", "invalid-bsn"),
    ("bsn: letters", "bsn", "99999852A", "invalid-bsn"),
    ("bsn: prefix", "bsn", "BSN999998523", "invalid-bsn"),
    ("bsn: dashes are not removed", "bsn", "999-998-523", "invalid-bsn"),
    ("bsn: tabs are not removed (only U+0020 and .)", "bsn", "999\t998523", "invalid-bsn"),
    ("bsn: no-break spaces are not removed", "bsn", "999\u00a0998\u00a0523", "invalid-bsn"),
    ("bsn: fullwidth digits", "bsn", "\uff19\uff19\uff19\uff19\uff19\uff18\uff15\uff12\uff13", "invalid-bsn"),
    ("bsn: empty", "bsn", "", "invalid-bsn"),
    ("bsn: a JSON number is not a BSN", "bsn", 999998523, "wrong-type"),
    ("bsn: null", "bsn", None, "wrong-type"),
    ("date: not YYYY-MM-DD", "date", "03/04/1990", "wrong-type"),
    ("date: not a calendar date", "date", "2023-02-30", "wrong-type"),
    ("date: 1900 is not a leap year", "date", "1900-02-29", "wrong-type"),
    ("date: month 13", "date", "2023-13-01", "wrong-type"),
    ("date: digits not zero-padded", "date", "1990-4-3", "wrong-type"),
    ("date: a date-time is not a date", "date", "1990-04-03T00:00:00Z", "wrong-type"),
    ("date: surrounding white space", "date", " 1990-04-03", "wrong-type"),
    ("date: a JSON number", "date", 19900403, "wrong-type"),
    ("name: a JSON number", "name", 42, "wrong-type"),
    ("name: an array", "name", ["Jan"], "wrong-type"),
    ("name: null", "name", None, "wrong-type"),
    ("postcode: a JSON number", "postcode", 9401, "wrong-type"),
    ("string: a JSON number", "string", 42, "wrong-type"),
    ("text: an object", "text", {"text": "x"}, "wrong-type"),
    ("boolean: a string", "boolean", "true", "wrong-type"),
    ("boolean: a number", "boolean", 1, "wrong-type"),
    ("number: a string", "number", "42", "wrong-type"),
    ("number: a boolean", "number", True, "wrong-type"),
]


def self_check():
    # The hand-written HMAC against the RFC and against Python's hmac module.
    for _, key, data, expected, truncate in RFC4231:
        tag = hmac_sha256(bytes.fromhex(key), bytes.fromhex(data))
        assert tag == hmac.new(bytes.fromhex(key), bytes.fromhex(data), hashlib.sha256).digest()
        assert tag[: truncate or 32].hex() == expected, key
    assert serde_json_float(1e16) == "1e+16" and serde_json_float(1e15) == "1000000000000000.0"
    assert serde_json_float(1e-6) == "1e-6" and serde_json_float(1e-5) == "0.00001"
    assert serde_json_float(-0.0) == "-0.0" and serde_json_float(1.5e-7) == "1.5e-7"
    assert serde_json_float(2.0**64) == "1.8446744073709552e+19"
    assert normalise_bsn("12345672") == "012345672"
    assert not valid_date("2023-02-30") and valid_date("2024-02-29") and valid_date("0000-02-29")


def build():
    self_check()
    doc = {"scheme": SCHEME, "hmac_sha256": [], "pseudonyms": [], "invalid": []}
    for description, key, data, expected, truncate in RFC4231:
        case = {"description": description, "key": key, "data": data, "expected": expected}
        if truncate is not None:
            case["truncate_bytes"] = truncate
        doc["hmac_sha256"].append(case)
    for description, value_type, value, (domain, key_id, secret) in PSEUDONYMS:
        normalised = normalise(value_type, value)
        doc["pseudonyms"].append({
            "description": description,
            "domain": domain,
            "type": value_type,
            "input": value,
            "key_id": key_id,
            "secret_hex": secret.hex(),
            "normalised": normalised,
            "pseudonym": pseudonym(domain, key_id, secret, value_type, normalised),
        })
    for description, value_type, value, problem in INVALID:
        try:
            normalise(value_type, value)
        except ValueProblem as e:
            assert e.problem == problem, (description, e.problem)
        else:
            raise AssertionError(f"{description}: expected {problem}")
        doc["invalid"].append(
            {"description": description, "type": value_type, "input": value, "problem": problem})
    # Pseudonyms are equal exactly when domain, type, normalised value, key id and
    # secret are.
    seen = {}
    for v in doc["pseudonyms"]:
        ident = (v["domain"], v["type"], v["normalised"], v["key_id"], v["secret_hex"])
        assert seen.setdefault(v["pseudonym"], ident) == ident, v["description"]
    # ensure_ascii: escapes keep NFD/NFC and invisible characters intact in any editor.
    return json.dumps(doc, indent=2, ensure_ascii=True) + "\n"


def main():
    text = build()
    if "--check" in sys.argv[1:]:
        if OUT.read_text(encoding="utf-8") != text:
            sys.exit(f"{OUT} is out of date: run python3 {Path(__file__).name}")
        print(f"{OUT.name} is up to date")
        return
    OUT.write_text(text, encoding="utf-8")
    doc = json.loads(text)
    print(f"wrote {OUT}: {len(doc['hmac_sha256'])} HMAC, {len(doc['pseudonyms'])} pseudonym, "
          f"{len(doc['invalid'])} invalid vectors")


if __name__ == "__main__":
    main()
