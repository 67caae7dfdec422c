"""The base of the template-layer records: a Record whose rule violations stay TemplateErrors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import pydantic

from instructkit._errors import DataError, TemplateError
from instructkit._records import Record, validation_error

__all__ = ["TemplateRecord", "translate"]

_R = TypeVar("_R", bound="TemplateRecord")


def translate(err: pydantic.ValidationError) -> DataError:
    """Turn pydantic's error into ours, keeping a :class:`TemplateError` raised by a validator.

    Type errors (a number where text belongs) become
    :class:`~instructkit.RecordValidationError` as for every record; broken template rules
    (an unknown placeholder, a duplicate label) stay :class:`~instructkit.TemplateError`,
    re-located to where they sit in the outer record.
    """
    for item in err.errors(include_url=False):
        original = (item.get("ctx") or {}).get("error")
        if isinstance(original, TemplateError):
            prefix = [p for p in item["loc"] if isinstance(p, (str, int))]
            return original.located(prefix=prefix) if prefix else original
    return validation_error(err)


class TemplateRecord(Record):
    """A :class:`~instructkit._records.Record` that raises TemplateError for broken rules."""

    @classmethod
    def _translate(cls, err: pydantic.ValidationError) -> DataError:
        return translate(err)

    def model_copy(self: _R, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> _R:
        """A copy with ``update`` applied, validated (and re-parsed) like a new record.

        pydantic's own copy skips validation, which would leave a template's parsed pieces
        and content hash describing the old text.

        Raises:
            TemplateError: the updated record breaks a rule.
        """
        data = {name: getattr(self, name) for name in type(self).model_fields}
        data.update(update or {})
        return type(self)(**data)
