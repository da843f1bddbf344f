"""Peak memory with images just under the limits: the training image cache and `mmsa serve`.

* training: the image cache (every image decoded once, resized to 224 px) over two posts whose
  JPEGs announce just under the 90-megapixel limit (9,480 x 9,480), in a fresh process; its
  peak resident memory (`VmHWM`) beside the same over two 0.3-megapixel photos;
* serving: `mmsa serve` on a small export, one request with one image just under the
  per-request pixel budget (6,320 x 6,320, 39.9 MP), then one with an image just under the
  90-megapixel limit (refused with a warning: over the budget) and the server's peak resident
  memory (`VmHWM`) after each, against its peak after a text-only request.

  python benchmarks/large_images.py
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork and exec
CACHE = r"""
import sys
from data_pipelines.image_cache import ImageCache
from data_pipelines.post import Post
def hwm():
    return next(int(l.split()[1]) / 1024 for l in open("/proc/self/status") if l.startswith("VmHWM"))
posts = [Post(str(i), None, p, 0) for i, p in enumerate(sys.argv[2:])]
before = hwm()
ImageCache.build(posts, 224, sys.argv[1], verbose=False)
print(before, hwm())
"""


def jpeg(path: str, side: int) -> str:
    """A smooth (small on disk) side x side JPEG, written in slices so the writer stays small."""
    import numpy as np
    import tensorflow as tf

    row = np.linspace(0, 255, side, dtype=np.float32)
    image = np.empty((side, side, 3), np.uint8)
    image[..., 0] = row[None, :]
    image[..., 1] = row[:, None]
    image[..., 2] = 128
    with open(path, "wb") as f:
        f.write(tf.io.encode_jpeg(image, quality=50).numpy())
    return path


def mb_cache(tmp: str, images: list[str]) -> str:
    out = subprocess.run(
        [sys.executable, "-c", CACHE, os.path.join(tmp, "cache"), *images],
        capture_output=True,
        text=True,
        check=True,
    )
    before, peak = map(float, out.stdout.strip().splitlines()[-1].split())
    return f"{peak:,.0f} (after imports {before:,.0f})"


def vm_hwm(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM"))


def main() -> None:
    tmp = tempfile.mkdtemp(prefix="mmsa_large_images_")
    big = [jpeg(os.path.join(tmp, f"big{i}.jpg"), 9480) for i in range(2)]
    small = [jpeg(os.path.join(tmp, f"small{i}.jpg"), 550) for i in range(2)]
    rows = [
        ("image cache, two 0.3 MP photos", mb_cache(tmp + "/s", small)),
        ("image cache, two 89.9 MP JPEGs", mb_cache(tmp + "/b", big)),
    ]
    data, run, export = (os.path.join(tmp, n) for n in ("data", "run", "export"))
    cli = [sys.executable, "-m", "mmsa_keras.app.cli"]
    subprocess.run([*cli, "datasets", "make-synthetic", data, "--posts", "60", "--image-size", "32"], check=True)
    small_run = ["--image-size", "32", "--batch-size", "16", "--sequence-length", "16", "--epochs", "1"]
    subprocess.run([*cli, "train", "--model", "native_cat", "--data-dir", data, "--out", run, *small_run], check=True)
    subprocess.run([*cli, "export", run, export], check=True)
    server = subprocess.Popen([*cli, "serve", export, "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        url = "http://" + server.stdout.readline().split("http://")[1].split()[0] + "/predict"

        def post(payload):
            req = urllib.request.Request(url, data=json.dumps(payload).encode())
            with urllib.request.urlopen(req, timeout=600) as r:
                return json.loads(r.read())

        post({"text": "warm up"})
        rows.append(("server, after a text-only request", f"{vm_hwm(server.pid):,.0f}"))
        under = base64.b64encode(open(jpeg(os.path.join(tmp, "under.jpg"), 6320), "rb").read()).decode()
        start = time.time()
        out = post({"text": "x", "image_b64": under})
        assert out["predictions"][0]["warnings"] == [], out
        rows.append((f"server, a 39.9 MP image ({time.time() - start:.1f} s)", f"{vm_hwm(server.pid):,.0f}"))
        huge = base64.b64encode(open(big[0], "rb").read()).decode()
        out = post({"text": "x", "image_b64": huge})
        assert out["predictions"][0]["warnings"], out
        rows.append(("server, an 89.9 MP image (refused: over the budget)", f"{vm_hwm(server.pid):,.0f}"))
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"\n{os.cpu_count()} CPU cores\n\n| case | peak resident memory (MB) |\n| --- | --- |")
    for name, mb in rows:
        print(f"| {name} | {mb} |")


if __name__ == "__main__":
    main()
