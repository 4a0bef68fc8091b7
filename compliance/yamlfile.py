"""Read a YAML input (policy, waivers) with the line of every key.

Both files promise errors as `file:line: key: problem`, so both are read the
same way: bytes (for their SHA-256 in the reports), decoded data, and a map
from each key path to the line it stands on.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass(frozen=True)
class YamlFile:
    path: str
    sha256: str
    data: object
    lines: dict  # key path, e.g. ('services', 'db', 'user') or (0, 'control') -> 1-based line

    def where(self, key_path: tuple) -> str:
        """`file:line` of the key (or of its nearest parent that has a line)."""
        line = next((self.lines[key_path[:n]] for n in range(len(key_path), 0, -1)
                     if key_path[:n] in self.lines), None)
        return f"{self.path}:{line}" if line else self.path


def read(path: str | Path, what: str, error: type[Exception], loader=yaml.SafeLoader) -> YamlFile:
    """Load `path`; any problem is `error("file[:line]: ...")` naming `what` it was meant to be."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise error(f"{path}: cannot read {what}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
        data = yaml.load(text, Loader=loader)
        lines = key_lines(yaml.compose(text, Loader=yaml.SafeLoader))
    except UnicodeDecodeError:
        raise error(f"{path}: {what} is not UTF-8 text") from None
    except yaml.YAMLError as exc:
        raise error(malformed(path, exc)) from None
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        # PyYAML's constructors raise these for values it cannot build (`!!timestamp nope`)
        raise error(f"{path}: malformed YAML: cannot read a value ({type(exc).__name__})") from None
    return YamlFile(str(path), hashlib.sha256(raw).hexdigest(), data, lines)


def malformed(path, exc: yaml.YAMLError) -> str:
    """`file:line:column: malformed YAML: problem (context at line:column)`: where the parser
    stopped, and where what it was reading began (an unclosed `[` or quote), both 1-based."""
    mark = getattr(exc, "problem_mark", None)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context, began = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and began:
        problem += f" ({context} started at {began.line + 1}:{began.column + 1})"
    return f"{where}: malformed YAML: {problem}"


def syntax_error(path) -> str | None:
    """The `malformed` message of a file that is not YAML, or None (also when it cannot be
    read: that is for its reader to say). Only parsed, not built: a tag the safe loader
    does not know (compose's `!reset`) is no syntax error."""
    try:
        yaml.compose(Path(path).read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        return malformed(path, exc)
    except (OSError, UnicodeDecodeError):
        return None
    return None


# At most this many key paths: a node reached through many aliases is walked once per path,
# so an alias bomb (`&a [x, x]`, `&b [*a, *a]`, ...) would otherwise never end.
MAX_PATHS = 100_000


def key_lines(node, path=(), out=None, within=()) -> dict[tuple, int]:
    """Map each key path to its 1-based line. A node reached through an alias (or merged
    with `<<`, once constructed) is walked at every path that reaches it, its lines its
    anchor's, but never inside itself (`&a [*a]` would never end)."""
    out = {} if out is None else out
    if id(node) in within or len(out) >= MAX_PATHS:
        return out
    within = (*within, id(node))
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):  # a complex key (`? [a, b]`) has no path
                sub = (*path, key.value)
                out[sub] = key.start_mark.line + 1
                key_lines(value, sub, out, within)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            out[(*path, index)] = item.start_mark.line + 1
            key_lines(item, (*path, index), out, within)
    return out


def key_name(key) -> str:
    """A key as an error names it, on one line: a plain key as written, any other (a
    newline, a control character, quotes, an empty string) as its repr, so an error
    stays the one line the loaders promise."""
    text = str(key)
    return text if text.isprintable() and text.strip() == text and text else repr(text)


def key_path(path: tuple) -> str:
    """`defaults.memory_max`: a key path as an error names it."""
    return ".".join(map(key_name, path)) or "(top level)"


def kind(value) -> str:
    """How a wrong value reads in an error: its type and (short) repr."""
    return "nothing" if value is None else f"{type(value).__name__} {value!r}"[:80]
