#!/usr/bin/env python3
"""Independent verifier for privacy-gate audit logs (format 3, docs/audit-log.md).

Python's standard library plus `cryptography` (for Ed25519). It implements the
specification in docs/audit-log.md and does not call, import or share code with the
Rust crate, so that it can serve as a second opinion on a log.

    python3 verify_audit_log.py LOG PUBLIC-KEY
    python3 verify_audit_log.py LOG PUBLIC-KEY --checkpoint CP [--checkpoint CP2 ...]
    python3 verify_audit_log.py LOG PUBLIC-KEY --witness WITNESS-KEY --checkpoint CP
    python3 verify_audit_log.py LOG PUBLIC-KEY --json
    python3 verify_audit_log.py LOG PUBLIC-KEY --find-subject BSN --keys SUBJECT-KEYS
    python3 verify_audit_log.py LOG PUBLIC-KEY --find-records RECORDS.jsonl --keys RECORD-KEYS

PUBLIC-KEY is a file holding the writer's C2SP verifier key on one line (the `.pub`
file `privacy-gate keygen --audit-writer` writes), `<name>+<key id>+<base64 key>`.
Verifying needs no secret. `LOG.checkpoint`, when it exists, is checked like a
`--checkpoint`. The digest keys (`--keys`, a privacy-gate key file whose
`audit_subject` or `audit_records` member is used) serve only to find entries.

Only each line's framing is interpreted (v, seq, time, kind), and of checkpoint
entries their note and peaks; every line is a leaf of the Merkle tree (RFC 9162), whose
root each checkpoint signs. `time` is checked to be a string only: the writer's
signature vouches for it, nothing orders it. Known difference from the Rust verifier:
a line nested deeper than 128 levels (which no writer produces) is edited for both,
but Python's own recursion limit applies to still deeper ones.

Exit status: 0 the log is intact (and matches the checkpoints given); 1 the log is
damaged (the first bad entry is printed); 2 a file could not be used.
"""

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import os
import sys

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
except ImportError:  # pragma: no cover - reported at start
    Ed25519PublicKey = None

FORMAT = 3
U64_MAX = 2**64 - 1
U32_MAX = 2**32 - 1
ED25519 = 0x01  # a log writer's note signature
COSIGNATURE_V1 = 0x04  # a witness's timestamped cosignature
DASH = "\u2014 "  # what starts a signature line
MAX_NOTE_BYTES = 64 * 1024
MAX_DEPTH = 128  # serde_json's nesting limit, which the Rust verifier inherits
SEQ_MEMBER = b',"seq":'
INPUT = b"pg-audit-input"
OUTPUT = b"pg-audit-output"
SUBJECT = b"pg-audit-subject"
FRAME = ("v", "seq", "time", "kind")


class Unusable(Exception):
    """A key or checkpoint file that cannot be used at all (exit 2)."""


class Damage(Exception):
    """The first bad entry: 1-based number, byte offset of its line, kind, detail."""

    def __init__(self, entry, offset, kind, detail):
        super().__init__(detail)
        self.entry, self.offset, self.kind, self.detail = entry, offset, kind, detail

    def as_json(self):
        return {"entry": self.entry, "offset": self.offset, "kind": self.kind, "detail": self.detail}

    def __str__(self):
        return f"entry {self.entry} (byte offset {self.offset}): {self.kind}: {self.detail}"


class NoteError(Exception):
    """A note, key or checkpoint that was not accepted."""


# --- hashing: RFC 9162 §2.1 ----------------------------------------------------------


def sha256(data):
    return hashlib.sha256(data).digest()


def leaf_hash(line):
    """SHA-256(0x00 || line), the line without its newline."""
    return sha256(b"\x00" + line)


def node_hash(left, right):
    return sha256(b"\x01" + left + right)


class Frontier:
    """The roots of the perfect subtrees of a tree (largest first) and its size: enough
    to add leaves and to give the root without holding every leaf."""

    def __init__(self):
        self.size = 0
        self.peaks = []  # (height, hash), largest first

    def push(self, leaf):
        height, node = 0, leaf
        while self.peaks and self.peaks[-1][0] == height:
            _, left = self.peaks.pop()
            node, height = node_hash(left, node), height + 1
        self.peaks.append((height, node))
        self.size += 1

    def root(self):
        if not self.peaks:
            return sha256(b"")
        node = self.peaks[-1][1]
        for _, left in reversed(self.peaks[:-1]):
            node = node_hash(left, node)
        return node

    def peak_hashes(self):
        return [h for _, h in self.peaks]


