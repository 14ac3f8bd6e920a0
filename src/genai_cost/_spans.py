"""Reading an ended span's attributes fast, in one place.

The span path reads attributes of every span of the application. The SDK's public
``ReadableSpan.attributes`` is a read-only proxy over ``BoundedAttributes`` whose item
access is Python-level; reading the backing dict is several times faster. That backing
dict is SDK-private (``BoundedAttributes._dict``), so every such read goes through
here, and any other shape falls back to the public API.
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import ReadableSpan


def plain_attributes(attributes: object) -> Mapping[str, object]:
    """Span attributes as stored (``BoundedAttributes``, a dict, ``None``) as a
    plain mapping, read without copying."""
    if type(attributes) is BoundedAttributes:
        return attributes._dict
    backing = getattr(attributes, "_dict", None)
    if type(backing) is dict:
        return backing
    if type(attributes) is dict:
        return attributes
    if isinstance(attributes, Mapping):
        return attributes
    return {}


def attributes_of(span: ReadableSpan) -> Mapping[str, object]:
    """The span's attributes as a plain mapping, read without copying."""
    inner = getattr(span, "_attributes", None)
    return plain_attributes(inner) if inner is not None else span.attributes or {}
