"""Helpers that turn document problems into `ConfigError` lines: ``path: message``, one per problem.

Paths look like the document itself (``customer.processors[1].config.contracts[0]``), so a person can find
the bad key without knowing pydantic. Pydantic's wording is kept for ordinary type errors; the few messages
that read badly in a config file are replaced with short ones.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from itertools import chain, compress
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from core.errors import BadRequest, ConfigError, invalid_parameter

ROOT = "document"  # the path shown for a problem with the whole document
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")  # keys shown as they are in a path (`customer.api`)


# Bounds of a parsed JSON or YAML value a client sends (`shape_problem`): far beyond any document, variables or
# filter of ours, and well inside what recursive code (ours, pydantic's, orjson's writer: 254 levels) can take.
MAX_NESTING = 64
MAX_VALUES = 100_000
# What JSON and PyYAML's safe loader build containers of (exact types: neither builds subclasses).
_CONTAINERS = frozenset({dict, list, tuple})
_is_container = _CONTAINERS.__contains__
_is_dict = frozenset({dict}).__contains__
_is_sequence = frozenset({list, tuple}).__contains__


def shape_problem(
    value: object, *, max_depth: int = MAX_NESTING, max_values: int | None = MAX_VALUES
) -> str | None:
    """Why a parsed JSON or YAML value is refused before anything walks it, or None: lists and mappings nested
    more than `max_depth` deep (a YAML alias that holds itself is infinitely deep), or more than `max_values`
    values once YAML aliases are expanded (a "billion laughs" document is a few lines of aliases of aliases, and
    every walk of it, ours or a validator's, expands them; None for JSON, which has no aliases and whose size the
    body limit bounds).

    Level by level, each level's values gathered and its containers picked out by C iterators (chain, compress,
    map): no Python code runs per value, and a crafted body of many small lists costs a few milliseconds (a
    loop over them in Python took ~400 ms for 1 MB). Iterative, so the value cannot exhaust the stack; a level
    is counted before it is gathered, so aliases cannot make it large."""
    level: list[Any] = [value] if type(value) in _CONTAINERS else []
    seen, depth = 1, 1
    while level:
        if depth > max_depth:
            return f"is nested more than {max_depth} levels deep"
        seen += sum(map(len, level))
        if max_values is not None and seen > max_values:
            return f"holds more than {max_values} values (YAML aliases expanded)"
        dicts = compress(level, map(_is_dict, map(type, level)))
        sequences = compress(level, map(_is_sequence, map(type, level)))
        values = list(chain(chain.from_iterable(map(dict.values, dicts)), chain.from_iterable(sequences)))
        level = list(compress(values, map(_is_container, map(type, values))))
        depth += 1
    return None


def check_json_shape(value: object, what: str) -> None:
    """A JSON value a client sent (`what`: "the body", "variables"), refused with a 400 `too_deeply_nested` when
    nested more than `MAX_NESTING` levels deep (`shape_problem`): deeper values broke our recursive walks and
    orjson's writer (a 500), and none of ours comes near."""
    problem = shape_problem(value, max_values=None)
    if problem is not None:
        raise BadRequest(f"{what} {problem}", code="too_deeply_nested")


def unstorable_text(value: str) -> str | None:
    """Why text a client gave cannot be stored or sent on, or None when it can: a NUL character (PostgreSQL
    refuses one in text and JSON values, and no stored value holds one) or a lone surrogate (half of a UTF-16
    pair, which no UTF-8 encoder, the database driver's or a JSON writer's, can encode)."""
    if "\x00" in value:
        return "contains a NUL character"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "contains a lone surrogate (not valid Unicode text)"
    return None


def storable_text(value: str) -> str:
    """`value` with what `unstorable_text` refuses escaped (a NUL as ``\\x00``, a lone surrogate as ``\\udXXX``):
    for text kept as a record of what a client sent, such as a request path in the audit log."""
    if unstorable_text(value) is None:
        return value
    return value.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