def mth(leaves):
    """MTH(D[n]) by the recursive definition (for the worked example and tests)."""
    if not leaves:
        return sha256(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k << 1 < len(leaves):
        k <<= 1
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


# --- strict base64 and JSON ----------------------------------------------------------


def b64(text):
    """Standard base64 with padding and zero trailing bits, or None."""
    if not isinstance(text, str) or not text.isascii():
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if base64.b64encode(raw).decode("ascii") == text else None


def _has_surrogate(text):
    return any("\ud800" <= c <= "\udfff" for c in text)


class _Object(dict):
    """A parsed object that remembers which member names it held more than once."""

    dups = frozenset()


def _pairs(pairs):
    obj, dups = _Object(), set()
    for key, value in pairs:
        if key in obj:
            dups.add(key)
        obj[key] = value
    obj.dups = frozenset(dups)
    return obj


def _number(text):
    # Only v and seq are interpreted, as unsigned integers; anything else is kept apart.
    if text.startswith("-") or len(text) > 20:
        return float(text)
    return int(text)


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def _depth(value, level=1):
    if level > MAX_DEPTH:
        return False
    if isinstance(value, list):
        return all(_depth(v, level + 1) for v in value)
    if isinstance(value, dict):
        return all(_depth(v, level + 1) for v in value.values())
    return True


def parse_json(raw):
    """One JSON value (RFC 8259: no NaN, no control characters in strings), or None."""
    try:
        value = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_pairs,
            parse_int=_number,
            parse_float=float,
            parse_constant=_reject_constant,
        )
    except (ValueError, RecursionError):
        return None
    return value if _depth(value) else None


def _uint(value, limit):
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= limit


def parse_frame(raw):
    """(parsed object, framing members) when the line is an entry, else None.

    An entry starts with `{"v":` and is one JSON object holding `v` (an integer),
    `seq` (an integer 0..2^64-1), `time` and `kind` (strings), each exactly once.
    """
    if not raw.startswith(b'{"v":'):
        return None
    value = parse_json(raw)
    if not isinstance(value, dict) or value.dups & set(FRAME):
        return None
    if any(k not in value for k in FRAME):
        return None
    v, seq, time, kind = (value[k] for k in FRAME)
    if not _uint(v, U32_MAX) or not _uint(seq, U64_MAX):
        return None
    if not all(isinstance(t, str) and not _has_surrogate(t) for t in (time, kind)):
        return None
    return value, {"v": v, "seq": seq, "time": time, "kind": kind}


def body_bytes(line):
    """A plan's body: from `"kind":` up to (not including) the framing members after it."""
    start, end = line.find(b'"kind":'), line.rfind(SEQ_MEMBER)
    if start < 0 or end < start:
        return None
    return line[start:end]


# --- keys and signed notes (C2SP signed-note, tlog-checkpoint, tlog-cosignature) -------


def key_id(name, kind, public):
    """The first 4 bytes of SHA-256(name || 0x0A || type || public key)."""
    return sha256(name.encode() + b"\n" + bytes([kind]) + public)[:4]


class VerifierKey:
    """A C2SP verifier key: `<name>+<8 hex digits key id>+<base64(type || key)>`."""

    def __init__(self, text):
        text = text.strip()
        parts = text.split("+", 2)  # the base64 key may itself hold `+`
        if len(parts) != 3:
            raise NoteError("a public key is `<name>+<key id>+<base64 key>` on one line")
        name, id_hex, material = parts
        if not (0 < len(name) <= 256 and all(0x21 <= ord(c) <= 0x7E and c != "+" for c in name)):
            raise NoteError("the public key's name is not a note key name")
        raw = b64(material)
        if not raw:
            raise NoteError("the public key is not valid base64")
        kind, public = raw[0], raw[1:]
        if kind not in (ED25519, COSIGNATURE_V1):
            raise NoteError(f"public key type {kind:#04x} is not supported")
        if len(public) != 32:
            raise NoteError("an Ed25519 public key is 32 bytes")
        if key_id(name, kind, public).hex() != id_hex:
            raise NoteError("the public key's id does not match its name and key")
        try:
            self.key = Ed25519PublicKey.from_public_bytes(public)
        except ValueError:
            raise NoteError("not a valid Ed25519 public key")
        self.name, self.kind, self.id = name, kind, key_id(name, kind, public)

    def verifies(self, signature, message):
        try:
            self.key.verify(signature, message)
            return True
        except InvalidSignature:
            return False


