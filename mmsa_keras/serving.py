"""`mmsa serve`: a small local HTTP JSON endpoint over an exported model (no TF Serving needed).

    mmsa serve runs/cmac/export --port 8501

* `GET /health` → `{"status": "ok", "classes": [...]}`
* `POST /predict` with `{"posts": [{"text": "...", "image_b64": "<base64 file bytes>"}, ...]}`
  (either field may be missing or empty) → `{"predictions": [{"label": "...",
  "probabilities": {"negative": 0.1, ...}}, ...]}`. A bare `{"text": ..., "image_b64": ...}`
  is one post.

Concurrent requests are batched: a worker thread takes what is waiting (up to
`max_batch` posts, waiting at most `batch_wait_ms` for more) and runs the
SavedModel's `serve` signature once. Bodies larger than `max_request_bytes`
are refused with 413 before they are read; malformed JSON or base64 gives 400;
a bad image is a missing image for that post alone (the signature never
raises). It listens on 127.0.0.1 unless told otherwise. The SavedModel keeps
the signature TF Serving hosts (`serve` / `serving_default`: `text`,
`image_bytes` → `probabilities`, `label`), so the same export can go to TF Serving.
"""

from __future__ import annotations

import base64
import binascii
import json
import queue
import sys
import threading
import time
from concurrent.futures import Future
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Batcher:
    """Runs posts from concurrent requests through the model in shared batches."""

    def __init__(self, model, max_batch: int = 64, batch_wait_ms: float = 2.0):
        self.model = model
        self.max_batch = max_batch
        self.wait = batch_wait_ms / 1000.0
        self.queue: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="mmsa-batcher", daemon=True)
        self.thread.start()

    def submit(self, texts: list[str], images: list[bytes]) -> Future:
        future: Future = Future()
        self.queue.put((texts, images, future))
        return future

    def _run(self):
        while True:
            jobs = [self.queue.get()]
            size = len(jobs[0][0])
            deadline = time.monotonic() + self.wait
            while size < self.max_batch:
                try:
                    job = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                jobs.append(job)
                size += len(job[0])
            texts = [t for job in jobs for t in job[0]]
            images = [b for job in jobs for b in job[1]]
            try:
                probs = []
                for start in range(0, len(texts), self.max_batch):
                    probs.extend(
                        self.model.predict_bytes(
                            texts[start : start + self.max_batch], images[start : start + self.max_batch]
                        )
                    )
                offset = 0
                for job_texts, _, future in jobs:
                    future.set_result(probs[offset : offset + len(job_texts)])
                    offset += len(job_texts)
            except Exception as e:  # noqa: BLE001 - every waiting request gets the error
                for _, _, future in jobs:
                    future.set_exception(e)


def _parse(body: bytes) -> tuple[list[str], list[bytes]]:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"the body is not JSON: {e}") from None
    posts = data.get("posts") if isinstance(data, dict) and "posts" in data else [data]
    if not isinstance(posts, list) or not all(isinstance(p, dict) for p in posts):
        raise ValueError('expected {"posts": [{"text": ..., "image_b64": ...}, ...]}')
    texts, images = [], []
    for i, post in enumerate(posts):
        text = post.get("text") or ""
        if not isinstance(text, str):
            raise ValueError(f"post {i}: text must be a string")
        raw = post.get("image_b64") or ""
        try:
            image = base64.b64decode(raw, validate=True) if raw else b""
        except (binascii.Error, TypeError):
            raise ValueError(f"post {i}: image_b64 is not base64") from None
        texts.append(text)
        images.append(image)
    return texts, images


def make_server(
    model_dir: str,
    host: str = "127.0.0.1",
    port: int = 8501,
    max_request_bytes: int = 32 << 20,
    max_batch: int = 64,
    batch_wait_ms: float = 2.0,
) -> ThreadingHTTPServer:
    from mmsa_keras.export import ExportedModel

    model = ExportedModel(model_dir)
    names = model.class_names
    batcher = Batcher(model, max_batch, batch_wait_ms)
    model.predict_bytes([""], [b""])  # trace the signature before the first request

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _send(self, status: int, payload: dict):
            body = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # quiet: one line per request is too much for a local service
            return

        def do_GET(self):
            if self.path.rstrip("/") in ("/health", ""):
                self._send(200, {"status": "ok", "classes": names, "model": model_dir})
            else:
                self._send(404, {"error": f"no such path {self.path}; GET /health, POST /predict"})

        def do_POST(self):
            if self.path.rstrip("/") != "/predict":
                self._send(404, {"error": f"no such path {self.path}; POST /predict"})
                return
            try:
                length = int(self.headers.get("Content-Length", ""))
            except ValueError:
                self._send(411, {"error": "a Content-Length header is required"})
                return
            if length > max_request_bytes:
                self.close_connection = True
                self._send(413, {"error": f"request of {length} bytes is over the limit of {max_request_bytes}"})
                return
            try:
                texts, images = _parse(self.rfile.read(length))
            except ValueError as e:
                self._send(400, {"error": str(e)})
                return
            if not texts:
                self._send(200, {"predictions": []})
                return
            try:
                probs = batcher.submit(texts, images).result(timeout=300)
            except Exception as e:  # noqa: BLE001
                self._send(500, {"error": f"{type(e).__name__}: {e}"})
                return
            self._send(
                200,
                {
                    "predictions": [
                        {
                            "label": names[int(p.argmax())],
                            "probabilities": {n: round(float(x), 6) for n, x in zip(names, p)},
                        }
                        for p in probs
                    ]
                },
            )

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def serve_forever(
    model_dir: str, host: str = "127.0.0.1", port: int = 8501, max_request_bytes: int = 32 << 20, max_batch: int = 64
) -> None:
    server = make_server(model_dir, host, port, max_request_bytes, max_batch)
    bound_host, bound_port = server.server_address[:2]
    print(
        f"serving {model_dir} on http://{bound_host}:{bound_port} (POST /predict, GET /health); Ctrl-C stops",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        server.server_close()
