"""Call a remote API with retries, the way every provider's rate limits expect.

Retries on connection errors, timeouts, HTTP 429 and 5xx, with exponential backoff plus jitter,
honouring ``Retry-After``; any other status fails at once. Errors name the endpoint.

Example::

    payload = post_json(client, "https://api.example.com/v1/embeddings", {"input": ["hi"]},
                        what="embedder 'bge-m3'", retries=3)
"""

from __future__ import annotations

import random
import time
from typing import Any, Callable

import httpx

from ponder.text import redact


class RemoteError(RuntimeError):
    """A remote API failed; the message names it and says what happened. ``status`` is the HTTP
    status when the API answered with an error."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


def send_with_retries(send: Callable[[], httpx.Response], *, url: str, what: str, retries: int = 3,
                      timeout_hint: str = "", backoff_s: float = 0.5, max_wait_s: float = 30.0) -> httpx.Response:
    """The first response from ``send()`` with a status below 400, after up to ``retries`` retries.

    ``send`` may open a streaming response: one that fails is read (for the error message) and
    closed before the next try. ``timeout_hint`` (say, the setting that controls the timeout) is
    added to the message when the endpoint does not answer in time.
    """
    for attempt in range(retries + 1):
        last = attempt == retries
        try:
            response = send()
        except httpx.TimeoutException:
            if last:
                hint = f" ({timeout_hint})" if timeout_hint else ""
                raise RemoteError(f"no answer from {what} at {url} in time{hint}") from None
            _sleep(attempt, backoff_s, max_wait_s, None)
            continue
        except httpx.TransportError as exc:
            if last:
                raise RemoteError(f"cannot reach {what} at {url}: {exc}") from None
            _sleep(attempt, backoff_s, max_wait_s, None)
            continue
        if response.status_code < 400:
            return response
        retry_after = response.headers.get("Retry-After")
        response.read()
        response.close()
        if response.status_code in RETRYABLE_STATUS and not last:
            _sleep(attempt, backoff_s, max_wait_s, retry_after)
            continue
        raise RemoteError(f"{what} at {url} answered HTTP {response.status_code}: {body_excerpt(response)}",
                          status=response.status_code)
    raise AssertionError("unreachable")


def post_json(client: httpx.Client, url: str, body: dict[str, Any], *, what: str, retries: int = 3,
              backoff_s: float = 0.5, max_wait_s: float = 30.0) -> Any:
    """The decoded JSON answer of a POST, after up to ``retries`` retries."""
    response = send_with_retries(lambda: client.post(url, json=body), url=url, what=what, retries=retries,
                                 timeout_hint=f"waited {client.timeout.read:g} s", backoff_s=backoff_s,
                                 max_wait_s=max_wait_s)
    try:
        return response.json()
    except ValueError:
        raise RemoteError(f"{what} at {url} sent a body that is not JSON: {body_excerpt(response)}") from None


def body_excerpt(response: httpx.Response, limit: int = 300) -> str:
    """The start of a response's body for an error message, with the request's own credential
    masked: some endpoints echo the key they were sent, and error messages reach logs and clients."""
    credential = response.request.headers.get("authorization", "").partition(" ")[2].strip()
    return redact(response.text, [credential])[:limit]


def _sleep(attempt: int, backoff_s: float, max_wait_s: float, retry_after: str | None) -> None:
    wait = backoff_s * 2**attempt * (0.5 + random.random())
    if retry_after:
        try:
            wait = float(retry_after)
        except ValueError:
            pass  # an HTTP date: fall back to our own backoff
    time.sleep(min(wait, max_wait_s))
