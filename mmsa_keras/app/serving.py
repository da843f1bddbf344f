"""`mmsa serve`: a local HTTP JSON endpoint over an exported model, on Starlette and uvicorn.

    pip install -e ".[serve]"        # starlette + uvicorn
    mmsa serve runs/cmac/export --port 8501

* `GET /health` → `{"status": "ok", "classes": [...]}`
* `POST /predict` with `{"posts": [{"text": "...", "image_b64": "<base64 file bytes>"}, ...]}`
  (either field may be missing or empty) → `{"predictions": [{"label": "...",
  "probabilities": {"negative": 0.1, ...}, "warnings": [...]}, ...]}`. A bare
  `{"text": ..., "image_b64": ...}` is one post.

What a request must be, checked before the model sees it (each refusal is a JSON
`{"error": ...}` naming the field or header, and affects that request alone):

* `Content-Length` is required (411), a non-negative integer (400; uvicorn's h11
  parser refuses a malformed one itself) and at most `max_request_bytes` (413,
  before the body is read); the body must arrive within `read_timeout_s` (408).
* The body is UTF-8 JSON (400) whose nesting the schema bounds: the top level is
  `{"posts": [...]}` or one post, a post has only the fields `text` and
  `image_b64`, both strings (400 naming an unknown field or a non-string value);
  nesting too deep for the parser is a 400 too. A text that is not valid Unicode
  (a lone surrogate written as `"\\ud800"`) is a 400 naming the post.
* Image bytes that are not base64 are a 400. Bytes that are not a PNG, JPEG, GIF,
  BMP or WebP image, or an image larger than `max_image_pixels`, are predicted
  without the image, with a per-post `warnings` entry. The images of one request
  may announce at most `max_request_pixels` pixels in all (413).

Concurrent requests are batched: a worker thread takes what is waiting (up to
`max_batch` posts and `max_request_pixels` announced pixels, waiting at most
`batch_wait_ms` for more) and runs the SavedModel's `serve` signature once. If
a shared batch fails, each request in it is run alone, so one bad request never
fails another. It listens on 127.0.0.1 unless told otherwise. The SavedModel
keeps the signature TF Serving hosts (`serve` / `serving_default`: `text`,
`image_bytes` → `probabilities`, `label`), so the same export can go to TF Serving.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import queue
import socket
import sys
import threading
import time
from concurrent.futures import Future

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.routing import Route

from data_pipelines.images import MAX_PIXELS, image_dimensions
from mmsa_keras.app.export import ExportedModel

#: the default pixel budget of one request and of one model call (decoded, an image costs ~12 bytes a pixel)
MAX_REQUEST_PIXELS = 40_000_000
POST_FIELDS = ("text", "image_b64")


class RequestError(ValueError):
    """A request the server refuses; `status` is the HTTP status."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


# ============================================================================ the batcher
class Batcher:
    """Runs posts from concurrent requests through the model in shared batches.

    A batch holds at most `max_batch` posts and `max_pixels` announced image
    pixels (a request over either runs alone). When a shared batch fails, each
    request in it is run again on its own: only the one that fails gets the error.
    """

    def __init__(self, model, max_batch: int = 64, batch_wait_ms: float = 2.0, max_pixels: int = MAX_REQUEST_PIXELS):
        self.model = model
        self.max_batch = max_batch
        self.max_pixels = max_pixels
        self.wait = batch_wait_ms / 1000.0
        self.queue: queue.Queue = queue.Queue()
        self._held = None  # a job taken from the queue that did not fit the last batch
        self.thread = threading.Thread(target=self._run, name="mmsa-batcher", daemon=True)
        self.thread.start()

    def submit(self, texts: list[str], images: list[bytes], pixels: int = 0) -> Future:
        future: Future = Future()
        self.queue.put((texts, images, pixels, future))
        return future

    def _next_batch(self) -> list:
        first = self._held if self._held is not None else self.queue.get()
        self._held = None
        jobs, size, pixels = [first], len(first[0]), first[2]
        deadline = time.monotonic() + self.wait
        while size < self.max_batch:
            try:
                job = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if size + len(job[0]) > self.max_batch or pixels + job[2] > self.max_pixels:
                self._held = job  # starts the next batch
                break
            jobs.append(job)
            size += len(job[0])
            pixels += job[2]
        return jobs

    def _predict(self, texts, images):
        probs = []
        for start in range(0, len(texts), self.max_batch):
            probs.extend(
                self.model.predict_bytes(texts[start : start + self.max_batch], images[start : start + self.max_batch])
            )
        return probs

    def _run(self):
        while True:
            jobs = self._next_batch()
            try:
                probs = self._predict([t for job in jobs for t in job[0]], [b for job in jobs for b in job[1]])
            except Exception as e:  # noqa: BLE001 - retried one request at a time below
                if len(jobs) == 1:
                    jobs[0][3].set_exception(e)
                    continue
                for texts, images, _, future in jobs:
                    try:
                        future.set_result(self._predict(texts, images))
                    except Exception as e:  # noqa: BLE001 - this request alone fails
                        future.set_exception(e)
                continue
            offset = 0
            for texts, _, _, future in jobs:
                future.set_result(probs[offset : offset + len(texts)])
                offset += len(texts)


