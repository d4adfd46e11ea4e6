"""One exception family, one error shape."""

import pytest

from charter.core import errors
from charter.core.errors import CharterError


def all_error_classes() -> list[type[CharterError]]:
    found = []
    for name in dir(errors):
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, CharterError):
            found.append(obj)
    return found


@pytest.mark.parametrize("cls", all_error_classes(), ids=lambda c: c.__name__)
def test_every_error_maps_to_the_openai_shape(cls: type[CharterError]) -> None:
    err = cls("something went wrong; do this to fix it")
    body = err.to_dict()
    assert body == {"error": {"message": "something went wrong; do this to fix it",
                              "type": cls.type, "code": cls.code}}
    assert 400 <= err.status <= 599
    assert err.exit_code in (1, 2)


def test_pinned_statuses() -> None:
    assert errors.InvalidInputError("x").status == 400
    assert errors.UnknownAliasError("x").status == 404
    assert errors.ConflictError("x").status == 409
    assert errors.BackendRateLimitError("x").status == 429
    assert errors.BackendUnavailableError("x").status == 503
    assert errors.UnknownAliasError("x").to_dict()["error"]["code"] == "model_not_found"
    assert errors.AuthError("x").status == 401
    assert errors.ForbiddenError("x").status == 403
    assert errors.PayloadTooLargeError("x").status == 413
    assert errors.QuotaExceededError("x").status == 429
    assert errors.RateLimitedError("x").status == 429
    assert errors.QuotaExceededError("x").to_dict()["error"]["type"] == "rate_limit_error"
