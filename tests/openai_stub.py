"""A local HTTP server that speaks the OpenAI chat-completions protocol and plays scripted replies.

Use it from tests::

    with OpenAIStub() as stub:
        stub.script("rate_limit", "good")          # next two requests, in order
        os.environ["OPENAI_BASE_URL"] = stub.base_url
        ...
        stub.requests[-1].text                    # what was asked

A reply can also be chosen per request by a marker ``[[stub:KIND]]`` anywhere in the prompt (handy when the
client runs in another process, e.g. a notebook kernel). Without a marker or a scripted reply, ``default``
plays. Run by hand: ``python tests/openai_stub.py --port 8011 --reply good``.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

KINDS = (
    "good", "fenced", "text", "out_of_range", "duplicates", "empty", "null_content", "non_json", "no_usable",
    "rate_limit", "flaky", "server_error", "slow", "unauthorized", "forbidden", "schema_rejected",
    "image_too_large", "seed_rejected",
)  # fmt: skip
_MARKER = re.compile(r"\[\[stub:([a-z_]+)\]\]")
_COUNT = re.compile(r"The (\d+) candidates")
_FIRST = re.compile(r"numbers run from (\d+) to")


@dataclass
class Recorded:
    """One request the stub received."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    kind: str

    @property
    def text(self) -> str:
        """All text parts of all messages, joined."""
        parts = []
        for message in self.body.get("messages", []):
            content = message.get("content")
            items = content if isinstance(content, list) else [{"type": "text", "text": content or ""}]
            parts += [item.get("text", "") for item in items if item.get("type") == "text"]
        return "\n".join(parts)

    @property
    def image_urls(self) -> list[str]:
        urls = []
        for message in self.body.get("messages", []):
            if isinstance(message.get("content"), list):
                urls += [i["image_url"]["url"] for i in message["content"] if i.get("type") == "image_url"]
        return urls


class OpenAIStub:
    """A chat-completions server on ``127.0.0.1`` and a free port, running in a daemon thread.

    Args:
        default: Reply kind when nothing is scripted and no marker is present.
        slow_s: How long a ``slow`` reply takes.
        ranking: Ranking that good replies give, as 0-based positions (sent in the prompt's numbering);
            default: the candidates in reverse order.
        retry_after: ``Retry-After`` header sent with 429 replies (None = no header).
    """

    def __init__(self, default: str = "good", slow_s: float = 2.0, ranking: list[int] | None = None,
                 retry_after: str | None = "0", port: int = 0) -> None:  # fmt: skip
        self.default, self.slow_s, self.ranking, self.retry_after = default, slow_s, ranking, retry_after
        self.requests: list[Recorded] = []
        self._queue: collections.deque[str] = collections.deque()
        self._seen: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def script(self, *kinds: str) -> None:
        """Queue reply kinds for the next requests, in order."""
        unknown = [k for k in kinds if k not in KINDS]
        if unknown:
            raise ValueError(f"unknown reply kind(s) {unknown}; known: {KINDS}")
        with self._lock:
            self._queue.extend(kinds)

    def start(self) -> OpenAIStub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> OpenAIStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _choose(self, body: dict) -> str:
        text = json.dumps(body.get("messages", []))
        marker = _MARKER.search(text)
        with self._lock:
            if marker:
                kind = marker.group(1)
                self._seen[kind] += 1
                return "rate_limit" if kind == "flaky" and self._seen[kind] == 1 else kind
            return self._queue.popleft() if self._queue else self.default

    def _content(self, kind: str, request: Recorded) -> str | None:
        found, start = _COUNT.search(request.text), _FIRST.search(request.text)
        n = int(found.group(1)) if found else 3
        f = int(start.group(1)) if start else 0  # the number the prompt gives the first candidate
        positions = self.ranking if self.ranking is not None else list(range(n))[::-1]
        ranking = [p + f for p in positions]
        good = json.dumps(
            {"ranking": ranking, "explanation": f"Candidate {ranking[0]} fits the instruction."}
        )
        return {
            "good": good,
            "flaky": good,
            "slow": good,
            "schema_rejected": good,
            "seed_rejected": good,
            "fenced": f"Sure! Here is the ranking.\n```json\n{good}\n```\nLet me know if you need more.",
            "text": f"Ranked list: {ranking}\nReasons: Candidate {ranking[0]} matches the colour asked for.",
            "out_of_range": json.dumps({"ranking": [n + 4 + f, -1, 1 + f, f], "explanation": "mixed"}),
            "duplicates": json.dumps({"ranking": [2 + f, 2 + f, 1 + f, 2 + f, f], "explanation": "twice"}),
            "empty": "",
            "null_content": None,
            "non_json": "I like the second picture best, it has a nice colour.",
            "no_usable": json.dumps({"ranking": [n + 10 + f, "x", True], "explanation": "nothing valid"}),
        }[kind]


def _handler_for(stub: OpenAIStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/models"):
                self._send(200, {"object": "list", "data": [{"id": "stub-model", "object": "model"}]})
            else:
                self._send(404, _error("not found", "not_found"))

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                return self._send(400, _error("body is not JSON", "invalid_request_error"))
            if not self.path.rstrip("/").endswith("/chat/completions"):
                return self._send(404, _error(f"no route {self.path}", "not_found"))
            kind = stub._choose(body)
            request = Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body, kind)
            with stub._lock:
                stub.requests.append(request)
            self._play(kind, request)

        def _play(self, kind: str, request: Recorded) -> None:
            if kind == "rate_limit":
                headers = {"retry-after": stub.retry_after} if stub.retry_after is not None else {}
                return self._send(429, _error("Rate limit reached", "rate_limit_exceeded"), headers)
            if kind == "server_error":
                return self._send(500, _error("The server had an error", "server_error"))
            if kind in ("unauthorized", "forbidden"):
                status = 401 if kind == "unauthorized" else 403
                # Echo the key back, as careless servers do, so tests can prove it is redacted.
                key = request.headers.get("authorization", "").removeprefix("Bearer ")
                return self._send(status, _error(f"Incorrect API key provided: {key}", "invalid_api_key"))
            if kind == "schema_rejected" and "response_format" in request.body:
                return self._send(
                    400, _error("response_format json_schema is not supported", "invalid_request")
                )
            if kind == "image_too_large":  # a 400 about something else than the response format
                return self._send(400, _error("image too large: at most 20 MB per image", "invalid_request"))
            if kind == "seed_rejected" and "seed" in request.body:
                return self._send(
                    400, _error("Unrecognized request argument supplied: seed", "invalid_request")
                )
            if kind == "slow":
                time.sleep(stub.slow_s)
            self._send(200, _completion(request, stub._content(kind, request)))

        def _send(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (e.g. its timeout passed)

    return Handler


def _completion(request: Recorded, content: str | None) -> dict:
    prompt_tokens = 85 + len(request.text) // 4 + 765 * len(request.image_urls)
    completion_tokens = len(content or "") // 4 + 1
    return {
        "id": f"chatcmpl-stub-{len(request.text)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.body.get("model", "stub-model"),
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _error(message: str, code: str) -> dict:
    return {"error": {"message": message, "type": code, "param": None, "code": code}}


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve scripted chat-completions replies on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument("--reply", default="good", choices=KINDS)
    parser.add_argument("--slow-s", type=float, default=5.0)
    args = parser.parse_args()
    stub = OpenAIStub(default=args.reply, slow_s=args.slow_s, port=args.port).start()
    print(f"serving '{args.reply}' replies at {stub.base_url} (Ctrl-C stops)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        stub.stop()


if __name__ == "__main__":
    main()