def parse_note(text):
    """(body, [(name, key id, rest of signature bytes)]) of a signed note."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_NOTE_BYTES:
        raise NoteError("a checkpoint note is at most 64 KiB")
    at = text.find("\n\n")
    if at < 0:
        raise NoteError("a signed note has its text, a blank line, then signature lines")
    body, signatures = text[: at + 1], text[at + 2 :]
    if not signatures.endswith("\n"):
        raise NoteError("every signature line ends with a newline")
    parsed = []
    for line in signatures[:-1].split("\n"):
        line = line[:-1] if line.endswith("\r") else line
        if not line.startswith(DASH):
            raise NoteError("a signature line starts with an em dash and a space")
        name, space, sig = line[len(DASH) :].partition(" ")
        if not space:
            raise NoteError("a signature line is `\u2014 <name> <base64>`")
        raw = b64(sig)
        if raw is None:
            raise NoteError("a signature is not valid base64")
        if len(raw) < 5:
            raise NoteError("a signature is too short")
        parsed.append((name, raw[:4], raw[4:]))
    if not parsed:
        raise NoteError("the note has no signature")
    return body, parsed


def parse_checkpoint(body):
    """(origin, size, root) of a tlog-checkpoint body."""
    lines = body[:-1].split("\n") if body.endswith("\n") else body.split("\n")
    if len(lines) < 3:
        raise NoteError("a checkpoint has an origin, a size and a root hash line")
    origin, size, root = lines[:3]
    if not origin or any(not extra for extra in lines[3:]):
        raise NoteError("a checkpoint's lines are not empty")
    if not (size.isascii() and size.isdigit() and (size == "0" or not size.startswith("0"))):
        raise NoteError("a checkpoint's size is a decimal number without leading zeros")
    if int(size) > U64_MAX:
        raise NoteError("a checkpoint's size is a decimal number without leading zeros")
    root = b64(root)
    if root is None or len(root) != 32:
        raise NoteError("a checkpoint's root hash is 32 bytes in base64")
    return origin, int(size), root


def open_note(text, writer, witnesses=()):
    """((origin, size, root), [(witness, time)]) when the writer's signature verifies,
    the origin is one of the writer's logs and every cosignature by a known witness
    verifies; lines of other keys are ignored."""
    body, signatures = parse_note(text)
    checkpoint = parse_checkpoint(body)
    if writer.kind != ED25519:
        raise NoteError("the log's public key is a witness key (type 0x04), not a log key")
    message = body.encode("utf-8")
    signed, cosigned = False, []
    for name, kid, rest in signatures:
        if name == writer.name and kid == writer.id:
            if len(rest) != 64:
                raise NoteError("the writer's signature is malformed")
            if not writer.verifies(rest, message):
                raise NoteError("the writer's signature does not verify")
            signed = True
        for witness in witnesses:
            if name != witness.name or kid != witness.id:
                continue
            if len(rest) < 8:
                raise NoteError(f"the cosignature of `{witness.name}` is malformed")
            time = int.from_bytes(rest[:8], "big")
            cosigned_message = f"cosignature/v1\ntime {time}\n".encode() + message
            sig = rest[8:]
            if len(sig) != 64 or time > 2**63 - 1 or not witness.verifies(sig, cosigned_message):
                raise NoteError(f"the cosignature of `{witness.name}` does not verify")
            cosigned.append((witness.name, time))
    if not signed:
        raise NoteError(f"the checkpoint has no signature by `{writer.name}` with this key")
    if not checkpoint[0].startswith(writer.name + "/"):
        raise NoteError("the checkpoint's origin is not a log of this writer")
    return checkpoint, cosigned


# --- verifying a log -----------------------------------------------------------------


def torn_tail(data):
    """Offset where an incomplete last line starts, or None when the file ends in \\n."""
    if not data or data.endswith(b"\n"):
        return None
    return data.rfind(b"\n") + 1


def read_checkpoint_entry(value, writer):
    """(checkpoint, peaks, note) of a checkpoint entry, or raises (kind, detail)."""
    note, peaks = value.get("note"), value.get("peaks")
    if (
        value.dups & {"note", "peaks"}
        or not isinstance(note, str)
        or _has_surrogate(note)
        or not isinstance(peaks, list)
        or not all(isinstance(p, str) for p in peaks)
    ):
        raise ValueError(("edited", "a malformed checkpoint entry"))
    try:
        checkpoint, _ = open_note(note, writer)
    except NoteError as e:
        raise ValueError(("wrong-key", f"checkpoint: {e}"))
    decoded = [b64(p) for p in peaks]
    if any(p is None or len(p) != 32 for p in decoded):
        raise ValueError(("edited", "a malformed peak in a checkpoint entry"))
    return checkpoint, decoded, note


def verify(data, writer, sizes=()):
    """Checks every line (§10 of the specification). Returns (summary, {size: (root,
    entry, offset)}) for the tree sizes asked, or raises Damage for the first bad entry."""
    cut = torn_tail(data)
    complete = data if cut is None else data[:cut]
    lines, offset = [], 0
    for raw in complete.split(b"\n")[:-1] if complete else []:
        lines.append((offset, raw))
        offset += len(raw) + 1
    frames = [None] * len(lines)  # parsed lazily, for the look-ahead of reordering

    def frame(i):
        if frames[i] is None:
            frames[i] = parse_frame(lines[i][1]) or False
        return frames[i]

    summary = {
        "entries": 0,
        "signed": 0,
        "checkpoints": 0,
        "origin": None,
        "latest_note": None,
        "first_time": None,
        "last_time": None,
        "bytes": 0,
        "kinds": {},
        "plans": set(),
        "transfers": [],
    }
    wanted = set(sizes)
    roots = {}
    tree = Frontier()
    if 0 in wanted:
        roots[0] = (tree.root(), 0, 0)
    seen = set()
    since = (1, 0)  # the first entry (and its offset) after the last checkpoint
    for i, (offset, line) in enumerate(lines):
        entry, expected = i + 1, i

        def damage(kind, detail):
            return Damage(entry, offset, kind, detail)

        parsed = frame(i)
        if not parsed:
            raise damage("edited", "not a valid entry (malformed JSON or missing members)")
        value, f = parsed
        if f["v"] != FORMAT:
            raise damage("edited", "unknown format version")
        leaf = leaf_hash(line)
        seq = f["seq"]
        if seq != expected:
            if seq > expected:
                if any(frame(j) and frame(j)[1]["seq"] == expected for j in range(i + 1, len(lines))):
                    raise damage("reordered", f"expected seq {expected}, found {seq}; seq {expected} comes later")
                raise damage("removed", f"expected seq {expected}, found {seq}: {seq - expected} entr(y/ies) missing")
            if leaf in seen:
                raise damage("duplicated", f"a copy of an earlier entry (seq {seq})")
            raise damage("inserted", f"expected seq {expected}, found {seq}, which an earlier entry already has")
        if f["kind"] == "checkpoint":
            try:
                (origin, size, root), peaks, note = read_checkpoint_entry(value, writer)
            except ValueError as e:
                raise damage(*e.args[0])
            if summary["origin"] is not None and summary["origin"] != origin:
                raise damage("inserted", "a checkpoint of another log")
            if size != seq:
                raise damage("inserted", f"a checkpoint of {size} entries at entry {entry}")
            if root != tree.root():
                first, first_offset = since
                raise Damage(
                    first,
                    first_offset,
                    "edited",
                    f"entries {first} to {entry - 1} do not hash to the root the writer signed "
                    f"in the checkpoint at entry {entry}",
                )
            if peaks != tree.peak_hashes():
                raise damage("edited", "the checkpoint's peaks do not match the tree it signed")
            summary["origin"], summary["latest_note"] = origin, note
            summary["checkpoints"] += 1
            summary["signed"] = entry
            since = (entry + 1, offset + len(line) + 1)
        seen.add(leaf)
        tree.push(leaf)
        if tree.size in wanted:
            roots[tree.size] = (tree.root(), entry, offset)
        if summary["first_time"] is None:
            summary["first_time"] = f["time"]
        summary["last_time"] = f["time"]
        summary["kinds"][f["kind"]] = summary["kinds"].get(f["kind"], 0) + 1
        if f["kind"] == "plan":
            body = body_bytes(line)
            if body is not None:
                summary["plans"].add(sha256(body).hex())
        elif f["kind"] == "transfer":
            summary["transfers"].append((seq, value))
        summary["entries"] += 1
        summary["bytes"] = offset + len(line) + 1
    summary["root"] = tree.root()
    if cut is not None:
        raise Damage(len(lines) + 1, cut, "torn-last-line", f"{len(data) - cut} bytes after the last complete entry")
    return summary, roots


def verify_against(data, writer, witnesses, notes):
    """As verify(), and the log still holds the tree each kept checkpoint signed (a log
    that grew since passes). Returns the summary with the verified cosignatures."""

    def bad(detail):
        return Damage(0, 0, "wrong-key", f"checkpoint: {detail}")

    kept, cosigned = [], []
    for text in notes:
        try:
            checkpoint, cos = open_note(text, writer, witnesses)
        except NoteError as e:
            raise bad(e)
        kept.append(checkpoint)
        cosigned.extend(cos)
    summary, roots = verify(data, writer, [size for _, size, _ in kept])
    summary["cosigned"] = cosigned
    for origin, size, root in kept:
        if summary["origin"] is not None and summary["origin"] != origin:
            raise bad("it is a checkpoint of another log (its origin differs)")
        if size not in roots:
            raise Damage(
                summary["entries"] + 1,
                summary["bytes"],
                "truncated",
                f"the checkpoint counted {size} entries, the log has {summary['entries']}",
            )
        at_root, entry, offset = roots[size]
        if at_root != root:
            raise Damage(
                entry,
                offset,
                "truncated",
                f"the first {size} entries do not hash to the root of the checkpoint: "
                "the log was rolled back and rewritten, or forked",
            )
    return summary


# --- finding records and subjects ----------------------------------------------------


def load_key_set(path, member):
    """{key id: secret} of a key file's `member` key set (`audit_subject`, `audit_records`)."""
    try:
        with open(path, "rb") as f:
            top = parse_json(f.read())
    except OSError as e:
        raise Unusable(f"{path}: cannot read key file: {e.strerror}")
    keys = top.get(member) if isinstance(top, dict) else None
    if not isinstance(keys, dict) or not isinstance(keys.get("keys"), dict):
        raise Unusable(f"{path}: the key file has no `{member}` key set")
    secrets = {}
    for kid, text in keys["keys"].items():
        try:
            secrets[kid] = bytes.fromhex(text)
        except (TypeError, ValueError):
            raise Unusable(f"{path}: `{member}` key `{kid}` is not hex")
    return secrets