# ============================================================================ request checking
def parse_posts(body: bytes, max_image_pixels: int, max_request_pixels: int):
    """`(texts, images, pixels, warnings)` of a /predict body, or `RequestError` naming what is wrong."""

    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise RequestError(f"the body is not UTF-8 ({e.reason} at byte {e.start})") from None
    except RecursionError:
        raise RequestError('the JSON is nested too deeply (a request is {"posts": [{...}, ...]})') from None
    except json.JSONDecodeError as e:
        raise RequestError(f"the body is not JSON: {e.msg} (line {e.lineno}, column {e.colno})") from None
    if isinstance(data, dict) and "posts" in data:
        extra = sorted(set(data) - {"posts"})
        if extra:
            raise RequestError(f"unknown field {extra[0]!r} beside 'posts' (a request is {{\"posts\": [...]}})")
        posts, where = data["posts"], "posts[{}]."
        if not isinstance(posts, list):
            raise RequestError("'posts' must be a list of posts")
    elif isinstance(data, dict):
        posts, where = [data], ""
    else:
        raise RequestError('expected {"posts": [{"text": ..., "image_b64": ...}, ...]} or one post')
    texts, images, warnings, total = [], [], [], 0
    for i, post in enumerate(posts):
        name = where.format(i)  # "posts[3]." or "" for a bare post
        if not isinstance(post, dict):
            raise RequestError(
                f"{name.rstrip('.') or 'the body'}: a post is an object with the fields text and image_b64"
            )
        unknown = sorted(set(post) - set(POST_FIELDS))
        if unknown:
            raise RequestError(f"{name}{unknown[0]}: unknown field (a post has the fields text and image_b64)")
        for field in POST_FIELDS:
            if field in post and not isinstance(post[field], str):
                raise RequestError(f"{name}{field}: must be a string, not {type(post[field]).__name__}")
        text = post.get("text", "")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise RequestError(f"{name}text: not valid Unicode (a lone surrogate such as \\ud800)") from None
        raw = post.get("image_b64", "")
        try:
            image = base64.b64decode(raw, validate=True) if raw else b""
        except (binascii.Error, ValueError):
            raise RequestError(f"{name}image_b64: not base64") from None
        notes = []
        if image:
            dims = image_dimensions(image)
            if dims is None:
                notes.append("image_b64 is not a PNG, JPEG, GIF, BMP or WebP image: predicted without the image")
                image = b""
            elif dims[0] * dims[1] > max_image_pixels:
                notes.append(
                    f"the image is {dims[0]}x{dims[1]} pixels, over the limit of {max_image_pixels:,}: "
                    "predicted without the image"
                )
                image = b""
            else:
                total += dims[0] * dims[1]
        texts.append(text)
        images.append(image)
        warnings.append(notes)
    if total > max_request_pixels:
        raise RequestError(
            f"the request's images have {total:,} pixels in all, over the limit of {max_request_pixels:,} "
            "per request: send fewer or smaller images per request",
            413,
        )
    return texts, images, total, warnings