def checked_text(parameter: str, value: str) -> str:
    """`value` when it is storable text, else a 400 `invalid_parameter` naming `parameter`."""
    problem = unstorable_text(value)
    if problem is not None:
        raise invalid_parameter(parameter, problem)
    return value


def text_problems(data: object, prefix: str = "") -> list[str]:
    """``path: problem`` for every key and string value of a parsed document (mappings and lists, as YAML and
    JSON give them) that `unstorable_text` refuses."""
    problems: list[str] = []

    def walk(value: object, loc: tuple[int | str, ...]) -> None:
        if isinstance(value, str):
            problem = unstorable_text(value)
            if problem is not None:
                problems.append(f"{format_path(loc, prefix)}: {problem}")
        elif isinstance(value, Mapping):
            for key, item in value.items():
                if isinstance(key, str) and (problem := unstorable_text(key)) is not None:
                    problems.append(f"{format_path((*loc, key), prefix)}: the key {problem}")
                walk(item, (*loc, key if isinstance(key, str | int) else str(key)))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, (*loc, index))

    walk(data, ())
    return problems


def format_path(loc: Sequence[int | str], prefix: str = "") -> str:
    """``("customer", "processors", 1, "type")`` -> ``customer.processors[1].type`` (after `prefix`)."""
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not _PLAIN_KEY.fullmatch(part):
            path += f"[{part!a}]"  # any other key quoted and escaped: the line prints, encodes, reads as one
        else:
            path += f".{part}" if path else str(part)
    return path or ROOT


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be a mapping"
    if kind == "list_type":
        return "must be a list"
    bounds = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}
    if kind in bounds:
        limit = next(iter(ctx.values()), "?")
        return f"must be {bounds[kind]} {limit}"
    message = error["msg"]
    for noise in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(noise)
    return message


def error_lines(exc: ValidationError, prefix: str = "") -> list[str]:
    """One ``path: message`` line per error of a pydantic `ValidationError`."""
    return [f"{format_path(error['loc'], prefix)}: {_message(error)}" for error in exc.errors()]


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key repeated in one mapping is an error.

    Plain PyYAML keeps the last value silently, so a second ``api:`` block would quietly replace the first.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # unhashable key: let PyYAML report it
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
        return super().construct_mapping(node, deep=deep)


def load_yaml_documents(text: str) -> list[object]:
    """Every non-empty document of a (multi-document) YAML text; JSON is YAML too.

    Empty documents (e.g. after a trailing ``---``) are skipped. Syntax errors become
    ``ConfigError(["line N: problem"])``; a document nested too deeply, or too large once its aliases are
    expanded (`shape_problem`), ``ConfigError(["document: problem"])`` (``documents[i]`` with several).
    """
    try:
        documents = list(yaml.load_all(text, Loader=_StrictLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f"line {mark.line + 1}" if mark is not None else ROOT
        raise ConfigError([f"{line}: {exc.problem or exc.context or 'invalid YAML'}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{ROOT}: invalid YAML ({exc})"]) from None
    except (ValueError, OverflowError) as exc:
        # PyYAML raises these from value constructors (a date like 2020-13-45, an integer past Python's
        # digit limit) rather than as YAML errors.
        raise ConfigError([f"{ROOT}: invalid YAML value ({exc})"]) from None
    except (KeyError, AttributeError, IndexError, TypeError):
        # And these from explicit tags on values they cannot read (`!!bool maybe`, `!!int ''`, `!!timestamp x`,
        # `!!set [1]`), found by an attacker's pass as 500s.
        raise ConfigError(
            [f"{ROOT}: invalid YAML value (a tagged value that cannot be read as its tag)"]
        ) from None
    except RecursionError:
        raise ConfigError([f"{ROOT}: invalid YAML (nested too deeply)"]) from None
    found = [document for document in documents if document is not None]
    problems = [
        f"{ROOT if len(found) == 1 else f'documents[{index}]'}: {problem}"
        for index, document in enumerate(found)
        if (problem := shape_problem(document)) is not None
    ]
    if problems:
        raise ConfigError(problems)
    return found
