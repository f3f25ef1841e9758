#!/usr/bin/env python3
"""Independent verifier for privacy-gate audit logs (format 2, docs/audit-log.md).

Standard library only. It implements the specification in docs/audit-log.md and
does not call, import or share code with the Rust crate, so that it can serve as a
second opinion on a log.

    python3 verify_audit_log.py LOG KEYS
    python3 verify_audit_log.py LOG KEYS --checkpoint CHECKPOINT
    python3 verify_audit_log.py LOG KEYS --json
    python3 verify_audit_log.py LOG KEYS --find-records RECORDS.jsonl
    python3 verify_audit_log.py LOG KEYS --find-subject BSN

KEYS is a privacy-gate key file; only its `audit` member is used (and checked), so an
auditor's copy may hold nothing else: {"audit": {"active": "k1", "keys": {"k1": "<hex>"}}}.

Only each line's framing is interpreted (v, seq, time, prev, kind, seal); the rest of a
line is covered by its seal. Known difference from the Rust verifier: a sealed line
nested deeper than Python's recursion limit (about 1000 levels, which no writer
produces) is reported here as edited.

Exit status: 0 the log is intact (and matches the checkpoint, if one was given);
1 the log is damaged (the first bad entry is printed); 2 a file could not be used.
"""

import argparse
import hashlib
import hmac
import json
import sys

FORMAT = 2
ZERO_HASH = bytes(32)
SEAL_MEMBER = b',"seal":"'
SEQ_MEMBER = b',"seq":'
SEAL = b"pg-audit-seal"
INPUT = b"pg-audit-input"
OUTPUT = b"pg-audit-output"
SUBJECT = b"pg-audit-subject"
CHECKPOINT = b"pg-audit-checkpoint"
MAX_DEPTH = 16  # nesting limit of the strict reader (key files use 8)
U64_MAX = 2**64 - 1
HEXDIGITS = b"0123456789abcdefABCDEF"


class Unusable(Exception):
    """A key file or checkpoint that cannot be used at all (exit 2)."""


class Damage(Exception):
    """The first bad entry: 1-based number, byte offset of its line, kind, detail."""

    def __init__(self, entry, offset, kind, detail, entry_kind=None):
        super().__init__(detail)
        self.entry, self.offset, self.kind, self.detail = entry, offset, kind, detail
        self.entry_kind = entry_kind

    def as_json(self):
        return {"entry": self.entry, "offset": self.offset, "kind": self.kind, "detail": self.detail}

    def __str__(self):
        what = f" [a `{self.entry_kind}` entry]" if self.entry_kind else ""
        return f"entry {self.entry} (byte offset {self.offset}): {self.kind}: {self.detail}{what}"


# --- JSON: strict (key files, checkpoints, reports) and framing (log lines) -----------


class _NotStrict(ValueError):
    pass


