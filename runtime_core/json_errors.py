"""What is wrong with an invalid JSON event, in the words awslambdaric's parser uses.

awslambdaric 4.2.2 parses events with simplejson (4.3 in its current install), and its
``Runtime.UnmarshalError`` message is ``Unable to unmarshal input: `` followed by
simplejson's error. Those messages differ from the stdlib's in many places (``Expecting
',' delimiter or ']'``, ``Illegal trailing comma before end of array``, ``Invalid \\X
escape sequence 'x'``, ``Extra data`` with the range to the end, ...), and callers compare
them. simplejson is not a dependency of the runtime, so this module finds the first fault
of an invalid document the way simplejson's scanner meets it, and words it the same.

It only runs for a body the fast parsers refused, so it is plain Python, written for
clarity; it walks the document with an explicit stack, so any depth is fine. Its rules
were read off simplejson's behaviour and are checked against simplejson itself by a
differential test over crafted and random documents (``tests/dispatch``).
"""

from __future__ import annotations

__all__ = ["describe"]

_SPACE = " \t\n\r"
_HEX = "0123456789abcdefABCDEF"
_DIGITS = "0123456789"
_SIMPLE_ESCAPES = '"\\/bfnrt'
_WORDS = {"n": "null", "t": "true", "f": "false"}


class _Fault(Exception):
    def __init__(self, message: str, pos: int, end: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos
        self.end = end


def describe(text: str) -> str | None:
    """simplejson's message for the first fault of ``text`` (``Expecting value: line 1
    column 1 (char 0)``), or None when simplejson would find no syntax fault (the
    document is valid; what failed was something else, such as its depth)."""
    try:
        _check(text)
    except _Fault as fault:
        where = _position(text, fault.pos)
        if fault.end is not None:
            end = _position(text, fault.end)
            where = (
                f"{where.split(' (')[0]} - {end.split(' (')[0]} (char {fault.pos} - {fault.end})"
            )
        return f"{fault.message}: {where}"
    return None


def _position(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    column = pos + 1 if line == 1 else pos - text.rindex("\n", 0, pos)
    return f"line {line} column {column} (char {pos})"


def _skip(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i] in _SPACE:
        i += 1
    return i


def _check(text: str) -> None:
    start = 1 if text.startswith("\ufeff") else 0  # simplejson skips one leading BOM
    i = _skip(text, start)
    end = _value(text, i, "Expecting value")
    end = _skip(text, end)
    if end != len(text):
        raise _Fault("Extra data", end, len(text))


def _value(text: str, i: int, expecting: str) -> int:
    """Walk one value starting at ``i``; return where it ends. ``expecting`` is the
    message for "no value starts here", which depends on where the value was expected."""
    # The stack holds the open containers: ("[", _) or ("{", _), innermost last.
    stack: list[str] = []
    while True:
        i = _scalar_or_open(text, i, expecting, stack)
        # After a value: close containers or move to the next element.
        while True:
            if not stack:
                return i
            i = _skip(text, i)
            kind = stack[-1]
            close = "]" if kind == "[" else "}"
            char = text[i] if i < len(text) else ""
            if char == close:
                stack.pop()
                i += 1
                continue
            if char != ",":
                raise _Fault(f"Expecting ',' delimiter or '{close}'", i)
            comma = i
            i = _skip(text, i + 1)
            if i < len(text) and text[i] == close:
                kind_name = "array" if kind == "[" else "object"
                raise _Fault(f"Illegal trailing comma before end of {kind_name}", comma)
            if kind == "{":
                i = _member_name(text, i, "Expecting property name enclosed in double quotes")
            expecting = "Expecting value"
            break


def _scalar_or_open(text: str, i: int, expecting: str, stack: list[str]) -> int:
    """Walk a scalar, or open containers (pushing them) down to the first scalar or an
    empty container; return the index after what was walked."""
    while True:
        char = text[i] if i < len(text) else ""
        if char == "[":
            i = _skip(text, i + 1)
            if i < len(text) and text[i] == "]":
                return i + 1
            stack.append("[")
            # simplejson says "or ']'" only when the text ends right after the "[".
            expecting = "Expecting value or ']'" if i >= len(text) else "Expecting value"
            continue
        if char == "{":
            i = _skip(text, i + 1)
            if i < len(text) and text[i] == "}":
                return i + 1
            stack.append("{")
            i = _member_name(text, i, "Expecting property name enclosed in double quotes or '}'")
            expecting = "Expecting value"
            continue
        if char == '"':
            return _string(text, i + 1)
        word = _WORDS.get(char)
        if word is not None and text.startswith(word, i):
            return i + len(word)
        end = _number(text, i)
        if end is None:
            raise _Fault(expecting, i)
        return end


def _member_name(text: str, i: int, expecting: str) -> int:
    """Walk ``"name" :`` and the space after it; return where the member's value starts."""
    if i >= len(text) or text[i] != '"':
        raise _Fault(expecting, i)
    i = _skip(text, _string(text, i + 1))
    if i >= len(text) or text[i] != ":":
        raise _Fault("Expecting ':' delimiter", i)
    return _skip(text, i + 1)


def _number(text: str, i: int) -> int | None:
    """The end of the number at ``i`` (JSON's grammar, the longest valid prefix), or None."""
    n = len(text)
    j = i + 1 if i < n and text[i] == "-" else i
    if j < n and text[j] == "0":
        j += 1
    elif j < n and "1" <= text[j] <= "9":
        while j < n and text[j] in _DIGITS:
            j += 1
    else:
        return None
    if j + 1 < n and text[j] == "." and text[j + 1] in _DIGITS:
        j += 2
        while j < n and text[j] in _DIGITS:
            j += 1
    if j < n and text[j] in "eE":
        k = j + 1
        if k < n and text[k] in "+-":
            k += 1
        if k < n and text[k] in _DIGITS:
            while k < n and text[k] in _DIGITS:
                k += 1
            j = k
    return j


def _string(text: str, i: int) -> int:
    """Walk a string whose opening quote is at ``i - 1``; return the index after it."""
    begin = i - 1
    n = len(text)
    while True:
        if i >= n:
            raise _Fault("Unterminated string starting at", begin)
        char = text[i]
        if char == '"':
            return i + 1
        if char < " ":
            raise _Fault(f"Invalid control character {char!r} at", i)
        if char != "\\":
            i += 1
            continue
        if i + 1 >= n:
            raise _Fault("Unterminated string starting at", begin)
        escape = text[i + 1]
        if escape == "u":
            if not _is_hex4(text, i + 2):
                raise _Fault("Invalid \\uXXXX escape sequence", i)
            i += 6
        elif escape in _SIMPLE_ESCAPES:
            i += 2
        else:
            raise _Fault(f"Invalid \\X escape sequence {escape!r}", i + 1)


def _is_hex4(text: str, i: int) -> bool:
    digits = text[i : i + 4]
    return len(digits) == 4 and all(c in _HEX for c in digits)
