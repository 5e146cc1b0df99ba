#!/usr/bin/env python3
"""Seed corpora for the fuzz targets (python3 stdlib only), so fuzzing starts from real
streams, JSON and zips rather than from nothing.

    python3 seeds.py [OUT]    # OUT defaults to corpus/ next to this file

Writes OUT/frame_decoder/, OUT/json_reencode/ and OUT/unpack/ from the recorded streams in
fixtures/ (JSON lines, the zips inside `zipfile` frames) plus hand-made cases: symlinks,
`../` names, directories, duplicate names, deep JSON, lone surrogates. Deterministic.
"""
import base64
import glob
import hashlib
import json
import os
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "..", "fixtures")
MAX_SEED = 16 << 10  # larger seeds make libFuzzer's max_len (and every mutation) larger
FILE, DIR, LINK = 0o100644, 0o040755, 0o120777


def save(out, target, data):
    if len(data) > MAX_SEED:
        return
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def split_stream(stream):
    """The JSON lines and the zips of a stream (as the decoder splits it)."""
    lines, zips, i = [], [], 0
    while i < len(stream):
        end = stream.find(b"\n", i)
        end = len(stream) if end < 0 else end + 1
        line = stream[i:end]
        i = end
        lines.append(line)
        try:
            size = json.loads(line).get("zipfile")
        except Exception:
            continue
        if not isinstance(size, int) or size < 0:
            continue
        want, chars = 4 * -(-size // 3), bytearray()
        while i < len(stream) and len(chars) < want:
            if stream[i] not in b" \t\n\r\x0b\x0c":
                chars.append(stream[i])
            i += 1
        try:
            zips.append(base64.b64decode(bytes(chars)))
        except Exception:
            pass
    return lines, zips


def zip_bytes(entries, comment=b""):
    """A zip laid out by hand: (name bytes, data, st_mode, deflate?). zipfile would refuse
    duplicate or odd names."""
    out, central = bytearray(), bytearray()
    for name, data, mode, deflate in entries:
        body = zlib.compress(data, 9)[2:-4] if deflate else data
        method, crc, offset = (8 if deflate else 0), zlib.crc32(data), len(out)
        out += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, method, 0, 33,
                           crc, len(body), len(data), len(name), 0) + name + body
        central += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", (3 << 8) | 20, 20, 0, method,
                               0, 33, crc, len(body), len(data), len(name), 0, 0, 0, 0,
                               (mode << 16) & 0xFFFFFFFF, offset) + name
    cd_offset = len(out)
    out += central
    out += struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(entries), len(entries),
                       len(central), cd_offset, len(comment)) + comment
    return bytes(out)


HANDMADE_ZIPS = [
    [],
    [(b"rc", b"0", FILE, False), (b"status", b"successful", FILE, False)],
    [(b"a/", b"", DIR, False), (b"a/b/", b"", DIR, False), (b"a/b/c", b"x" * 100, FILE, True)],
    [(b"link", b"../victim", LINK, False), (b"link/file", b"pwned", FILE, False)],
    [(b"link", b"../../victim/file", LINK, False), (b"link", b"pwned", FILE, False)],
    [(b"up", b"..", LINK, False), (b"up/up2", b"..", LINK, False), (b"up/up2/victim/file", b"p", FILE, False)],
    [(b"abs", b"/tmp", LINK, False), (b"abs/x", b"p", FILE, False)],
    [(b"../victim/file", b"pwned", FILE, False)],
    [(b"a/../../victim/file", b"pwned", FILE, False)],
    [(b"/tmp/abs", b"p", FILE, False)],
    [(b"dup", b"1", FILE, False), (b"dup", b"2", FILE, False)],
    [(b"./d//x", b"1", FILE, False), (b"d/x", b"2", FILE, False)],
    [(b"d", b"file", FILE, False), (b"d/x", b"2", FILE, False)],
    [(b"d/", b"", DIR, False), (b"d", b"../victim", LINK, False)],
    [(b"locked/", b"", 0o040000, False), (b"locked/f", b"x", 0o100000, False)],
    [(b"setuid", b"#!/bin/sh\n", 0o104755, False)],
    [(b"zero", b"\0" * 300000, FILE, True)],
    [(b"nul\0name", b"x", FILE, False)],
    [(b"back\\slash", b"x", FILE, False)],
    [(b"C:x", b"x", FILE, False)],
    [(b"bad-utf8-\xff", b"x", FILE, False)],
    [(b"rc", b"1" * 100, FILE, False)],
    [(b"." , b"x", FILE, False)],
]


