"""A small FileCheck, for golden tests of passes (text in, text out).

    check(output, checks)

`checks` holds lines like LLVM's FileCheck reads (in `//` comments):

    // CHECK-LABEL: func @f          starts a function's checks (matched like CHECK)
    // CHECK: kiln.mul %[[X:.*]], %[[X]]   the next match, at or after the last one
    // CHECK-NEXT: kiln.return        on the line after the last match
    // CHECK-SAME: {axes = [1]}       on the same line as the last match
    // CHECK-NOT: kiln.neg            nowhere between the last match and the next one

In a pattern, text matches literally (any run of spaces matches any run of
spaces), ``{{regex}}`` is a regular expression, ``[[NAME:regex]]`` captures
what the regex matched and ``[[NAME]]`` matches what was captured.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .ir import KilnError

_DIRECTIVE = re.compile(r"//\s*(CHECK(?:-LABEL|-NEXT|-SAME|-NOT)?):(.*)$")
_SPECIAL = re.compile(r"\{\{(.*?)\}\}|\[\[([A-Za-z_]\w*)(?::(.*?))?\]\]")


class FileCheckError(KilnError):
    """A CHECK line did not match the output."""


@dataclass
class Check:
    kind: str  # CHECK, CHECK-LABEL, CHECK-NEXT, CHECK-SAME, CHECK-NOT
    pattern: str
    line: int  # in the checks text, for messages


def parse_checks(text: str) -> list[Check]:
    """The CHECK directives of `text`, in order."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        m = _DIRECTIVE.search(line)
        if m:
            out.append(Check(m.group(1), m.group(2).strip(), n))
    return out


def _regex(pattern: str, captured: dict[str, str]) -> tuple[re.Pattern, list[str]]:
    """The regex for a pattern, and the names it captures (in group order)."""
    parts, names, pos = [], [], 0
    for m in _SPECIAL.finditer(pattern):
        parts.append(_literal(pattern[pos:m.start()]))
        regex, name, define = m.groups()
        if regex is not None:
            parts.append(f"(?:{regex})")
        elif define is not None:
            parts.append(f"({define})")
            names.append(name)
        else:
            if name not in captured:
                raise FileCheckError(f"[[{name}]] is used before it is captured")
            parts.append(re.escape(captured[name]))
        pos = m.end()
    parts.append(_literal(pattern[pos:]))
    return re.compile("".join(parts)), names


def _literal(text: str) -> str:
    return r"\s+".join(re.escape(w) for w in re.split(r"\s+", text)) if text.strip() else (
        r"\s*" if text else "")


def check(output: str, checks: str | list[Check]) -> None:
    """Raise FileCheckError unless `output` satisfies `checks` (see the module doc)."""
    directives = parse_checks(checks) if isinstance(checks, str) else checks
    if not directives:
        raise FileCheckError("no CHECK lines: a golden test must check something")
    lines = output.splitlines()
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    text = "\n".join(lines)
    captured: dict[str, str] = {}
    pos, last_line, pending_not = 0, -1, []

    def line_of(offset: int) -> int:
        lo, hi = 0, len(starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def fail(c: Check, why: str, at: int) -> FileCheckError:
        n = line_of(min(at, len(text)))
        near = "\n".join(lines[n:n + 3])
        return FileCheckError(f"check line {c.line}: {c.kind}: {c.pattern!r} {why}; "
                              f"output from line {n + 1}:\n{near}")

    def settle_nots(end: int) -> None:
        for c in pending_not:
            regex, _ = _regex(c.pattern, captured)
            m = regex.search(text, pos, end)
            if m:
                raise fail(c, "matched where it must not", m.start())
        pending_not.clear()

    for c in directives:
        if c.kind == "CHECK-NOT":
            pending_not.append(c)
            continue
        regex, names = _regex(c.pattern, captured)
        if c.kind == "CHECK-SAME":
            lo, hi = pos, starts[last_line + 1] - 1 if last_line >= 0 else 0
        elif c.kind == "CHECK-NEXT":
            if last_line + 1 >= len(lines):
                raise fail(c, "has no next line", len(text))
            lo, hi = starts[last_line + 1], starts[last_line + 2] - 1
        else:
            lo, hi = pos, len(text)
        m = regex.search(text, lo, max(lo, hi))
        if m is None:
            raise fail(c, "did not match", lo)
        settle_nots(m.start())
        captured.update(zip(names, m.groups()))
        pos, last_line = m.end(), line_of(m.end() if m.end() > m.start() else m.start())
    settle_nots(len(text))
