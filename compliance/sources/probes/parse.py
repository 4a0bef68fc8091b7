"""Reading what a probe container printed (pure): its lines -> raw observations."""

import re

from compliance.observations import ProbeError

_ERRNO_NAMES = {
    "Read-only file system": "EROFS",
    "Permission denied": "EACCES",
    "Operation not permitted": "EPERM",
    "No space left on device": "ENOSPC",
    "No such file or directory": "ENOENT",
}



def probe_lines(output: str, kind: str) -> list[list[str]]:
    """The fields of each "@@<kind>" line; ProbeError when the probe did not finish."""
    lines = [line.strip() for line in output.splitlines()]
    if "@@done" not in lines:
        tail = " | ".join(line for line in lines if line)[-300:]
        raise ProbeError(f"the probe did not finish (output: {tail or 'none'})")
    return [line.split(" ")[1:] for line in lines if line.startswith(f"@@{kind} ") or
            line == f"@@{kind}"]


def connect_result(rc: str, text: str) -> tuple[str, str]:
    """busybox nc's exit status and message -> (result, detail)."""
    lowered = text.lower()
    if rc == "0":
        return "connected", ""
    if "refused" in lowered:
        return "refused", ""
    if "timed out" in lowered or rc in ("124", "143"):
        return "timeout", ""
    if "unreachable" in lowered or "no route" in lowered:
        return "unreachable", text
    return "error", f"exit {rc}: {text}".strip()[:200]


# When a connect was tried more than once, what one try saw decides, in this order: an
# answer (connected, refused) over a failed try over no answer.
DECIDES = ("connected", "refused", "error", "unreachable", "timeout")


def parse_connects(output: str) -> dict[str, tuple[str, str]]:
    """Attempt id -> (result, detail), its tries combined (DECIDES)."""
    found: dict[str, tuple[str, str]] = {}
    for fields in probe_lines(output, "connect"):
        if len(fields) >= 2:
            seen = connect_result(fields[1], " ".join(fields[2:]))
            known = found.get(fields[0])
            if known is None or DECIDES.index(seen[0]) < DECIDES.index(known[0]):
                found[fields[0]] = seen
    return found


def parse_ssl(output: str) -> dict[str, tuple[str, str | None, str]]:
    """Address -> (result, answer, detail)."""
    out = {}
    for fields in probe_lines(output, "ssl"):
        if len(fields) < 2:
            continue
        address, rc, text = fields[0], fields[1], " ".join(fields[2:])
        byte = re.search(r"(?:^|\s)([0-9a-f]{2})$", text)
        if byte:
            value = int(byte.group(1), 16)
            answer = chr(value) if chr(value) in "SN" else f"0x{value:02x}"
            out[address] = ("connected", answer, "")
        elif rc == "0":
            out[address] = ("connected", None, "")
        else:
            result, detail = connect_result(rc, text)
            out[address] = (result, None, detail)
    return out


def parse_write(output: str) -> tuple[str, str, bool, bool, str]:
    """(result, errno, left_behind, removed, detail) of a write probe."""
    for kind in ("identity", "access"):
        found = probe_lines(output, kind)
        if found:
            return "error", "", False, True, f"{kind}: {' '.join(found[0])}".strip()
    found = probe_lines(output, "write")
    if not found or len(found[0]) < 3:
        raise ProbeError("the write probe reported nothing")
    rc, left, removed, text = found[0][0], found[0][1], found[0][2], " ".join(found[0][3:])
    left_behind, removed_ok = left == "1", removed != "0"
    if rc == "0":
        return "written", "", left_behind, removed_ok, ""
    strerror = text.rsplit(": ", 1)[-1].strip() if text else ""
    errno = _ERRNO_NAMES.get(strerror, "")
    if not errno:
        return "error", "", left_behind, removed_ok, text[:200]
    return "refused", errno, left_behind, removed_ok, strerror


def parsed(parse, output: str):
    try:
        return parse(output)
    except ProbeError as exc:
        return exc
