"""Credentials inside strings: which names are secret, and where a value hides in text.

:mod:`~kubetrail.events.redact` decides *where* to look (env values, container
``args``/``command``, ConfigMap values, custom resources); this module finds the
secret part of one string and replaces only that part with ``mark(part)``, so
the rest stays readable:

- **URLs with a password**: ``postgres://app:pw@db:5432/shop`` →
  ``postgres://app:[REDACTED …]@db:5432/shop`` (scheme, user and host stay).
- **Command-line flags** whose name ends in a secret word: ``--password=pw``,
  ``-Ddb.password=pw``, ``--db-password pw`` (in one string, or ``pw`` as the
  next argument of a list).
- **Config lines** whose key ends in a secret word: YAML ``password: pw`` (and a
  block ``privateKey: |`` with the lines below it), properties ``db.password=pw``,
  env files ``DB_PASSWORD=pw``, JSON ``"apiKey": "pw",``; quotes and a trailing
  comma stay.

References that hold no secret themselves (``$(DB_PASSWORD)``, ``${DB_PASSWORD}``)
stay visible, and so does a value that is already a marker: redacting twice
changes nothing. Every function returns its input object itself when nothing
was found (callers test ``is``), and checks a cheap substring before any regex:
they run on every pod and ConfigMap of an ingest.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

Mark = Callable[[Any], str]

#: Env variable and ConfigMap key names whose *whole value* is a credential (matched anywhere in
#: the name). ``PASS`` counts as a word of its own or glued to a prefix (``PGPASS``, ``DB_PASS``)
#: but not in ``BYPASS``/``COMPASS``/``PASSENGER``/``PASS_THROUGH``; ``PWD`` only after a separator
#: (``MYSQL_PWD``; ``PWD`` alone is the working directory); ``AUTH`` not in ``AUTHOR(ITY)``;
#: ``TOKEN`` not in ``TOKENIZER``.
DEFAULT_SENSITIVE_NAMES = r"""(?ix)
    passw(?:or)?d | passphrase | secret | credential
  | api[-_.]?key | private[-_.]?key | (?:signing|encryption|master)[-_.]?key
  | token(?!i[sz])
  | (?<!by)(?<!com)(?<!sur)(?<!tres)(?<!over)(?<!under) pass (?![a-z]) (?![-_.]?through)
  | (?<=[-_.]) pwd (?![a-z]) | (?-i:(?<=[a-z0-9])Pwd)
  | auth (?!or(?!i[sz]))
"""

# The end of a flag name, config key or custom-resource field that holds a credential:
# ``--db-password``, ``spring.datasource.password``, ``apiKey``, ``clientSecret``, ``token``.
# Only the *end* counts, so ``--token-ttl``, ``passwordFile`` and ``secretName`` stay visible.
_KEY_END = r"""
    (?: passw(?:or)?d | passphrase | (?<!existing)secret | token | credentials?
      | api[-_]?key | private[-_]?key
      | (?<!by)(?<!com)(?<!sur)(?<!tres)(?<!over)(?<!under)pass
      | (?<=[-_.])pwd | (?-i:(?<=[a-z0-9])Pwd) )
