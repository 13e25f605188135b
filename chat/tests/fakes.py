"""Local servers that answer as the providers document: an OpenAI-compatible chat-completions
server (SSE streaming) and RunPod's serverless API (seed 001's header `authorization: <key>`)."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def sse_chunk(content: str | None = None, *, usage: dict | None = None) -> bytes:
    chunk = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "tiny",
             "choices": [] if content is None else [{"index": 0, "delta": {"content": content}, "finish_reason": None}]}
    if usage is not None:
        chunk["usage"] = usage
    return f"data: {json.dumps(chunk)}\n\n".encode()


class OpenAIHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _json(self, code: int, body, headers: dict | None = None):
        data = json.dumps(body).encode()
        self.send_response(code)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        state = self.server.state
        state["requests"].append({"path": self.path, "authorization": self.headers.get("Authorization")})
        if self.path == "/v1/models":
            return self._json(200, {"object": "list", "data": [{"id": "tiny", "object": "model"}]})
        self._json(404, {"error": {"message": "not found"}})

    def do_POST(self):
        state = self.server.state
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        state["requests"].append({"path": self.path, "body": body, "authorization": self.headers.get("Authorization")})
        if self.path != "/v1/chat/completions":
            return self._json(404, {"error": {"message": "not found"}})
        answer = state["answers"].pop(0) if state["answers"] else {"text": "OK."}
        if answer.get("status"):
            return self._json(answer["status"], {"error": {"message": "scripted", "type": "rate_limit"}},
                              headers=answer.get("headers"))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        self.wfile.write(b": keep-alive\n\n")
        text = answer.get("text", "")
        pieces = answer.get("pieces") or [text[i:i + 7] for i in range(0, len(text), 7)]
        for index, piece in enumerate(pieces):
            if answer.get("malformed_at") == index:
                self.wfile.write(b"data: {\"choices\": [\n\n")
                self.wfile.flush()
                return
            if answer.get("error_at") == index:
                self.wfile.write(b'data: {"error": {"message": "The server had an error while processing your request."}}\n\n')
                self.wfile.flush()
                return
            if answer.get("drop_at") == index:
                self.wfile.flush()
                self.connection.shutdown(2)
                return
            self.wfile.write(sse_chunk(piece))
            self.wfile.flush()
            if answer.get("delay"):
                time.sleep(answer["delay"])
            if index % 3 == 2:
                self.wfile.write(b": ping\n\n")
        self.wfile.write(sse_chunk(usage={"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30}))
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


class RunPodHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _json(self, code: int, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        state = self.server.state
        state["calls"].append(("GET", self.path, self.headers.get("authorization")))
        endpoint = state["endpoint"]
        if self.path == f"/v2/{endpoint}/health":
            return self._json(200, {"jobs": {"inQueue": 0, "inProgress": 0}, "workers": {"idle": 1, "running": 0}})
        if self.path.startswith(f"/v2/{endpoint}/status/"):
            runpod_id = self.path.rsplit("/", 1)[1]
            job = state["jobs"][runpod_id]
            job["polls"] += 1
            script = job["script"]
            status = script[min(job["polls"] - 1, len(script) - 1)]
            body = {"id": runpod_id, "status": status}
            if status == "COMPLETED":
                body["output"] = job["output"]
            if status == "FAILED":
                body["error"] = "CUDA out of memory"
            return self._json(200, body)
        self._json(404, {"error": "not found"})

    def do_POST(self):
        state = self.server.state
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        state["calls"].append(("POST", self.path, self.headers.get("authorization")))
        endpoint = state["endpoint"]
        if self.path == f"/v2/{endpoint}/run":
            state["inputs"].append(body["input"])
            runpod_id = f"rp-{len(state['inputs'])}"
            answer = state["outputs"].pop(0) if state["outputs"] else {"status": "success"}
            state["jobs"][runpod_id] = {"polls": 0, "script": state["script"], "output": answer}
            return self._json(200, {"id": runpod_id, "status": "IN_QUEUE"})
        if self.path.startswith(f"/v2/{endpoint}/cancel/"):
            state["cancelled"].append(self.path.rsplit("/", 1)[1])
            return self._json(200, {"status": "CANCELLED"})
        self._json(404, {"error": "not found"})


class FakeServer:
    def __init__(self, handler, state: dict):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.server.state = state
        self.state = state
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def openai_server() -> FakeServer:
    return FakeServer(OpenAIHandler, {"requests": [], "answers": []})


def runpod_server(endpoint: str = "ep-chat") -> FakeServer:
    return FakeServer(RunPodHandler, {"endpoint": endpoint, "calls": [], "inputs": [], "outputs": [], "jobs": {},
                                      "script": ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"], "cancelled": []})
