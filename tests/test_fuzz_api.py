"""The HTTP API fuzzed from its own OpenAPI schema (schemathesis, on hypothesis): generated and
mutated paths, parameters and bodies, sent with a key that may do everything. No answer is a 500,
none hangs (pytest-timeout), and every error is shaped like OpenAI's."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from ponder.api import Ponder
from ponder.config import load_config
from ponder.serve.app import create_app
from ponder.serve.keys import KeyStore
from tests.conftest import EXAMPLES
from tests.fake_provider import FakeProvider, Reply, chat_response


def _served_examples(root: Path, provider: FakeProvider):
    """A server app over the examples, and a key that may do everything."""
    config = load_config(env={}, overrides={"data_dir": str(root / "data"), "retrieve.mode": "bm25",
                                            "chat.base_url": provider.url, "chat.model": "fast-chat",
                                            "chat.retries": 0, "serve.rate_limit_per_minute": 0})
    with Ponder(config) as ponder:
        ponder.ingest([EXAMPLES])
    keys = KeyStore(Path(config.data_path) / "keys.db")
    secret = keys.create("fuzz", write=["*"])[1]
    keys.close()
    return create_app(config), secret


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory):
    provider = FakeProvider(default=Reply(body=chat_response("Eight hours [1].", "reasoning_content", "P1."))).start()
    app, secret = _served_examples(tmp_path_factory.mktemp("fuzz"), provider)
    yield schemathesis.openapi.from_asgi("/openapi.json", app), secret
    provider.stop()


# Schemathesis is driven through its Python API (each operation as a Hypothesis strategy), not its
# pytest plugin: the plugin reaches into pytest's private attributes (``request.node._nodeid``) and
# broke with pytest 9.2; strategies and ``case.call`` are the documented, stable surface.
@pytest.mark.timeout(600)
def test_no_input_gets_a_500_and_errors_are_openai_shaped(api) -> None:
    schema, secret = api
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 10, "the schema lists the API's operations"
    for operation in operations:  # as the plugin did: up to 60 valid and invalid cases an operation
        strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE)

        @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def fuzz(case) -> None:
            _no_500(case, secret)

        fuzz()


def _no_500(case, secret: str) -> None:
    # Random names and models would stop at "no such collection": aim most cases at real ones.
    if "name" in (case.path_parameters or {}):
        deleting = case.method == "DELETE" and case.path == "/v1/collections/{name}"
        case.path_parameters["name"] = "scratch" if deleting else "default"  # the examples stay
    if case.path == "/v1/chat/completions" and isinstance(case.body, dict) and len(str(case.body)) % 4:
        case.body["model"] = ["ponder", "ponder:default:direct", "ponder:default:reasoner"][len(str(case.body)) % 3]
    response = case.call(headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code < 500, (case.method, case.path, response.text[:500])
    if response.status_code >= 400 and case.path not in ("/", "/docs", "/redoc"):
        assert "error" in response.json(), (case.method, case.path, response.status_code, response.text[:300])
        error = response.json()["error"]
        assert isinstance(error["message"], str) and error["message"] and isinstance(error["code"], str)


@pytest.mark.parametrize("messages, setting", [
    ([{"role": "user", "content": "hi"}] * 101, "serve.max_messages"),
    ([{"role": "user", "content": "x" * 4001}], "serve.max_question_chars"),
    ([{"role": "user", "content": "x" * 3500}, {"role": "assistant", "content": "y" * 3500}] * 8
     + [{"role": "user", "content": "and?"}], "serve.max_conversation_chars"),
])
def test_size_limits_are_settings_named_in_the_error(tmp_path: Path, provider: FakeProvider, messages: list,
                                                    setting: str) -> None:
    from starlette.testclient import TestClient

    app, secret = _served_examples(tmp_path, provider)
    with TestClient(app) as client:
        reply = client.post("/v1/chat/completions", json={"model": "ponder", "messages": messages},
                            headers={"Authorization": f"Bearer {secret}"})
    assert reply.status_code == 413 and setting in reply.json()["error"]["message"]
