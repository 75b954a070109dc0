"""A local stand-in for Qwen's remote services: one 127.0.0.1 HTTP server that speaks the DashScope
protocol (text and multimodal generation) and the OpenAI chat-completions protocol, with scripted faults."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

TEXT_PATH = "/api/v1/services/aigc/text-generation/generation"
MULTIMODAL_PATH = "/api/v1/services/aigc/multimodal-generation/generation"
OPENAI_PATH = "/v1/chat/completions"


@dataclass
class Reply:
    """One scripted reply: an HTTP status with a JSON body, raw bytes, or a delay before the normal reply."""

    status: int = 200
    body: Any = None  # dict -> JSON; bytes -> sent as is; None -> the protocol's success body
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def default_text(prompt: str) -> str:
    """A plausible model reply: one line per label for explanation prompts, else a movement description."""
    if "Labels:\n" in prompt:
        labels = prompt.split("Labels:\n", 1)[1].strip().splitlines()
        return "\n".join(f"{label}: the {label.lower()} motion, explained by the stand-in server." for label in labels)
    return "A person raises the right arm above the head, then lowers it while the legs stay still."


class StubServer:
    """Records every request (path, lower-case headers, JSON body); replies from `script` first, then successfully."""

    def __init__(self, text: Callable[[str], str] = default_text):
        self.text = text
        self.script: list[Reply] = []
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                server.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body,
                                        "time": time.monotonic()})
                reply = server.script.pop(0) if server.script else Reply()
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.body if reply.body is not None else server.success(self.path, body)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
                    pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address
        return f"http://{host}:{port}"

    def prompt_of(self, body: dict) -> str:
        """The user text of a request in either protocol."""
        messages = body.get("input", {}).get("messages") or body.get("messages")
        content = messages[-1]["content"]
        if isinstance(content, str):
            return content
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))

    def success(self, path: str, body: dict) -> dict:
        text = self.text(self.prompt_of(body))
        if path.endswith("/chat/completions"):
            return {"id": "chatcmpl-stub", "object": "chat.completion", "created": 0, "model": body.get("model"),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
        content = [{"text": text}] if "multimodal" in path else text
        return {"output": {"choices": [{"finish_reason": "stop", "message": {"role": "assistant", "content": content}}]},
                "usage": {"input_tokens": 1, "output_tokens": 1}, "request_id": "stub-request"}

    def __enter__(self) -> "StubServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
