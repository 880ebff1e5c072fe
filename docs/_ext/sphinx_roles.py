"""A Griffe extension: render the Sphinx roles of inboxcore's docstrings as API links.

The docstrings are written in reStructuredText style (``:class:`~inboxcore.domain.errors.ConflictError```,
``:meth:`InboxService.reprocess```, a literal block after ``::``) so that they read well in an
editor and under ``help()``. mkdocstrings renders docstrings as Markdown, where those roles would
show up as stray colons and backticks. This extension rewrites them, when Griffe loads the package,
into *optional* autorefs: a link to the object's API entry where the site documents it, plain code
where it does not (a standard-library class, a private helper), and never a build warning.

Relative targets are resolved the way Sphinx resolves them: against the enclosing class, then the
module, then the package root (``inboxcore``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from typing import Any

import griffe

__all__ = ["SphinxRoles", "convert"]

_ROLE = re.compile(r":(?P<role>[a-z]+):`(?P<body>[^`]+)`")
_EXPLICIT_TITLE = re.compile(r"^(?P<title>.+?)\s*<(?P<target>[^<>]+)>$", re.DOTALL)
_LITERAL_BLOCK = re.compile(r"(?<=\S)::(?=\n[ \t]*\n)")
_CALLABLE_ROLES = frozenset({"func", "meth"})
_PACKAGE = "inboxcore"


def _candidates(target: str, scopes: tuple[str, ...]) -> tuple[str, ...]:
    """Where a role's target may live, most specific first."""
    if target.startswith("."):
        return tuple(f"{scope}{target}" for scope in scopes)
    if target.startswith(f"{_PACKAGE}.") or target == _PACKAGE:
        return (target,)
    return (*(f"{scope}.{target}" for scope in scopes), target)


def convert(
    text: str,
    scopes: tuple[str, ...] = (_PACKAGE,),
    resolve: Callable[[str], str | None] = lambda path: None,
) -> str:
    """Rewrite the Sphinx roles and ``::`` literal-block markers of one docstring as Markdown.

    ``scopes`` are the dotted paths a relative target is tried against, innermost first;
    ``resolve`` maps a candidate to the identifier of the object it names (None: no such
    object), and the first candidate it knows becomes the link. Without one, the most specific
    candidate is used and autorefs renders plain code if nothing by that name is documented.
    """

    def role(match: re.Match[str]) -> str:
        kind, body = match["role"], match["body"].strip()
        explicit = _EXPLICIT_TITLE.match(body)
        if explicit:
            title, target = explicit["title"], explicit["target"].strip()
        else:
            target = body.lstrip("!")
            title = target[1:].rsplit(".", 1)[-1] if target.startswith("~") else target
        target = target.lstrip("~!")
        if kind in _CALLABLE_ROLES and not explicit and not title.endswith(")"):
            title += "()"
        if kind not in {"class", "meth", "func", "attr", "mod", "data", "exc", "obj", "const"}:
            return f"<code>{html.escape(title)}</code>"
        candidates = _candidates(target, scopes)
        found = (resolve(c) for c in candidates)
        identifier = next((i for i in found if i is not None), candidates[-1])
        return (
            f'<autoref identifier="{html.escape(identifier)}" optional>'
            f"<code>{html.escape(title)}</code></autoref>"
        )

    return _LITERAL_BLOCK.sub(":", _ROLE.sub(role, text))


def _scopes(obj: griffe.Object) -> tuple[str, ...]:
    """The enclosing class(es) and module of ``obj``, then the package root."""
    scopes: list[str] = []
    current: griffe.Object | None = obj if obj.is_class or obj.is_module else obj.parent
    while current is not None:
        scopes.append(current.path)
        current = current.parent
    if _PACKAGE not in scopes:
        scopes.append(_PACKAGE)
    return tuple(scopes)


def _walk(obj: griffe.Object) -> Iterator[griffe.Object]:
    """``obj`` and every object defined in it (aliases, i.e. imported names, are skipped)."""
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _walk(member)  # type: ignore[arg-type]  # not an alias: an Object


class SphinxRoles(griffe.Extension):
    """Rewrites every docstring of a package once it is loaded (see the module docstring)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        def resolve(path: str) -> str | None:
            head, _, rest = path.partition(".")
            if head != pkg.name:
                return None
            if not rest:
                return pkg.path
            try:
                found = pkg[rest]
            except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
                return None
            try:
                # An imported name: link to where it is defined (and documented).
                return str(found.final_target.path) if found.is_alias else str(found.path)
            except (griffe.AliasResolutionError, griffe.CyclicAliasError):
                return None

        for obj in _walk(pkg):
            if obj.docstring is not None:
                obj.docstring.value = convert(obj.docstring.value, _scopes(obj), resolve)
