"""Field errors as the service names them, from pydantic's errors: one definition, used by
the service's 422 answers and by the client's local checks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from service.schemas.common import FieldError
from service.schemas.studies import KIND_ERROR
from service.schemas.train import METHOD_ERROR, METHOD_TAG, method_fields, without_method_tag

METHOD_FIELDS = method_fields()
"""Each field that only some /train methods take → those methods."""


def field_error(loc: Sequence[Any], message: str, type_: str) -> FieldError:
    """One field's error. ``loc`` is pydantic's location under ``body`` (FastAPI's) or of the
    request itself; ``field`` is the dotted path without ``body``. The /train variants' tags
    are taken out, so the field is named as the request names it (``t_max``, not
    ``method=flow.t_max``), and the union's own error (a ``method`` naming no variant) is
    ``method``'s. An unknown field that another method takes says whose it is."""
    tags = [p for p in loc if isinstance(p, str) and p.startswith(METHOD_TAG)]
    owners = METHOD_FIELDS.get(str(loc[-1])) if loc else None
    if type_ == "extra_forbidden" and tags and owners is not None:
        quoted = [f"'{m}'" for m in owners]
        whose = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
        method = tags[-1].removeprefix(METHOD_TAG)
        message = f"`{loc[-1]}` applies to method {whose} only, not to '{method}'"
    parts = [p if isinstance(p, int) else str(p) for p in without_method_tag(loc)]
    if type_ == METHOD_ERROR:
        parts.append("method")
    if type_ == KIND_ERROR:
        parts.append("kind")
    dotted = ".".join(str(p) for p in (parts[1:] if parts[:1] == ["body"] else parts))
    return FieldError(loc=parts, field=dotted, message=message, type=type_)
