"""Text from outside (a student's file name or value, a path) made safe to print on one line."""

from __future__ import annotations

import re

#: what must never reach a terminal, a log or a file name as it is: controls, line breaks, bidirectional
#: overrides and zero-width marks, and a file name's undecodable bytes (lone surrogates)
UNSEEN = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")


def printable(s: str) -> str:
    """``s`` safe to print: control characters and line breaks, terminal escapes, bidirectional
    overrides and a file name's undecodable bytes shown as escapes (``\\x1b``, ``\\n``), so that
    nothing in it moves the cursor, colours the terminal or starts a line of its own."""
    return UNSEEN.sub(lambda m: m.group().encode("unicode_escape", "backslashreplace").decode("ascii")
                       if not 0xD800 <= ord(m.group()) <= 0xDFFF else f"\\x{ord(m.group()) - 0xDC00:02x}", s)