async def read_body(request, max_request_bytes: int, read_timeout_s: float) -> bytes:
    """The body of a request whose Content-Length was checked, read within `read_timeout_s`."""
    header = request.headers.get("content-length")
    if header is None:
        raise RequestError("a Content-Length header is required", 411)
    try:
        length = int(header)
    except ValueError:
        raise RequestError(f"Content-Length {header!r} is not a number") from None
    if length < 0:
        raise RequestError(f"Content-Length {length} is negative")
    if length > max_request_bytes:
        raise RequestError(f"request of {length} bytes is over the limit of {max_request_bytes}", 413)

    async def collect() -> bytes:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > length:
                raise RequestError("the body is longer than its Content-Length")
            chunks.append(chunk)
        return b"".join(chunks)

    try:
        body = await asyncio.wait_for(collect(), timeout=read_timeout_s)
    except asyncio.TimeoutError:
        raise RequestError(f"the body did not arrive within {read_timeout_s:g} s", 408) from None
    if len(body) < length:
        raise RequestError(f"the body ended after {len(body)} of {length} bytes")
    return body


# ============================================================================ the app
def create_app(
    model,
    model_dir: str = "",
    max_request_bytes: int = 32 << 20,
    max_batch: int = 64,
    batch_wait_ms: float = 2.0,
    read_timeout_s: float = 30.0,
    max_request_pixels: int = MAX_REQUEST_PIXELS,
):
    """The Starlette app over a loaded `ExportedModel` (see the module docstring)."""

    names = model.class_names
    batcher = Batcher(model, max_batch, batch_wait_ms, max_request_pixels)
    max_image_pixels = min(MAX_PIXELS, max_request_pixels)

    async def health(request):
        return JSONResponse({"status": "ok", "classes": names, "model": model_dir})

    async def predict(request):
        try:
            body = await read_body(request, max_request_bytes, read_timeout_s)
            texts, images, pixels, warnings = parse_posts(body, max_image_pixels, max_request_pixels)
        except RequestError as e:
            # a refused body may still be arriving: close the connection rather than read it
            return JSONResponse({"error": str(e)}, e.status, headers={"Connection": "close"})
        if not texts:
            return JSONResponse({"predictions": []})
        try:
            probs = await asyncio.wrap_future(batcher.submit(texts, images, pixels))
        except Exception as e:  # noqa: BLE001 - this request's own failure
            return JSONResponse({"error": f"{type(e).__name__}: {str(e)[:300]}"}, 500)
        return JSONResponse(
            {
                "predictions": [
                    {
                        "label": names[int(p.argmax())],
                        "probabilities": {n: round(float(x), 6) for n, x in zip(names, p)},
                        "warnings": notes,
                    }
                    for p, notes in zip(probs, warnings)
                ]
            }
        )

    async def http_error(request, exc):
        hint = "GET /health, POST /predict"
        return JSONResponse({"error": f"{exc.detail} ({request.method} {request.url.path}); {hint}"}, exc.status_code)

    return Starlette(
        routes=[Route("/health", health, methods=["GET"]), Route("/predict", predict, methods=["POST"])],
        exception_handlers={HTTPException: http_error},
    )


def serve_forever(
    model_dir: str,
    host: str = "127.0.0.1",
    port: int = 8501,
    max_request_bytes: int = 32 << 20,
    max_batch: int = 64,
    read_timeout_s: float = 30.0,
    max_request_pixels: int = MAX_REQUEST_PIXELS,
) -> None:

    model = ExportedModel(model_dir)
    model.predict_bytes([""], [b""])  # trace the signature before the first request
    app = create_app(
        model,
        model_dir,
        max_request_bytes=max_request_bytes,
        max_batch=max_batch,
        read_timeout_s=read_timeout_s,
        max_request_pixels=max_request_pixels,
    )
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)  # connections made from now on wait in the backlog until uvicorn accepts them
    bound_host, bound_port = sock.getsockname()[:2]
    config = uvicorn.Config(
        app, http="h11", log_level="warning", access_log=False, timeout_keep_alive=5, lifespan="off"
    )
    print(
        f"serving {model_dir} on http://{bound_host}:{bound_port} (POST /predict, GET /health); Ctrl-C stops",
        flush=True,
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        sock.close()