def _pairs(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise _NotStrict("duplicate key")
        obj[key] = value
    return obj


def _number_int(text):
    # A negative integer (even -0) is not an unsigned integer: keep it apart as a float.
    if text.startswith("-"):
        return _number_float(text)
    n = int(text)
    return n if n <= U64_MAX else _number_float(text)


def _number_float(text):
    f = float(text)
    if f in (float("inf"), float("-inf")):
        raise _NotStrict("number out of range")
    return f


def _reject_constant(name):
    raise _NotStrict(f"{name} is not JSON")


def _check(value, level):
    """Nesting and string rules of the reader: no lone surrogates; a value nested 16
    levels deep may only be a scalar or an empty object."""
    if isinstance(value, str):
        if any("\ud800" <= c <= "\udfff" for c in value):
            raise _NotStrict("lone surrogate")
    elif isinstance(value, list):
        if level >= MAX_DEPTH:
            raise _NotStrict("too deep")
        for item in value:
            _check(item, level + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            if level >= MAX_DEPTH:
                raise _NotStrict("too deep")
            _check(key, level + 1)
            _check(item, level + 1)


def parse_strict(raw, max_depth=MAX_DEPTH):
    """One JSON value from bytes, or None: invalid UTF-8, duplicate keys, NaN or
    Infinity, numbers out of range, lone surrogates and excessive nesting fail."""
    try:
        text = raw.decode("utf-8")
        value = json.loads(
            text,
            object_pairs_hook=_pairs,
            parse_int=_number_int,
            parse_float=_number_float,
            parse_constant=_reject_constant,
        )
        _check(value, MAX_DEPTH - max_depth)
        return value
    except (ValueError, RecursionError):
        return None


FRAME = ("v", "seq", "time", "prev", "kind")


class _Object(dict):
    """A parsed object that remembers which member names it held more than once."""

    dups = frozenset()


def _pairs_noting_duplicates(pairs):
    obj, dups = _Object(), set()
    for key, value in pairs:
        if key in obj:
            dups.add(key)
        obj[key] = value
    obj.dups = frozenset(dups)
    return obj


def _number_lenient(text):
    # Numbers outside the framing are not interpreted; only v and seq must be integers.
    if text.startswith("-") or len(text) > 20:
        return float(text)
    return int(text)


def _has_surrogate(text):
    return any("\ud800" <= c <= "\udfff" for c in text)


def _uint(value, limit):
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= limit


def parse_frame(raw):
    """The framing members of a line, or None when the line is not an entry.

    A line is an entry when it is one JSON text (RFC 8259 syntax: no NaN or Infinity,
    no control characters in strings) whose top-level object holds `v` (an integer
    0..2^32-1), `seq` (an integer 0..2^64-1), `time`, `prev` and `kind` (strings),
    each exactly once. The other members are covered by the seal but not interpreted:
    their strings need not even be valid UTF-8. Top-level member names and the framing
    strings must be valid Unicode (no invalid UTF-8, no lone surrogate escapes).
    """
    if not raw.startswith(b'{"v":'):
        return None  # an entry is an object whose first member is `v`
    try:
        value = json.loads(
            raw.decode("utf-8", "surrogateescape"),
            object_pairs_hook=_pairs_noting_duplicates,
            parse_int=_number_lenient,
            parse_float=float,
            parse_constant=_reject_constant,
        )
    except (ValueError, RecursionError):
        return None
    if isinstance(value, dict):
        if any(_has_surrogate(k) for k in value) or value.dups & set(FRAME):
            return None
        if any(k not in value for k in FRAME):
            return None
        values = [value[k] for k in FRAME]
    else:
        return None
    v, seq, time, prev, kind = values
    if not _uint(v, 2**32 - 1) or not _uint(seq, U64_MAX):
        return None
    if not all(isinstance(t, str) and not _has_surrogate(t) for t in (time, prev, kind)):
        return None
    return dict(zip(FRAME, values))


def as_u64(value):
    """An unsigned 64-bit integer, or None (floats such as 1.0 and booleans are not)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= U64_MAX:
        return value
    return None


LOWER_HEX = [bytes([c]) for c in b"0123456789abcdef"]


def decode_hex32(text):
    """32 bytes from 64 lowercase hex digits, or None."""
    if not isinstance(text, str):
        return None
    raw = text.encode("utf-8")
    if len(raw) != 64:
        return None
    out = bytearray()
    for i in range(0, 64, 2):
        hi, lo = raw[i : i + 1], raw[i + 1 : i + 2]
        if lo not in LOWER_HEX or hi not in LOWER_HEX:
            return None
        out.append(int(hi + lo, 16))
    return bytes(out)


# --- keys ----------------------------------------------------------------------------


def _valid_key_id(key_id):
    return (
        0 < len(key_id) <= 64
        and all(c.isascii() and (c.isalnum() or c in "-_") for c in key_id)
    )


def load_audit_keys(path):
    """{key id: secret bytes} of the key file's `audit` key set, and the active id."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise Unusable(f"{path}: cannot read key file: {e.strerror}")
    top = parse_strict(raw, max_depth=8)
    if not isinstance(top, dict):
        raise Unusable(f"{path}: not a valid key file (a strict JSON object)")
    unknown = set(top) - {"domains", "audit"}
    if unknown:
        raise Unusable(f"{path}: unknown member(s) {sorted(unknown)}: expected `domains` or `audit`")
    audit = top.get("audit")
    if audit is None:
        raise Unusable(f"{path}: the key file has no `audit` key set")
    if not isinstance(audit, dict) or set(audit) != {"active", "keys"}:
        raise Unusable(f"{path}: `audit` must be an object with exactly `active` and `keys`")
    active, keys = audit["active"], audit["keys"]
    if not isinstance(active, str) or not isinstance(keys, dict):
        raise Unusable(f"{path}: `audit.active` must be a string and `audit.keys` an object")
    secrets = {}
    for key_id, text in keys.items():
        if not _valid_key_id(key_id):
            raise Unusable(f"{path}: invalid audit key id (ASCII letters, digits, `-`, `_`)")
        if (
            not isinstance(text, str)
            or len(text) % 2
            or not all(c in "0123456789abcdefABCDEF" for c in text)
        ):
            raise Unusable(f"{path}: audit key `{key_id}`: the secret is not valid hex")
        secret = bytes.fromhex(text)
        if len(secret) < 32:
            raise Unusable(f"{path}: audit key `{key_id}`: at least 32 bytes are required")
        secrets[key_id] = secret
    if active not in secrets:
        raise Unusable(f"{path}: the active audit key is not among the keys")
    return secrets, active


def tag(secret, prefix, message):
    """HMAC-SHA256(secret, prefix || 0x00 || message)."""
    return hmac.new(secret, prefix + b"\x00" + message, hashlib.sha256).digest()


# --- lines ---------------------------------------------------------------------------


def torn_tail(data):
    """Offset where an incomplete last line starts, or None when the file ends in \\n."""
    if not data or data.endswith(b"\n"):
        return None
    return data.rfind(b"\n") + 1


def split_seal(line):
    """(sealed bytes, key id, tag) when the line ends in a well-formed seal member."""
    at = line.rfind(SEAL_MEMBER)
    if at < 0:
        return None
    rest = line[at + len(SEAL_MEMBER) :]
    if not rest.endswith(b'"}'):
        return None
    try:
        seal = rest[:-2].decode("utf-8")
    except UnicodeDecodeError:
        return None
    if ":" not in seal:
        return None
    key_id, tag_hex = seal.split(":", 1)
    mac = decode_hex32(tag_hex)
    if mac is None:
        return None
    return line[:at] + b"}", key_id, mac


def body_bytes(line):
    """A plan's body: from `"kind":` up to (not including) the framing members after it."""
    start, end = line.find(b'"kind":'), line.rfind(SEQ_MEMBER)
    if start < 0 or end < 0 or end < start:
        return None
    return line[start:end]


def _printable(key_id):
    ok = len(key_id) <= 64 and all(c.isascii() and (c.isalnum() or c in "-_") for c in key_id)
    return key_id if ok else "<unprintable>"


class Line:
    __slots__ = ("raw", "offset", "frame", "_value")

    def __init__(self, raw, offset):
        self.raw, self.offset = raw, offset
        self.frame = parse_frame(raw)
        self._value = None

    def seq(self):
        return self.frame["seq"] if self.frame else None

    def prev(self):
        return decode_hex32(self.frame["prev"]) if self.frame else None

    def kind(self):
        kind = self.frame["kind"] if self.frame else None
        return kind if kind is not None and _printable(kind) == kind else None

    def get(self, name):
        """A body member of a verified entry (parsed on demand, for reports only)."""
        if self._value is None:
            self._value = parse_strict(self.raw)
        return self._value.get(name) if isinstance(self._value, dict) else None


def verify(data, secrets):
    """Checks every line; returns a summary dict or raises Damage for the first bad one."""
    cut = torn_tail(data)
    complete = data if cut is None else data[:cut]
    lines, offset = [], 0
    for raw in complete.split(b"\n")[:-1] if complete else []:
        lines.append(Line(raw, offset))
        offset += len(raw) + 1
    seen = set()
    prev_hash, expected = ZERO_HASH, 0
    summary = {
        "entries": 0,
        "first_time": None,
        "last_time": None,
        "head": ZERO_HASH,
        "bytes": 0,
        "kinds": {},
        "key_ids": set(),
        "plans": set(),
        "hashes": [],
    }
    for i, line in enumerate(lines):
        number = i + 1

        def damage(kind, detail):
            return Damage(number, line.offset, kind, detail, line.kind())

        digest = hashlib.sha256(line.raw).digest()
        next_prev = lines[i + 1].prev() if i + 1 < len(lines) else None
        if line.frame is None:
            raise damage("edited", "not a valid entry (malformed JSON or missing members)")
        seq, prev = line.seq(), line.prev()
        if prev is None:
            raise damage("edited", "malformed `prev`")
        if line.frame["v"] != FORMAT:
            raise damage("edited", "unknown format version")
        sealed = split_seal(line.raw)
        if sealed is None:
            raise damage("edited", "missing or malformed seal")
        covered, key_id, mac = sealed
        if digest in seen:
            raise damage("duplicated", f"a copy of an earlier entry (seq {seq})")
        secret = secrets.get(key_id)
        sealed_digest = hashlib.sha256(covered).digest()
        if secret is None or not hmac.compare_digest(tag(secret, SEAL, sealed_digest), mac):
            if next_prev == digest:
                if secret is None:
                    detail = (
                        f"sealed with key `{_printable(key_id)}`, which is not among the audit keys"
                    )
                else:
                    detail = "the seal does not match, but the next entry chains to these exact bytes"
                raise damage("wrong-key", detail)
            if next_prev is not None and next_prev == prev_hash:
                raise damage("inserted", "the next entry chains to the entry before this one")
            raise damage("edited", "the seal does not match its bytes")
        if seq != expected:
            if seq > expected:
                later = any(l.seq() == expected for l in lines[i + 1 :])
                # Moved within this log, an entry still chains to one of its entries;
                # one from elsewhere does not.
                chains_here = (
                    prev in seen
                    or (seq == 0 and prev == ZERO_HASH)
                    or any(hashlib.sha256(l.raw).digest() == prev for l in lines[i + 1 :])
                )
                if later and not chains_here:
                    raise damage(
                        "inserted",
                        f"seq {seq} does not chain to any entry of this log; seq {expected} comes later",
                    )
                if later:
                    raise damage(
                        "reordered",
                        f"expected seq {expected}, found {seq}; seq {expected} comes later",
                    )
                raise damage(
                    "removed",
                    f"expected seq {expected}, found {seq}: {seq - expected} entr(y/ies) missing",
                )
            # A moved entry is caught where it is missing (seq too high, found later), so
            # an unseen entry reusing a seq already passed was put in from elsewhere.
            raise damage(
                "inserted",
                f"expected seq {expected}, found {seq}, which an earlier entry already has",
            )
        if prev != prev_hash:
            raise damage("inserted", "does not chain to the entry before it")
        seen.add(digest)
        time = line.frame["time"]
        if summary["first_time"] is None:
            summary["first_time"] = time
        summary["last_time"] = time
        kind = line.frame["kind"]
        summary["kinds"][kind] = summary["kinds"].get(kind, 0) + 1
        summary["key_ids"].add(key_id)
        if kind == "plan":
            body = body_bytes(line.raw)
            if body is not None:
                summary["plans"].add(hashlib.sha256(body).digest())
        summary["entries"] += 1
        summary["hashes"].append(digest)
        summary["bytes"] = line.offset + len(line.raw) + 1
        prev_hash, expected = digest, seq + 1
    summary["head"] = prev_hash
    summary["lines"] = lines
    if cut is not None:
        raise Damage(
            len(lines) + 1,
            cut,
            "torn-last-line",
            f"{len(data) - cut} bytes after the last complete entry",
        )
    return summary


# --- checkpoints ---------------------------------------------------------------------


def load_checkpoint(path):
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise Unusable(f"{path}: cannot read checkpoint: {e.strerror}")
    value = parse_strict(raw)
    if (
        not isinstance(value, dict)
        or set(value) != {"entries", "head", "seal"}
        or as_u64(value["entries"]) is None
        or not isinstance(value["head"], str)
        or not isinstance(value["seal"], str)
    ):
        raise Unusable(f'{path}: not a checkpoint {{"entries":N,"head":"...","seal":"..."}}')
    return value


def checkpoint_message(entries, head):
    """The bytes a checkpoint's seal covers: {"entries":N,"head":"..."}, compact."""
    return json.dumps({"entries": entries, "head": head}, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def verify_against(data, secrets, cp):
    """As verify(), and the log still holds the checkpoint's entries (it may have grown)."""

    def bad(detail):
        return Damage(0, 0, "edited", f"checkpoint: {detail}")

    if ":" not in cp["seal"]:
        raise bad("malformed seal")
    key_id, tag_hex = cp["seal"].split(":", 1)
    secret = secrets.get(key_id)
    if secret is None:
        raise bad("sealed with a key that is not among the audit keys")
    mac = decode_hex32(tag_hex)
    if mac is None:
        raise bad("malformed seal")
    if not hmac.compare_digest(tag(secret, CHECKPOINT, checkpoint_message(cp["entries"], cp["head"])), mac):
        raise bad("its seal does not match (edited, or made with another key)")
    summary = verify(data, secrets)
    n = cp["entries"]
    if summary["entries"] < n:
        raise Damage(
            summary["entries"] + 1,
            summary["bytes"],
            "truncated",
            f"the checkpoint counted {n} entries, the log has {summary['entries']}",
        )
    if n > 0 and summary["hashes"][n - 1] != decode_hex32(cp["head"]):
        line = summary["lines"][n - 1]
        raise Damage(
            n,
            line.offset,
            "truncated",
            "the entry where the checkpoint was taken is not the one it sealed: "
            "the log was rolled back and rewritten",
            line.kind(),
        )
    return summary


# --- finding records and subjects ----------------------------------------------------


def normalise_bsn(raw):
    """The normalised BSN (9 digits passing the 11-proof), or None."""
    digits = raw.replace(" ", "").replace(".", "")
    if len(digits) == 8:
        digits = "0" + digits
    if len(digits) != 9 or not all(c in "0123456789" for c in digits):
        return None
    total = sum(int(d) * w for d, w in zip(digits, (9, 8, 7, 6, 5, 4, 3, 2, -1)))
    return digits if total != 0 and total % 11 == 0 else None


def transfers(summary):
    for line in summary["lines"][: summary["entries"]]:
        if line.frame["kind"] == "transfer":
            key_id = split_seal(line.raw)[1]
            yield line, key_id


def find_records(summary, secrets, records_path):
    """For each non-blank line of a JSON Lines file (line ending removed: \\n, then one
    \\r), the entries whose `input` or `output` digest is that line's."""
    with open(records_path, "rb") as f:
        data = f.read()
    wanted = {}  # (member, key id, hex digest) -> line numbers
    key_ids = {k for _, k in transfers(summary)}
    number = 0
    for number, raw in enumerate(data.split(b"\n"), 1):
        raw = raw[:-1] if raw.endswith(b"\r") else raw
        if not raw.strip(b" \t\n\r\x0c"):
            continue
        for key_id in key_ids & set(secrets):
            for member, prefix in (("input", INPUT), ("output", OUTPUT)):
                wanted.setdefault((member, key_id, tag(secrets[key_id], prefix, raw).hex()), []).append(number)
    found = {}
    for line, key_id in transfers(summary):
        for member in ("input", "output"):
            for n in wanted.get((member, key_id, line.get(member)), []):
                found.setdefault(n, []).append(f"{member} of seq {line.frame['seq']}")
    return found


def find_subject(summary, secrets, bsn):
    norm = normalise_bsn(bsn)
    if norm is None:
        return None
    hits = []
    for line, key_id in transfers(summary):
        if key_id in secrets and line.get("subject") == tag(secrets[key_id], SUBJECT, norm.encode()).hex():
            hits.append(line.frame["seq"])
    return hits


# --- command line --------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description="Verify a privacy-gate audit log (docs/audit-log.md).")
    parser.add_argument("log", help="the audit log (JSON Lines)")
    parser.add_argument("keys", help="a key file with an `audit` key set")
    parser.add_argument("--checkpoint", help="a checkpoint file the log must still match")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.add_argument("--find-records", metavar="JSONL", help="list entries whose input/output digest is a line of this file")
    parser.add_argument("--find-subject", metavar="BSN", help="list transfers whose subject is this BSN")
    args = parser.parse_args(argv)
    try:
        secrets, _ = load_audit_keys(args.keys)
        try:
            with open(args.log, "rb") as f:
                data = f.read()
        except OSError as e:
            raise Unusable(f"{args.log}: cannot read log: {e.strerror}")
        cp = load_checkpoint(args.checkpoint) if args.checkpoint else None
    except Unusable as e:
        print(f"verify_audit_log: {e}", file=sys.stderr)
        return 2
    try:
        summary = verify_against(data, secrets, cp) if cp else verify(data, secrets)
    except Damage as d:
        if args.json:
            print(json.dumps({"ok": False, **d.as_json()}))
        else:
            print(f"damaged: {d}")
        return 1
    head = summary["head"].hex()
    if args.json:
        print(
            json.dumps(
                {
                    "ok": True,
                    "entries": summary["entries"],
                    "head": head,
                    "bytes": summary["bytes"],
                    "first_time": summary["first_time"],
                    "last_time": summary["last_time"],
                    "kinds": summary["kinds"],
                    "key_ids": sorted(summary["key_ids"]),
                }
            )
        )
    else:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(summary["kinds"].items(), key=lambda kv: str(kv[0])))
        span = f", {summary['first_time']} to {summary['last_time']}" if summary["entries"] else ""
        against = f"; matches checkpoint at entry {cp['entries']}" if cp else ""
        print(
            f"ok: {summary['entries']} entries ({kinds or 'none'}){span}, "
            f"sealed with {', '.join(sorted(summary['key_ids'])) or 'no key'}, head {head}{against}"
        )
    if args.find_records:
        try:
            found = find_records(summary, secrets, args.find_records)
        except OSError as e:
            print(f"verify_audit_log: {args.find_records}: {e.strerror}", file=sys.stderr)
            return 2
        with open(args.find_records, "rb") as f:
            total = sum(1 for raw in f.read().split(b"\n") if raw.strip(b" \t\n\r\x0c"))
        for n in sorted(found):
            print(f"record line {n}: {'; '.join(found[n])}")
        print(f"{len(found)} of {total} record line(s) found in the log")
    if args.find_subject is not None:
        hits = find_subject(summary, secrets, args.find_subject)
        if hits is None:
            print("not a valid BSN: no entry can name it")
        else:
            print(f"subject found in {len(hits)} transfer(s)" + (f": seq {', '.join(map(str, hits))}" if hits else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
