"""Helpers that turn document problems into `ConfigError` lines: ``path: message``, one per problem.

Paths look like the document itself (``customer.processors[1].config.contracts[0]``), so a person can find
the bad key without knowing pydantic. Pydantic's wording is kept for ordinary type errors; the few messages
that read badly in a config file are replaced with short ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from core.errors import ConfigError

ROOT = "document"  # the path shown for a problem with the whole document


def format_path(loc: Sequence[int | str], prefix: str = "") -> str:
    """``("customer", "processors", 1, "type")`` -> ``customer.processors[1].type`` (after `prefix`)."""
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
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
    ``ConfigError(["line N: problem"])``.
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
    except RecursionError:
        raise ConfigError([f"{ROOT}: invalid YAML (nested too deeply)"]) from None
    return [document for document in documents if document is not None]