def digest(secret, prefix, message):
    """HMAC-SHA256(secret, prefix || 0x00 || message), hex."""
    return hmac.new(secret, prefix + b"\x00" + message, hashlib.sha256).hexdigest()


def named(secrets, prefix, message):
    """The digests `<key id>:<hex>` of the message under each key."""
    return {f"{kid}:{digest(s, prefix, message)}" for kid, s in secrets.items()}


def normalise_bsn(raw):
    """The normalised BSN (9 digits passing the 11-proof), or None."""
    digits = raw.replace(" ", "").replace(".", "")
    if len(digits) == 8:
        digits = "0" + digits
    if len(digits) != 9 or not all(c in "0123456789" for c in digits):
        return None
    total = sum(int(d) * w for d, w in zip(digits, (9, 8, 7, 6, 5, 4, 3, 2, -1)))
    return digits if total != 0 and total % 11 == 0 else None


# --- command line --------------------------------------------------------------------


def read_text(path, what):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8")
    except OSError as e:
        raise Unusable(f"{path}: cannot read {what}: {e.strerror}")
    except UnicodeDecodeError:
        raise Unusable(f"{path}: the {what} is not UTF-8 text")


def load_key(path):
    try:
        return VerifierKey(read_text(path, "public key"))
    except NoteError as e:
        raise Unusable(f"{path}: {e}")