"""

#: Field names in custom resources whose string value is a credential (the default of
#: ``customResourceFields``): ``password``, ``adminPassword``, ``token``, ``apiKey``,
#: ``clientSecret``… but not ``secretName``, ``existingSecret`` or ``passwordFile``.
SENSITIVE_FIELDS = r"(?ix)" + _KEY_END + r"$"

_MARKER_TEXT = r"\[REDACTED\ hmac-sha256:[0-9a-f]{12}\]"
_REFERENCE = re.compile(r"\$(?:\{[^{}]*\}|\([^()]*\))")

# From "://": the user (may be empty: redis://:pw@host), then the password up to the last "@"
# before the host, so a password with an unencoded "@" is still hidden whole.
_URL_AFTER_SCHEME = re.compile(r"://[^\s:/?#@\"'\[\]]*:(?P<secret>[^\s/?#\"']*)(?=@)")

_VALUE = rf"(?:{_MARKER_TEXT}|\"[^\"\n]*\"|'[^'\n]*'|[^\s\"']+)"
# Starts with a literal "-" so the regex engine skips to each dash (a fast scan); the name is
# checked afterwards (_secret_key), a simple greedy regex being much faster than one that
# tries every secret word at every position.
_FLAG_IN_TEXT = re.compile(
    rf"-(?<![\w-]-)-?(?P<name>[A-Za-z][\w.-]*)(?:=|[ \t]+(?!-))(?P<secret>{_VALUE})"
)
_FLAG_ALONE = re.compile(r"--?(?P<name>[A-Za-z][\w.-]*)")
_CONFIG_KEY = re.compile(
    r"""[ \t]*(?:-[ \t]+)?(?:export[ \t]+)?(?P<kq>["']?)(?P<name>[\w.-]+)(?P=kq)[ \t]*[:=][ \t]*"""
)
_KEY_ENDS = re.compile(SENSITIVE_FIELDS)
_BLOCK_SCALAR = re.compile(r"[|>][-+0-9]*(?:[ \t]+#.*)?")
# What may follow a hint (below) at the end of a config key: the rest of the word, then ":"/"=".
_KEY_TAIL = re.compile(r"(?:word|wd|phrase|s)?[\"']?[ \t]*[:=]")
# A secret flag or config key contains one of these (lowercase): the cheap pre-check. Regex
# alternations scan slowly in Python; ``str.lower`` and ``in`` scan at memory speed.
_HINTS = ("pass", "pwd", "secret", "token", "credential", "key")
_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def is_reference(value: str) -> bool:
    """``$(VAR)`` or ``${VAR}``: a reference to a secret, not the secret itself."""
    return value.startswith("$") and _REFERENCE.fullmatch(value) is not None


def url_credentials(text: str, mark: Mark) -> str:
    """Hide the password of every URL in ``text`` (``scheme://user:password@host``)."""
    if "://" not in text or "@" not in text:
        return text
    spans = []
    i = text.find("://")
    while i != -1:
        match = _URL_AFTER_SCHEME.match(text, i)
        if match is not None:
            spans.append(match.span("secret"))
        i = text.find("://", i + 3)
    return _splice(text, spans, mark)


def flags_in_text(text: str, mark: Mark) -> str:
    """Hide the values of secret flags in ``text`` (``--password=pw``, ``--token pw``)."""
    return hide_credentials(text, mark, urls=False, flags=True)


def config_lines(text: str, mark: Mark) -> str:
    """Hide the values of secret keys in a config file's lines (YAML, properties, env file)."""
    return hide_credentials(text, mark, urls=False, flags=False, lines=True)


def hide_credentials(
    text: str, mark: Mark, *, urls: bool = True, flags: bool = True, lines: bool = False
) -> str:
    """Everything above that is switched on, with one cheap pre-check of ``text``."""
    if urls and "://" in text and "@" in text:
        text = url_credentials(text, mark)
    # a flag with a value has a dash and "=" or a space: most values with a dash have neither
    flags = flags and "-" in text and ("=" in text or " " in text or "\t" in text)
    lines = lines and ("=" in text or ":" in text)
    if not (flags or lines):
        return text
    lowered = _lower(text)
    if lines:  # where each hint first occurs: the lines below start their search there
        hints = [(hint, i) for hint in _HINTS if (i := lowered.find(hint)) != -1]
        if not hints:
            return text
    elif not _has_hint(lowered):
        return text
    spans = []
    if flags:
        spans = [m.span("secret") for m in _FLAG_IN_TEXT.finditer(text) if _secret_key(m["name"])]
    if lines:
        spans += _config_line_spans(text, lowered, hints)
        spans.sort(key=lambda span: (span[0], -span[1]))  # a line's value before a flag in it
    return _splice(text, spans, mark)


def _config_line_spans(
    text: str, lowered: str, hints: list[tuple[str, int]]
) -> list[tuple[int, int]]:
    starts: set[int] = set()  # lines where a secret word ends a key: only they can match
    for hint, i in hints:
        while i != -1:
            i += len(hint)
            if _KEY_TAIL.match(lowered, i):
                starts.add(lowered.rfind("\n", 0, i) + 1)
            i = lowered.find(hint, i)
    spans = []
    for start in sorted(starts):
        match = _CONFIG_KEY.match(text, start)
        if match is None or not _secret_key(match["name"]):
            continue
        begin, end = match.end(), text.find("\n", start)
        end = len(text) if end == -1 else end
        while end > begin and text[end - 1] in " \t\r":
            end -= 1
        if match["kq"] and text[end - 1 : end] == ",":  # JSON: "password": "pw",
            end -= 1
        if _BLOCK_SCALAR.fullmatch(text, begin, end):  # YAML "privateKey: |", lines below
            block = _block_span(text, start, end)
            if block is not None:
                spans.append(block)
            continue
        spans.append((begin, end))
    return spans


def _block_span(text: str, line_start: int, line_end: int) -> tuple[int, int] | None:
    """The lines after ``line_start``'s that are indented deeper (a YAML block scalar)."""
    line = text[line_start:line_end]
    indent = len(line) - len(line.lstrip(" \t-"))
    first = last = None
    cur = text.find("\n", line_end) + 1
    while 0 < cur < len(text):
        stop = text.find("\n", cur)
        stop = len(text) if stop == -1 else stop
        content = text[cur:stop].rstrip(" \t\r")
        body = content.lstrip(" \t")
        if body:
            if len(content) - len(body) <= indent:
                break
            first = cur + len(content) - len(body) if first is None else first
            last = cur + len(content)
        cur = stop + 1
    return None if first is None or last is None else (first, last)


def command_line(
    args: list[Any], mark: Mark, *, flags: bool = True, urls: bool = True
) -> list[Any] | None:
    """A container's ``command`` or ``args`` with secret flag values and URL passwords hidden;
    ``None`` when nothing was hidden. A flag alone (``--db-password``) hides the next argument."""
    try:
        joined = " ".join(args)
    except TypeError:  # not all strings: a shape no API server sends; the loop checks each
        joined = "-://@"
    if not (urls and "://" in joined and "@" in joined) and not (
        flags and "-" in joined and _has_hint(_lower(joined))
    ):
        return None  # the common case: one check of all the arguments at once
    result: list[Any] | None = None
    hide_next = False
    for i, arg in enumerate(args):
        if type(arg) is not str:
            hide_next = False
            continue
        new = arg
        if hide_next and not arg.startswith("-"):
            new = _hidden(arg, mark) or arg
        else:
            if urls:
                new = url_credentials(new, mark)
            if flags:
                new = flags_in_text(new, mark)
        hide_next = flags and arg.startswith("-") and _flag_alone(arg)
        if new is not arg:
            if result is None:
                result = list(args)
            result[i] = new
    return result


def may_hold_credentials(text: str) -> bool:
    """A cheap pre-check: could ``text`` hold a URL password or a secret flag's value?

    The same container strings come back with every update of every replica: short texts'
    answers are remembered (a bounded cache: cleared when full)."""
    answer = _prechecked.get(text)
    if answer is None:
        answer = ("://" in text and "@" in text) or ("-" in text and _has_hint(_lower(text)))
        if len(text) <= _PRECHECK_MAX_TEXT:
            if len(_prechecked) >= _PRECHECK_ENTRIES:
                _prechecked.clear()
            _prechecked[text] = answer
    return answer


_PRECHECK_MAX_TEXT = 4096
_PRECHECK_ENTRIES = 4096  # at most 16 MB of remembered texts
_prechecked: dict[str, bool] = {}


def _flag_alone(arg: str) -> bool:
    if "=" in arg or not _has_hint(_lower(arg)):
        return False
    match = _FLAG_ALONE.fullmatch(arg)
    return match is not None and _secret_key(match["name"])


@functools.lru_cache(maxsize=4096)
def _secret_key(name: str) -> bool:
    """Whether a flag name or config key ends in a secret word (names repeat: cached)."""
    return _KEY_ENDS.search(name) is not None


def _has_hint(lowered: str) -> bool:
    return (  # the same words as _HINTS, spelled out: faster than any() over a generator
        "pass" in lowered
        or "token" in lowered
        or "secret" in lowered
        or "key" in lowered
        or "pwd" in lowered
        or "credential" in lowered
    )


def _lower(text: str) -> str:
    # str.lower can change the length of a non-ASCII text; positions must stay the same
    return text.lower() if text.isascii() else text.translate(_ASCII_LOWER)


def _hidden(value: str, mark: Mark) -> str | None:
    """``value`` as a marker (a quoted value keeps its quotes), or ``None`` if there is
    nothing to hide: empty, a reference, or a marker already."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        inner = _hidden(value[1:-1], mark)
        return None if inner is None else f"{value[0]}{inner}{value[0]}"
    if not value or is_reference(value):
        return None
    new = mark(value)
    return None if new is value else new


def _splice(text: str, spans: list[tuple[int, int]], mark: Mark) -> str:
    """``text`` with each (start, end) span hidden; ``text`` itself if nothing changed."""
    pieces: list[str] = []
    pos = 0
    for start, end in spans:
        if start < pos:  # inside a span already hidden (a flag in a secret line's value)
            continue
        new = _hidden(text[start:end], mark)
        if new is not None:
            pieces += (text[pos:start], new)
            pos = end
    if not pieces:
        return text
    pieces.append(text[pos:])
    return "".join(pieces)
