"""Hostile logs for the output tests: raw kernel records whose path= (hex,
as the kernel writes any path with special bytes) holds what would break an
output syntax: a newline followed by a GitHub workflow command, ``%0A``,
``|``, a Markdown link, XML markup, U+FFFE (not XML), bytes that are not
UTF-8, ESC and C1 controls, a bidirectional override.
"""

from __future__ import annotations

# Paths a sandboxed process may create, each aimed at one output syntax.
HOSTILE_PATHS = [
    b"/tmp/a\n::warning title=pwned::injected",
    b"/tmp/b\r\n::error::also injected",
    b"/tmp/100%0A::error::x%25",
    b"/tmp/x|y/f,g:h",
    b"/tmp/[click here](https://evil.example)",
    b"/tmp/<script>alert(1)</script>&amp;\"'`*_~",
    b"/tmp/www.evil.example/user@evil.example",
    "/tmp/nonchar\ufffe\uffff".encode(),
    b"/tmp/bad\xff\xfeutf8",
    b"/tmp/esc\x1b[2Jc\x9b\x07",
    "/tmp/\u202eevil\u2028".encode(),
    b"/tmp/back\\slash \\x41",
]


def event(serial: int, path: bytes, comm: bytes = b"python3") -> bytes:
    stamp = f"1795737091.{serial % 1000:03d}:{serial}".encode()
    access = (b"type=UNKNOWN[1423] msg=audit(" + stamp + b"): domain=1b6b1611c "
              b"blockers=fs.read_file path=" + path.hex().upper().encode()
              + b' dev="vda" ino=2146930')
    syscall = (b"type=SYSCALL msg=audit(" + stamp + b"): arch=c000003e syscall=257 "
               b"success=no exit=-13 a0=ffffff9c items=1 ppid=8460 pid=8472 auid=4294967295 "
               b"uid=0 gid=0 euid=0 comm=" + comm.hex().upper().encode()
               + b' exe="/usr/bin/python3" key="lldecode"')
    return access + b"\n" + syscall + b"\n"


def hostile_paths_log() -> bytes:
    allocated = (b"type=UNKNOWN[1424] msg=audit(1795737091.100:100): domain=1b6b1611c "
                 b'status=allocated mode=enforcing pid=8472 uid=0 exe="/usr/bin/python3" '
                 b'comm="python3"\n')
    events = [event(200 + i, path, comm=b"c|[x](https://e.example)\n::error::" if i == 0
                     else b"python3")
              for i, path in enumerate(HOSTILE_PATHS)]
    return allocated + b"".join(events)
