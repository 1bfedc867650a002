"""Every service's OpenAPI tells the truth (issue 17): schemathesis, every check, positive and
negative data and a stateful run (links inferred from the specs), through the gateway of the
stack ``make run`` starts. Bounded: a few examples per operation (the whole layer takes about
a minute). A failure prints schemathesis' report with a ``curl`` line that reproduces it."""

from __future__ import annotations

import importlib.util
import sys
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.errors import NoLinksFound

from testkit.stack import ROOT, Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SERVICES = ("stream", "viewer", "ingest", "notifier", "chat_a")
EXAMPLES = 15  # per operation and mode
STATEFUL_EXAMPLES = 10

# Rules a JSON Schema cannot state, answered 422 to schema-valid input: an opaque cursor that
# is not one we issued, ``to`` before ``from``, "either ids or all", "at least one field", and the
# user-text rule (contracts.text: something visible, no control characters).
SEMANTIC_422 = (
    "GET /live",  # cursor
    "GET /live/{stream_id}/moderation-log",  # cursor
    "GET /me/following",  # cursor
    "GET /notifications",  # cursor
    "GET /me/usage",  # to after from
    "GET /live/{stream_id}/usage",  # to after from
    "POST /notifications/read",  # ids or all
    "POST /live",  # text rule (title, description)
    "PATCH /live/{stream_id}",  # text rule, at least one field
    "POST /live/{stream_id}/bans",  # text rule (reason)
    "POST /live/{stream_id}/chats",  # text rule (message)
    "POST /live/{stream_id}/blocked-terms",  # text rule, 2-100 folded, '*' only at the ends
    "PUT /live/{stream_id}/chat/pin",  # text rule, one of message_id/text, until ahead
)
EXPECTED_WITH_422 = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]


def _ports(stack: Stack) -> dict[str, int]:
    spec = importlib.util.spec_from_file_location("livecast_stack", ROOT / "scripts" / "stack.py")
    if spec is None or spec.loader is None:
        raise RuntimeError("scripts/stack.py not found")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    offset = (urlsplit(stack.gateway).port or 8080) - 8080
    ports: dict[str, int] = module.ports_for(offset)
    return ports


def _config(stack: Stack) -> Any:
    token = stack.token("schemathesis")
    names = ", ".join(f'"{name}"' for name in SEMANTIC_422)
    statuses = ", ".join(f'"{s}"' for s in EXPECTED_WITH_422)
    return schemathesis.Config.from_str(
        f"""
base-url = "{stack.gateway}"
[auth.openapi.HTTPBearer]
bearer = "{token}"
[[operations]]
include-name = [{names}]
checks.positive_data_acceptance.expected-statuses = [{statuses}]
[[operations]]
include-name = ["GET /notifications/unread-count"]
parameters = {{ "query.wait_s" = 0 }}  # the bell's long poll would outlast the 15 s timeout
"""
    )


@pytest.fixture(scope="module")
def schemas(stack: Stack) -> dict[str, Any]:
    ports = _ports(stack)
    config = _config(stack)
    return {
        name: schemathesis.openapi.from_url(
            f"http://127.0.0.1:{ports[name]}/openapi.json", config=config
        )
        for name in SERVICES
    }


def _fuzz(schema: Any, failures: list[str]) -> int:
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        strategy = st.one_of(
            operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
            operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
        )

        @settings(
            max_examples=2 * EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(timeout=15)

        try:
            check()
        except BaseException as exc:  # a schemathesis FailureGroup: keep going, report all
            failures.append(f"{operation.label}: {exc}")
    return operations


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_answers_as_its_openapi_says(schemas: dict[str, Any], service: str) -> None:
    failures: list[str] = []
    assert _fuzz(schemas[service], failures) > 0
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("service", SERVICES)
def test_sequences_of_calls_follow_the_openapi(schemas: dict[str, Any], service: str) -> None:
    """Stateful: links inferred from the specs (create a stream, then read, moderate, end,
    delete it...). A service none of whose answers feeds another operation has nothing to
    chain: skipped."""
    base = schemas[service].as_state_machine()

    class Machine(base):  # type: ignore[misc,valid-type]
        def before_call(self, case: schemathesis.Case) -> None:
            # a fresh key per call: a key reused from an earlier run replays that run's answer
            for name in list(case.headers or {}):
                if name.lower() == "idempotency-key":
                    case.headers[name] = uuid.uuid4().hex  # type: ignore[index]

    try:
        Machine.run(
            settings=settings(
                max_examples=STATEFUL_EXAMPLES,
                stateful_step_count=6,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
        )
    except NoLinksFound:
        pytest.skip(f"{service}: no operation's answer feeds another operation")
