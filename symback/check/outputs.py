"""What ``symback check`` writes for people and for CI: the text report of one file, the summary
of a class, JUnit XML and GitHub workflow commands.  Numbers are rounded for people; student
text (file names, what they wrote) is data and is escaped for each output.

Entries are written 1-based as a teacher does (``w1[1, 3]``), as in the reports; JSON keeps
the 0-based ``index``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ..numeric.formatting import number
from ..printable import printable
from .grade import FileResult, note

SHOWN_DIGITS = 6


def shown(value) -> str:
    """A value as people read it: rounded to 6 significant digits; text (a formula) as it is."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return number(value, SHOWN_DIGITS)


def mistake_lines(r: FileResult) -> list[str]:
    """Every independent mistake, with where it is, what was written and why."""
    lines = []
    for group in r.mistake_groups():
        j = group[0]
        more = f" (and {len(group) - 1} more entr{'y' if len(group) == 2 else 'ies'} of {j.name})" if len(group) > 1 \
            else ""
        where = f" (line {j.line})" if j.line else ""
        if j.section == "formulas":
            lines.append(f"✗ {j.label()}{where}: {j.text}")
            if j.diagnosis and j.reason:
                lines.append(f"    {j.reason}")
        else:
            lines.append(f"✗ {j.label()}{where}: wrote {j.text}, expected {shown(j.expected)}{more}")
        lines.append(f"    {note(j)}" if note(j) else "    cause unknown")
    return lines


def error_lines(r: FileResult) -> list[str]:
    lines = []
    for j in r.items:
        if j.status == "error":
            where = j.label() if j.section != "file" else "the file"
            lines.append(f"! {where}" + (f" (line {j.line}, column {j.column})" if j.line else "") + f": {j.reason}")
    return lines


def file_report(r: FileResult, verbose: bool = False) -> list[str]:
    """The terminal report of one file: the counts, every independent mistake, what could not be read."""
    if r.verdict == "error" and not r.items:
        return [f"{r.file}: error: {r.error}"]
    lines = [f"{r.file}: {r.summary()}"]
    if r.verdict == "correct":
        lines[0] = f"{r.file}: every value is correct ({r.summary()})"
    first = r.first_mistake
    if first is not None:
        lines[0] += f"; first mistake at {first.label()}" + (f" (line {first.line})" if first.line else "")
    mistakes = mistake_lines(r)
    if mistakes:
        n = len(r.mistake_groups())
        carried = r.counts["carried"]
        them = "them" if n != 1 else "it"
        tail = f"; the {carried} carried value{'s follow' if carried != 1 else ' follows'} from {them}" \
            if carried else ""
        lines.append(f"{n} independent mistake{'s' if n != 1 else ''}{tail}:")
        lines += ["  " + m for m in mistakes]
    errors = error_lines(r)
    if errors:
        lines.append("could not be read or judged:")
        lines += ["  " + e for e in errors]
    if verbose:
        lines.append("every value:")
        for j in r.items:
            where = f" (line {j.line})" if j.line else ""
            text = f"wrote {j.text}" if j.section != "file" else ""
            expected = f", expected {shown(j.expected)}" if j.expected is not None and j.section != "formulas" else ""
            rule = f" [{j.rule}]" if j.rule else ""
            lines.append(f"  {j.status:9s} {j.label()}{where}: {text}{expected}{rule}" + (
                f" — {note(j)}" if note(j) else ""))
    elif r.counts["correct"] and r.verdict != "correct":
        lines.append("(--verbose lists every value)")
    return lines


def summary_line(r: FileResult) -> str:
    """A class's line for one file: its full name whatever the terminal, its verdict and mistakes."""
    if r.verdict == "error" and not r.items:
        return f"{r.file}: error — {r.error}"
    codes = [f"{(g[0].diagnosis or {}).get('code') or 'cause unknown'} ({g[0].label()})" for g in r.mistake_groups()]
    tail = "; " + ", ".join(codes) if codes else ""
    return f"{r.file}: {r.verdict} — {r.summary()}{tail}"


