"""A moto server on 127.0.0.1 that boto3 reaches through ``AWS_ENDPOINT_URL``.

The server runs in this process (``ThreadedMotoServer``), so its state lives in
moto's module-level backends: a server stopped and started again on the same port
still holds what was uploaded before, which the fault tests rely on.

Also here: hooks that record the calls a client makes, and a fault injector that
answers chosen attempts of one operation with an AWS error before they are sent.
It works at botocore's ``before-send`` event, below the retry handler, so the
standard retry mode sees the error exactly as if AWS had sent it. (botocore's
``Stubber`` answers at ``before-call``, above the retry handler: it cannot show a
retry.)
"""

from __future__ import annotations

import functools
import json
import socket
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from yamlpipe._aws import Aws

REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MotoServer:
    """Start, stop and reset one moto server on a fixed local port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: Any = None

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(
            ip_address="127.0.0.1", port=self.port, verbose=False
        )
        self._server.start()

    def stop(self) -> None:
        """Stop serving and close the listening socket: new connections are refused.

        ``ThreadedMotoServer.stop`` only ends the accept loop; the socket it leaves
        open would take connections and never answer them.
        """
        if self._server is not None:
            self._server.stop()
            self._server._server.server_close()
            self._server = None

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()


def serve() -> Iterator[MotoServer]:
    """A fixture body: one server, stopped at the end."""
    server = MotoServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def point_boto_at(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Dummy credentials, a region and the endpoint; no user AWS files.

    One attempt per call unless a test asks for more: moto answers the calls it
    lacks with HTTP 500, which the standard mode would retry with backoff.
    """
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")


@functools.cache
def _loader() -> Any:
    import botocore.loaders

    return botocore.loaders.create_loader()


def fresh_aws() -> Aws:
    """``Aws`` on a new session that reads the environment as it is now.

    The sessions share one botocore loader, so the SageMaker service model (about
    0.25 s to parse) is read once per test run rather than once per test.
    """
    import boto3
    import botocore.session

    core = botocore.session.Session()
    core.register_component("data_loader", _loader())
    return Aws(session=boto3.session.Session(botocore_session=core))


def record_calls(
    client: Any, calls: list[str] | None = None, prefix: str = ""
) -> list[str]:
    """The API calls ``client`` makes from now on (one per call, not per attempt)."""
    calls = [] if calls is None else calls

    def record(model: Any, **_: Any) -> None:
        calls.append(prefix + model.name)

    client.meta.events.register("before-call", record)
    return calls


class Faults:
    """Answer the next attempts of ``operation`` with AWS errors, then let them by."""

    def __init__(self, client: Any, operation: str) -> None:
        self.operation = operation
        self.queue: list[tuple[int, str, str]] = []
        self.attempts = 0
        service = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register(f"before-send.{service}.{operation}", self._send)

    def fail(self, status: int, code: str, message: str, times: int = 1) -> Faults:
        self.queue += [(status, code, message)] * times
        return self

    def _send(self, request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        self.attempts += 1
        if not self.queue:
            return None
        status, code, message = self.queue.pop(0)
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = {"content-type": "application/x-amz-json-1.1"}
        return AWSResponse(request.url, status, headers, _Raw(body))


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body
