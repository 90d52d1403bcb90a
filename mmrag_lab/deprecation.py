"""Keyword arguments renamed in the public API keep working for one release, with a ``DeprecationWarning``.

``@renamed(query_image="image")`` on a function makes ``f(query_image=x)`` call ``f(image=x)`` after a
warning that names the new keyword; giving both is a :class:`~mmrag_lab.errors.ConfigError`. The table of
names the API and the CLI share is in ARCHITECTURE.md ("One name per parameter"). ``@folded("protocol",
EvalProtocol)`` does the same for keywords that were grouped into a small options dataclass.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from mmrag_lab.errors import ConfigError

F = TypeVar("F", bound=Callable[..., Any])


def renamed(**old_to_new: str) -> Callable[[F], F]:
    """Accept each old keyword (a key of ``old_to_new``) as its new name, with a ``DeprecationWarning``."""

    def decorate(function: F) -> F:
        signature = inspect.signature(function)

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in old_to_new.items():
                if old not in kwargs:
                    continue
                if new in kwargs or new in signature.bind_partial(*args).arguments:
                    raise ConfigError(
                        f"{function.__name__}() got {old}= and {new}=: {old}= is the old name of {new}=; "
                        f"give {new}= only."
                    )
                warnings.warn(
                    f"{function.__name__}({old}=...) is deprecated and goes in the next release; use "
                    f"{new}= instead.",
                    DeprecationWarning,
                    stacklevel=2,
                )
                kwargs[new] = kwargs.pop(old)
            return function(*args, **kwargs)

        wrapper.renamed_keywords = dict(old_to_new)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def renamed_key(where: str, mapping: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """``mapping`` with its old key ``old`` read as ``new`` (a ``DeprecationWarning`` says so); ``where``
    names the argument that holds it, e.g. ``"rerank_many(queries)"``."""
    if old not in mapping:
        return dict(mapping)
    if new in mapping:
        raise ConfigError(f"{where}: {old!r} is the old name of {new!r}; give {new!r} only.")
    warnings.warn(
        f"{where}: the key {old!r} is deprecated and goes in the next release; use {new!r} instead.",
        DeprecationWarning,
        stacklevel=3,
    )
    return {(new if key == old else key): value for key, value in mapping.items()}


def folded(into: str, options: type) -> Callable[[F], F]:
    """Accept the fields of the dataclass ``options`` as keywords of their own, as the function took them
    before they were grouped into its ``into=`` argument: each is set on that argument (a copy of the one
    given, or a default one) after a ``DeprecationWarning`` that shows the new spelling."""
    fields = {field.name for field in dataclasses.fields(options)}

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            moved = {name: kwargs.pop(name) for name in sorted(fields & kwargs.keys())}
            if moved:
                spelled = ", ".join(f"{name}=..." for name in moved)
                warnings.warn(
                    f"{function.__name__}({spelled}) is deprecated and goes in the next release; use "
                    f"{into}={options.__name__}({spelled}) instead.",
                    DeprecationWarning,
                    stacklevel=2,
                )
                given = kwargs.get(into)
                if given is not None and not isinstance(given, options):
                    raise ConfigError(f"{into} must be a {options.__name__}, got {type(given).__name__}.")
                kwargs[into] = dataclasses.replace(given or options(), **moved)
            return function(*args, **kwargs)

        wrapper.folded_keywords = (into, options)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