def totals_line(totals: dict) -> str:
    return (f"{totals['files']} files: {totals['correct']} correct, {totals['mistakes']} with mistakes, "
            f"{totals['error']} with errors")


def class_summary(results: list[FileResult]) -> list[str]:
    """A line per file and the totals."""
    return [summary_line(r) for r in results] + [totals_line(totals(results))]


def totals(results: list[FileResult]) -> dict:
    verdicts = [r.verdict for r in results]
    return {"files": len(results), "correct": verdicts.count("correct"), "mistakes": verdicts.count("mistakes"),
            "error": verdicts.count("error")}


# -- text for a terminal, a CI log, XML -----------------------------------------------------------------
def _xml_text(s: str) -> str:
    """Text XML 1.0 can hold: characters it forbids become U+FFFD."""
    return "".join(c if c in "\t\n\r" or (" " <= c <= "\ud7ff") or ("\ue000" <= c <= "\ufffd")
                   or ("\U00010000" <= c <= "\U0010ffff") else "\ufffd" for c in s)


JUNIT_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="symback check">\n'
JUNIT_TAIL = "</testsuites>\n"


def junit_suite(r: FileResult) -> str:
    """One solution file as a JUnit test suite (a test case per written value), valid XML whatever
    its name holds."""
    counts = r.counts
    suite = ET.Element("testsuite", name=_xml_text(r.file), tests=str(max(1, len(r.items))),
                       failures=str(counts["wrong"] + counts["imprecise"]),
                       errors=str(counts["error"] or int(r.verdict == "error")), skipped="0")
    if r.verdict == "error" and not r.items:
        case = ET.SubElement(suite, "testcase", name="read the solution file", classname=_xml_text(r.file))
        ET.SubElement(case, "error", message=_xml_text(r.error or ""))
    for j in r.items:
        case = ET.SubElement(suite, "testcase", name=_xml_text(j.label()), classname=_xml_text(r.file))
        if j.status in ("wrong", "imprecise"):
            message = f"wrote {j.text}, expected {shown(j.expected)}" if j.section != "formulas" else j.text
            if note(j):
                message += f" ({note(j)})"
            ET.SubElement(case, "failure", message=_xml_text(message))
        elif j.status == "error":
            ET.SubElement(case, "error", message=_xml_text(j.reason or ""))
    ET.indent(suite, space="  ", level=1)
    return "  " + ET.tostring(suite, encoding="unicode") + "\n"


def junit_xml(results: list[FileResult]) -> str:
    """JUnit XML: a test suite per solution file, a test case per written value."""
    return JUNIT_HEAD + "".join(junit_suite(r) for r in results) + JUNIT_TAIL


def _data(s: str) -> str:
    """A workflow command's message (GitHub: %, CR and LF escaped)."""
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(s: str) -> str:
    """A workflow command's property value (GitHub: also ':' and ',')."""
    return _data(s).replace(":", "%3A").replace(",", "%2C")


def annotations(r: FileResult) -> list[str]:
    """``::error`` workflow commands for one file: each wrong or unreadable item, or the file."""
    name = _property(printable(r.file))
    if r.verdict == "error" and not r.items:
        return [f"::error file={name}::{_data(printable(r.error or 'unreadable'))}"]
    lines = []
    for j in r.items:
        if j.status not in ("wrong", "error", "imprecise"):
            continue
        kind = "warning" if j.status == "imprecise" else "error"
        where = f",line={j.line},col={j.column}" if j.line else ""
        if j.status == "error":
            text = j.reason or "cannot be read"
        elif j.section == "formulas":
            text = f"{j.text}: {note(j)}"
        else:
            text = f"wrote {j.text}, expected {shown(j.expected)}" + (f" — {note(j)}" if note(j) else "")
        lines.append(f"::{kind} file={name}{where},title={_property(j.label())}::{_data(printable(text))}")
    return lines


def github_annotations(results: list[FileResult]) -> list[str]:
    """``::error`` workflow commands, one per wrong value, unreadable part or unreadable file."""
    return [line for r in results for line in annotations(r)]