def main(argv=None):
    parser = argparse.ArgumentParser(description="Verify a privacy-gate audit log (docs/audit-log.md, format 3).")
    parser.add_argument("log", help="the audit log (JSON Lines)")
    parser.add_argument("public_key", help="the writer's public key file (a C2SP verifier key line)")
    parser.add_argument("--checkpoint", action="append", default=[], help="a checkpoint kept apart (repeatable)")
    parser.add_argument("--witness", action="append", default=[], help="a witness's public key file (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.add_argument("--keys", help="a key file with `audit_subject` or `audit_records` (to find entries)")
    parser.add_argument("--find-subject", metavar="BSN", help="list transfers whose subject is this BSN")
    parser.add_argument("--find-records", metavar="JSONL", help="list transfers whose input or output is a line of this file")
    args = parser.parse_args(argv)
    if Ed25519PublicKey is None:
        print("verify_audit_log: the `cryptography` package is required (pip install cryptography)", file=sys.stderr)
        return 2
    try:
        writer = load_key(args.public_key)
        witnesses = [load_key(p) for p in args.witness]
        notes = [read_text(p, "checkpoint") for p in args.checkpoint]
        if os.path.exists(args.log + ".checkpoint"):
            notes.append(read_text(args.log + ".checkpoint", "checkpoint"))
        try:
            with open(args.log, "rb") as f:
                data = f.read()
        except OSError as e:
            raise Unusable(f"{args.log}: cannot read log: {e.strerror}")
        if (args.find_subject is not None or args.find_records) and not args.keys:
            raise Unusable("finding entries needs --keys with the digest key")
    except Unusable as e:
        print(f"verify_audit_log: {e}", file=sys.stderr)
        return 2
    try:
        summary = verify_against(data, writer, witnesses, notes)
    except Damage as d:
        if args.json:
            print(json.dumps({"ok": False, **d.as_json()}))
        else:
            print(f"damaged: {d}")
        return 1
    root = base64.b64encode(summary["root"]).decode()
    cosigned = [{"witness": w, "time": t} for w, t in summary["cosigned"]]
    if args.json:
        print(
            json.dumps(
                {
                    "ok": True,
                    "entries": summary["entries"],
                    "signed": summary["signed"],
                    "checkpoints": summary["checkpoints"],
                    "root": root,
                    "origin": summary["origin"],
                    "bytes": summary["bytes"],
                    "first_time": summary["first_time"],
                    "last_time": summary["last_time"],
                    "kinds": summary["kinds"],
                    "cosigned": cosigned,
                }
            )
        )
    else:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(summary["kinds"].items()))
        by = "".join(f", cosigned by {c['witness']} at {c['time']}" for c in cosigned)
        print(
            f"ok: {summary['entries']} entries ({kinds or 'none'}), {summary['signed']} signed "
            f"in {summary['checkpoints']} checkpoints of {summary['origin'] or 'no origin'}; root {root}{by}"
        )
        unsigned = summary["entries"] - summary["signed"]
        if unsigned:
            print(f"note: the last {unsigned} entries are not covered by a checkpoint yet")
    try:
        if args.find_subject is not None:
            secrets = load_key_set(args.keys, "audit_subject")
            bsn = normalise_bsn(args.find_subject)
            if bsn is None:
                print("not a valid BSN: no entry can name it")
            else:
                wanted = named(secrets, SUBJECT, bsn.encode())
                hits = [seq for seq, v in summary["transfers"] if v.get("subject") in wanted]
                print(f"subject found in {len(hits)} transfer(s)" + (f": seq {', '.join(map(str, hits))}" if hits else ""))
        if args.find_records:
            secrets = load_key_set(args.keys, "audit_records")
            try:
                with open(args.find_records, "rb") as f:
                    records = f.read().split(b"\n")
            except OSError as e:
                raise Unusable(f"{args.find_records}: {e.strerror}")
            found = 0
            for number, raw in enumerate(records, 1):
                raw = raw[:-1] if raw.endswith(b"\r") else raw
                if not raw.strip():
                    continue
                inputs, outputs = named(secrets, INPUT, raw), named(secrets, OUTPUT, raw)
                hits = [f"input of seq {s}" for s, v in summary["transfers"] if v.get("input") in inputs]
                hits += [f"output of seq {s}" for s, v in summary["transfers"] if v.get("output") in outputs]
                if hits:
                    found += 1
                    print(f"record line {number}: {'; '.join(hits)}")
            print(f"{found} record line(s) found in the log")
    except Unusable as e:
        print(f"verify_audit_log: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
