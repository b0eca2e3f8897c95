"""Schemathesis against the hub's OpenAPI schema, once per role token and once without: no server error,
no response outside the schema, no route that ignores authentication. Bounded, derandomized examples per
operation: the whole run stays under a minute and is reproducible.

Driven through Schemathesis' Python API (operation strategies + `call_and_validate`) against a real
uvicorn hub, one test per identity; every failing (operation, check) is collected and reported at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.specs.openapi.checks import positive_data_acceptance

from contracts.signing import generate_private_key, save_public_key
from hub.app import HubServer
from hub.security.deps import PUBLIC_PATHS
from hub.security.roles import Role
from hub.security.testing import service_token
from tests.security.conftest import security_settings

MAX_EXAMPLES = 4
OPAQUE_UPLOADS = {"/api/v1/models"}
"""Binary uploads (a signed .tar): every byte string is schema-valid, almost none is a bundle, so the check that
schema-valid data is accepted does not apply; every other check (server errors, schema of the 422) still does."""
POSITIVE, NEGATIVE = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE
MODES = {"anonymous": [POSITIVE], "reader": [POSITIVE], "operator": [POSITIVE], "admin": [POSITIVE, NEGATIVE]}
"""Invalid data is sent with the admin token only: lower roles are refused before validation anyway."""




@pytest.fixture(scope="module")
def fuzz_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    settings_ = security_settings(tmp_path_factory.mktemp("fuzz-hub"), login_max_failures=1_000_000)
    settings_.api.port = 0
    release = generate_private_key()  # a registry with a pinned release key, as in production
    release_pub = tmp_path_factory.mktemp("release") / "release.pub"
    save_public_key(release.public_key(), release_pub)
    settings_.registry.release_keys = [release_pub]
    with HubServer(settings_, host="127.0.0.1") as server:
        tokens = {role.value: service_token(server.app, role, f"fuzz-{role.value}") for role in Role}
        yield {"url": server.url, "tokens": tokens, "schema": server.app.openapi()}


def _fuzz(hub: dict[str, Any], identity: str) -> list[str]:
    schema = schemathesis.openapi.from_dict(hub["schema"])
    token = hub["tokens"].get(identity)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 15
    for operation in operations:
        for mode in MODES[identity]:
            label = f"{identity} {mode.value} {operation.method.upper()} {operation.path}"

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            def run(case: Any) -> None:
                excluded = [positive_data_acceptance] if case.path in OPAQUE_UPLOADS else []
                response = case.call_and_validate(base_url=hub["url"], headers=headers, timeout=30,
                                                  excluded_checks=excluded)
                if token is None and case.path not in PUBLIC_PATHS:  # refused, for lack of auth or of sense
                    assert response.status_code in (400, 401, 404, 405, 422), (
                        f"answered {response.status_code} without a credential")

            try:
                run()
            except Unsatisfiable:  # nothing to make invalid in this operation (negative mode)
                continue
            except (Exception, BaseExceptionGroup) as exc:  # collect every operation's failure, report them together
                failures.append(f"{label}: {_summary(exc)}")
    return failures


def _summary(exc: BaseException) -> str:
    """The failure lines of a Schemathesis failure group (`- ST103 Undocumented status code`, `Received: 409`)."""
    lines = [line.strip() for line in str(exc).splitlines()]
    keep = [line for line in lines if line.startswith(("- ", "Received:", "curl "))]
    return " | ".join(keep)[:700] or f"{type(exc).__name__}: {str(exc)[:300]}"


@pytest.mark.parametrize("identity", ["anonymous", *(r.value for r in Role)])
def test_api_conforms_to_its_schema_for_every_role(fuzz_hub: dict[str, Any], identity: str) -> None:
    failures = _fuzz(fuzz_hub, identity)
    assert not failures, "\n\n".join(failures)


def test_the_schema_declares_bearer_auth_on_guarded_routes(fuzz_hub: dict[str, Any]) -> None:
    for path, operations in fuzz_hub["schema"]["paths"].items():
        for method, operation in operations.items():
            if path in PUBLIC_PATHS:
                continue
            assert operation.get("security"), f"{method.upper()} {path} declares no security"
            assert {"401", "403"} <= set(operation["responses"]), f"{method.upper()} {path}"
