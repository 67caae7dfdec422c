"""The base of the template-layer records: a Record whose rule violations stay TemplateErrors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar

import pydantic
from pydantic._internal._model_construction import ModelMetaclass

from instructkit._errors import DataError, TemplateError
from instructkit._records import Record, _RecordMeta, validation_error

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


class _TemplateRecordMeta(_RecordMeta):
    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        try:
            return ModelMetaclass.__call__(cls, *args, **kwargs)
        except pydantic.ValidationError as err:
            raise translate(err) from err


class TemplateRecord(Record, metaclass=_TemplateRecordMeta):
    """A :class:`~instructkit._records.Record` that raises TemplateError for broken rules."""

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

    @classmethod
    def model_validate(
        cls: type[_R],
        obj: Any,
        *,
        strict: bool | None = None,
        extra: Literal["allow", "ignore", "forbid"] | None = None,
        from_attributes: bool | None = None,
        context: Any | None = None,
        by_alias: bool | None = None,
        by_name: bool | None = None,
    ) -> _R:
        """Validate a dict into this record type.

        Raises:
            TemplateError: a template rule is broken.
            RecordValidationError: a field has the wrong type or is missing.
        """
        try:
            return pydantic.BaseModel.model_validate.__func__(  # type: ignore[attr-defined,no-any-return]
                cls,
                obj,
                strict=strict,
                extra=extra,
                from_attributes=from_attributes,
                context=context,
                by_alias=by_alias,
                by_name=by_name,
            )
        except pydantic.ValidationError as err:
            raise translate(err) from err

    @classmethod
    def model_validate_json(
        cls: type[_R],
        json_data: str | bytes | bytearray,
        *,
        strict: bool | None = None,
        extra: Literal["allow", "ignore", "forbid"] | None = None,
        context: Any | None = None,
        by_alias: bool | None = None,
        by_name: bool | None = None,
    ) -> _R:
        """Validate JSON text into this record type.

        Raises:
            TemplateError: a template rule is broken.
            RecordValidationError: a field has the wrong type or is missing.
        """
        try:
            return pydantic.BaseModel.model_validate_json.__func__(  # type: ignore[attr-defined,no-any-return]
                cls,
                json_data,
                strict=strict,
                extra=extra,
                context=context,
                by_alias=by_alias,
                by_name=by_name,
            )
        except pydantic.ValidationError as err:
            raise translate(err) from err
