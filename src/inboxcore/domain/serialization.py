"""Serialization at the edge: one cattrs converter for every domain value.

``converter.unstructure(value)`` gives JSON-ready builtins; ``converter.structure(data, Type)``
rebuilds the value, running its validators. Email addresses become ``{"address", "name"}``
objects, datetimes ISO 8601 strings, durations seconds, enums their values, sets sorted lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from cattrs.preconf.json import JsonConverter, make_converter
from cattrs.strategies import configure_union_passthrough

from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import InvalidValueError
from inboxcore.domain.model import PropertyValue

__all__ = ["converter", "make_inboxcore_converter"]


def _unstructure_address(value: EmailAddress) -> dict[str, str | None]:
    return {"address": value.address, "name": value.display_name}


def _structure_address(data: Any, _: type[Any]) -> EmailAddress:
    if isinstance(data, str):
        return EmailAddress.parse(data)
    if not isinstance(data, Mapping) or not isinstance(data.get("address"), str):
        raise InvalidValueError(f"not a serialized email address: {data!r}")
    local, at, domain = data["address"].rpartition("@")
    if not at:
        raise InvalidValueError(f"not a serialized email address: {data!r}")
    return EmailAddress(local=local, domain=domain, display_name=data.get("name"))


def _structure_datetime(data: Any, _: type[Any]) -> datetime:
    if isinstance(data, datetime):
        return data
    return datetime.fromisoformat(data)


def make_inboxcore_converter() -> JsonConverter:
    """A new converter with inboxcore's hooks (for hosts that want to add their own)."""
    conv = make_converter()
    configure_union_passthrough(PropertyValue, conv)
    conv.register_unstructure_hook(EmailAddress, _unstructure_address)
    conv.register_structure_hook(EmailAddress, _structure_address)
    conv.register_unstructure_hook(datetime, lambda d: d.isoformat())
    conv.register_structure_hook(datetime, _structure_datetime)
    conv.register_unstructure_hook(timedelta, lambda d: d.total_seconds())
    conv.register_structure_hook(timedelta, lambda d, _: timedelta(seconds=float(d)))
    conv.register_unstructure_hook(
        MappingProxyType, lambda m: {k: conv.unstructure(v) for k, v in m.items()}
    )
    # Sets serialize sorted, so that equal values give equal JSON whatever their history.
    conv.register_unstructure_hook_func(
        lambda t: getattr(t, "__origin__", t) in (frozenset, set),
        lambda s: sorted(conv.unstructure(v) for v in s),
    )
    return conv


converter = make_inboxcore_converter()
"""The converter for every inboxcore value."""