JSON_SEEDS = [
    b'{}', b'[]', b'null', b'true', b'0', b'-0', b'1e400', b'-1e-400', b'1.5', b'-0.0', b'1E+2',
    b'NaN', b'[Infinity, -Infinity, NaN]', b'123456789012345678901234567890',
    b'0.1', b'5e-324', b'1.7976931348623157e308', b'"\\ud83d\\ude00"', b'"\\ud83d"',
    b'"\xed\xa0\xbd\xed\xb8\x80"', b'"\\ud83d\xed\xb8\x80"',
    b'{"\xed\xa0\xbd\xed\xb8\x80": 1, "\\ud83d\\ude00": 2}',
    b'{"a": 1, "a": 2, "b": [1, 2, {"a": null}]}', b'\xef\xbb\xbf{"bom": 1}',
    b'"\\u0000\\b\\f\\n\\r\\t\\"\\\\\\/ \x7f \xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80"',
    b' \t\r\n[ 1 , 2 ] \n', b'[' * 150 + b']' * 150, b'{"a":' * 100 + b'1' + b'}' * 100,
    b'[1,]', b'{"a" 1}', b'"\x01"', b'01', b'1.', b'.5', b'--1', b'"\\x"', b'"\\u12"',
]


def stream_seeds(out, kind_byte, stream):
    for chunking in (0, 7, 200):
        save(out, "frame_decoder", bytes([kind_byte, chunking]) + stream)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
    streams = sorted(glob.glob(os.path.join(FIXTURES, "*", "*.stream"))
                     + glob.glob(os.path.join(FIXTURES, "hostile", "*", "*.stream")))
    for path in streams:
        with open(path, "rb") as f:
            stream = f.read()
        result = "result" in os.path.basename(path) or "/hostile/result/" in path
        # Byte 0: bit 0 picks the stream kind (0 job, 1 result), the rest seeds chunk sizes.
        stream_seeds(out, 0x2B if result else 0x2A, stream)
        if len(stream) > MAX_SEED:
            stream_seeds(out, 0x2B if result else 0x2A, stream[:MAX_SEED - 2])
        lines, zips = split_stream(stream)
        for line in lines:
            save(out, "json_reencode", line)
        for z in zips:
            save(out, "unpack", z)
            stream_seeds(out, 0x2A, b'{"kwargs": {}}\n{"zipfile": %d}\n' % len(z)
                         + base64.b64encode(z) + b'{"eof": true}\n')
    for seed in JSON_SEEDS:
        save(out, "json_reencode", seed)
    for entries in HANDMADE_ZIPS:
        z = zip_bytes(entries)
        save(out, "unpack", z)
        save(out, "unpack", z[: len(z) // 2])
    save(out, "unpack", zip_bytes(HANDMADE_ZIPS[1], comment=b"PK\x05\x06" + b"\0" * 18))
    # Streams around the decoder's limits and edge cases (the harness's max line is 4096).
    for stream in [
        b'', b'{"eof": true}\n', b'{"eof": true}', b'{"kwargs": {}}\n{"eof": true}\ntrailing junk',
        b'{"status": "running"}\n{"event": "keepalive"}\n{"event": "x", "uuid": "u"}\n{"eof": 1}\n',
        b'{"zipfile": 0}\n{"eof": true}\n', b'{"zipfile": 4}\n AB\nC D\r\nEF==\n{"eof": true}\n',
        b'{"zipfile": 2}\nAB=', b'{"zipfile": 3}\nAB*D{"eof": true}\n', b'{"zipfile": -1}\n',
        b'{"zipfile": 2000000}\n', b'{"zipfile": 1.0}\n', b'\n', b'[]\n', b'{"x": 1}',
        b'{"a": "' + b"x" * 4100 + b'"}\n', b'{"a": "' + b"x" * 4085 + b'"}\n{"eof": true}\n',
        b'[' * 70 + b']' * 70 + b'\n', b'{"kwargs": {}}\r\n{"eof": true}\r\n', b'\xef\xbb\xbf{"eof": 1}\n',
    ]:
        for kind in (0x2A, 0x2B):
            stream_seeds(out, kind, stream)


if __name__ == "__main__":
    main()
