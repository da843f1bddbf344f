"""Image decoding shared by the training pipeline, the scan and the exported model.

One function, `decode_image_bytes`, turns encoded bytes (JPEG, PNG, GIF: first
frame, BMP; grayscale and RGBA turned into RGB) into a float32 `[S, S, 3]` image
with integer values in [0, 255] (resized, then rounded, so a cache of uint8
images holds exactly what decoding gives). The training pipeline and the
SavedModel's serving signature both call it, so a served post sees exactly the
pixels a trained one did.

Hostile input: an image whose header announces more than `MAX_PIXELS` pixels
(default 90 megapixels; `MMSA_MAX_IMAGE_PIXELS` changes it) is refused before
it is decoded (a 1.2 MB PNG can announce 20000x20000 pixels, 7.3 GB once
decoded), in the scan (`check_image_file`) and in the graph alike
(`safe_decode_batch` never raises: an undecodable, oversized or empty element
becomes a missing image for that post alone). Paths that are not regular files
(folders, FIFOs, devices) are never opened.
"""

from __future__ import annotations

import os
import re
import stat
import struct

import tensorflow as tf

from data_pipelines.paths import outside_root
from data_pipelines.progress import Progress
from data_pipelines.report import DataReport

MAX_PIXELS = int(os.environ.get("MMSA_MAX_IMAGE_PIXELS", 90_000_000))
#: bytes read from an image file at most (a larger file is refused as oversized)
MAX_IMAGE_BYTES = int(os.environ.get("MMSA_MAX_IMAGE_BYTES", 64 * 1024 * 1024))


# ----------------------------------------------------------------------------- headers (Python)
def image_dimensions(raw: bytes) -> tuple[int, int] | None:
    """`(width, height)` from a JPEG, PNG, GIF, BMP or WebP header, or None if unknown or truncated."""
    try:
        if raw[:8] == b"\x89PNG\r\n\x1a\n" and len(raw) >= 24:
            return struct.unpack(">II", raw[16:24])
        if raw[:6] in (b"GIF87a", b"GIF89a") and len(raw) >= 10:
            return struct.unpack("<HH", raw[6:10])
        if raw[:2] == b"BM" and len(raw) >= 26:
            header_size = struct.unpack("<I", raw[14:18])[0]
            if header_size == 12:
                return struct.unpack("<HH", raw[18:22])
            w, h = struct.unpack("<ii", raw[18:26])
            return abs(w), abs(h)
        if raw[:4] == b"RIFF" and raw[8:12] == b"WEBP" and len(raw) >= 30:
            chunk = raw[12:16]
            if chunk == b"VP8X":
                return (int.from_bytes(raw[24:27], "little") + 1, int.from_bytes(raw[27:30], "little") + 1)
            if chunk == b"VP8L":
                bits = int.from_bytes(raw[21:25], "little")
                return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
            if chunk == b"VP8 ":
                return (struct.unpack("<H", raw[26:28])[0] & 0x3FFF, struct.unpack("<H", raw[28:30])[0] & 0x3FFF)
            return None
        if raw[:2] == b"\xff\xd8":
            i = 2
            while i + 9 < len(raw):
                if raw[i] != 0xFF:
                    i += 1
                    continue
                marker = raw[i + 1]
                if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
                    i += 1 if marker == 0xFF else 2
                    continue
                length = struct.unpack(">H", raw[i + 2 : i + 4])[0]
                if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                    h, w = struct.unpack(">HH", raw[i + 5 : i + 9])
                    return w, h
                i += 2 + length
    except struct.error:
        return None
    return None


OUTSIDE_MESSAGE = "it resolves through a symlink to a file outside (--allow-outside-paths reads it)"


def read_regular_file(path: str, limit: int) -> tuple[bytes | None, str | None]:
    """Read at most `limit + 1` bytes of `path` if it is a regular file.

    Returns `(bytes, None)`, or `(None, problem)` for a missing path or one that
    is a folder, FIFO, socket or device (never opened, so a FIFO cannot hang the run),
    or `(None, "outside")` for one that resolves outside the dataset being read
    (`data_pipelines.paths.dataset_root`).
    """
    if outside_root(path):
        return None, "outside"
    try:
        st = os.stat(path)
    except OSError:
        return None, "missing"
    if not stat.S_ISREG(st.st_mode):
        kind = (
            "a folder"
            if stat.S_ISDIR(st.st_mode)
            else "a FIFO"
            if stat.S_ISFIFO(st.st_mode)
            else "a device"
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
            else "not a regular file"
        )
        return None, kind
    try:
        with open(path, "rb") as f:
            return f.read(limit + 1), None
    except OSError as e:
        return None, f"unreadable ({e.strerror})"


# ----------------------------------------------------------------------------- decoding (graph)
def _le(b, n):
    """Little-endian unsigned integer from the first n bytes of a uint8 vector."""
    b = tf.cast(b[:n], tf.int64)
    return tf.reduce_sum(b * tf.constant([256**i for i in range(n)], tf.int64))


def _be(b, n):
    b = tf.cast(b[:n], tf.int64)
    return tf.reduce_sum(b * tf.constant([256 ** (n - 1 - i) for i in range(n)], tf.int64))


def header_pixels(image_bytes: tf.Tensor) -> tf.Tensor:
    """Pixels (width x height) announced by a PNG, GIF, BMP, WebP or JPEG header (int64), -1 when unknown.

    Runs in graph; a corrupt JPEG header raises (callers run it where errors are caught).
    """
    head = tf.io.decode_raw(tf.strings.substr(image_bytes + tf.constant(b"\0" * 32), 0, 32), tf.uint8)

    def png():
        return _be(head[16:], 4) * _be(head[20:], 4)

    def gif():
        return _le(head[6:], 2) * _le(head[8:], 2)

    def bmp():
        def signed(x):
            return tf.where(x >= 2**31, x - 2**32, x)

        return tf.abs(signed(_le(head[18:], 4))) * tf.abs(signed(_le(head[22:], 4)))

    def jpeg():
        shape = tf.cast(tf.io.extract_jpeg_shape(image_bytes), tf.int64)
        return shape[0] * shape[1]

    def webp():
        vp8x = (_le(head[24:], 3) + 1) * (_le(head[27:], 3) + 1)
        bits = _le(head[21:], 4)
        vp8l = (tf.bitwise.bitwise_and(bits, 0x3FFF) + 1) * (
            tf.bitwise.bitwise_and(tf.bitwise.right_shift(bits, 14), 0x3FFF) + 1
        )
        vp8 = tf.bitwise.bitwise_and(_le(head[26:], 2), 0x3FFF) * tf.bitwise.bitwise_and(_le(head[28:], 2), 0x3FFF)
        chunk = tf.strings.substr(image_bytes, 12, 4)
        return tf.where(tf.equal(chunk, "VP8X"), vp8x, tf.where(tf.equal(chunk, "VP8L"), vp8l, vp8))

    is_png = tf.reduce_all(tf.equal(head[:4], tf.constant([0x89, 0x50, 0x4E, 0x47], tf.uint8)))
    is_gif = tf.reduce_all(tf.equal(head[:3], tf.constant([0x47, 0x49, 0x46], tf.uint8)))
    is_bmp = tf.reduce_all(tf.equal(head[:2], tf.constant([0x42, 0x4D], tf.uint8)))
    is_jpeg = tf.reduce_all(tf.equal(head[:2], tf.constant([0xFF, 0xD8], tf.uint8)))
    is_webp = tf.logical_and(
        tf.equal(tf.strings.substr(image_bytes, 0, 4), "RIFF"), tf.equal(tf.strings.substr(image_bytes, 8, 4), "WEBP")
    )
    return tf.case(
        [(is_png, png), (is_gif, gif), (is_bmp, bmp), (is_jpeg, jpeg), (is_webp, webp)],
        default=lambda: tf.constant(-1, tf.int64),
        exclusive=False,
    )


#: the image pixels decoded at once by a tf.data map (decoded, a pixel costs 3 bytes: 100 MP is ~300 MB)
DECODE_PIXEL_BUDGET = int(os.environ.get("MMSA_DECODE_PIXEL_BUDGET", 100_000_000))


def decode_parallelism(paths: list[str], budget: int = DECODE_PIXEL_BUDGET) -> int:
    """How many images to decode at once so that their announced pixels stay within `budget`:
    one per core for ordinary photos, fewer (down to one) when the largest images are huge."""
    largest = 1
    for path in paths:
        try:
            with open(path, "rb") as f:
                dims = image_dimensions(f.read(1 << 18))
        except OSError:
            continue
        if dims is not None:
            largest = max(largest, dims[0] * dims[1])
    return max(1, min(os.cpu_count() or 1, budget // largest))


def decode_image_bytes(
    image_bytes: tf.Tensor, image_size: int, max_pixels: int | None = None, source_size: int | None = None
) -> tuple[tf.Tensor, tf.Tensor]:
    """Decode one encoded image (scalar string) to `[S, S, 3]` float32 in [0, 255].

    An empty string means "no image": the result is a zero image and a presence
    flag of 0. An image whose header announces more than `max_pixels` pixels
    raises `InvalidArgumentError` before decoding. With `source_size`, the
    image is first reduced to `source_size` pixels square (rounded), then
    resized to `image_size` (paper 003 fed 32x32 images, upsampled to 224, to
    ResNet-50). Returns `(image, present)`.
    """
    limit = MAX_PIXELS if max_pixels is None else max_pixels
    present = tf.strings.length(image_bytes) > 0

    def _decode():
        pixels = header_pixels(image_bytes)
        check = tf.debugging.assert_less_equal(
            pixels, tf.constant(limit, tf.int64), message=f"image larger than {limit} pixels"
        )
        with tf.control_dependencies([check]):
            image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
        # resized straight from uint8 (the same values as from a float32 copy, without that copy: a large image
        # costs 3 bytes a pixel while it is decoded, not 15)
        image = tf.ensure_shape(image, (None, None, 3))
        if source_size:
            image = tf.round(tf.clip_by_value(tf.image.resize(image, (source_size, source_size)), 0.0, 255.0))
        image = tf.image.resize(image, (image_size, image_size))
        return tf.round(tf.clip_by_value(image, 0.0, 255.0))

    def _empty():
        return tf.zeros((image_size, image_size, 3), tf.float32)

    image = tf.cond(present, _decode, _empty)
    image.set_shape((image_size, image_size, 3))
    return image, tf.cast(present, tf.float32)


def safe_decode_batch(
    image_bytes: tf.Tensor, image_size: int, source_size: int | None = None
) -> tuple[tf.Tensor, tf.Tensor]:
    """Decode a `[B]` batch of encoded images without ever raising.

    Each element that is empty, undecodable or announces too many pixels gives a
    zero image and a presence flag of 0; the others decode as `decode_image_bytes`
    does. Runs in graph (the exported `serve` signature): the decodes run as a
    `tf.data` map with `ignore_errors`, and the survivors are scattered back by index.
    """
    n = tf.shape(image_bytes, out_type=tf.int64)[0]
    indices = tf.range(n, dtype=tf.int64)
    decoded = (
        tf.data.Dataset.from_tensor_slices((indices, image_bytes))
        .filter(lambda i, b: tf.strings.length(b) > 0)
        .map(lambda i, b: (i, decode_image_bytes(b, image_size, source_size=source_size)[0]))
        .ignore_errors()
    )
    # a sentinel keeps the batch non-empty when no image survives
    sentinel = tf.data.Dataset.from_tensors((tf.constant(-1, tf.int64), tf.zeros((image_size, image_size, 3))))
    idx, images = decoded.concatenate(sentinel).batch(2**31 - 1).get_single_element()
    keep = idx >= 0
    idx, images = tf.boolean_mask(idx, keep), tf.boolean_mask(images, keep)
    out = tf.scatter_nd(idx[:, None], images, tf.stack([n, image_size, image_size, 3]))
    present = tf.scatter_nd(idx[:, None], tf.ones_like(idx, tf.float32), tf.reshape(n, [1]))
    out.set_shape((None, image_size, image_size, 3))
    return out, present


def read_image_file(path: tf.Tensor) -> tf.Tensor:
    """Read a file's bytes in graph; an empty path gives an empty string."""
    return tf.cond(tf.strings.length(path) > 0, lambda: tf.io.read_file(path), lambda: tf.constant(b""))


# ----------------------------------------------------------------------------- checks (Python)
def _clean_tf_error(error: Exception) -> str:
    """TF's error text without the op/function wrappers."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    text = re.sub(r"\{\{[^}]*\}\}\s*", "", text)
    text = re.sub(r"\s*\[Op:[^\]]*\]", "", text)
    return text.strip()[:200]


def check_image_bytes(raw: bytes) -> tuple[str | None, str]:
    """Check encoded image bytes the way the pipeline will decode them.

    Returns `(problem_kind, message)`; `problem_kind` is None for a good image.
    """
    if not raw:
        return "empty_image", "zero bytes"
    if len(raw) > MAX_IMAGE_BYTES:
        return "oversized_image", f"file larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB"
    dims = image_dimensions(raw)
    if dims is not None and dims[0] * dims[1] > MAX_PIXELS:
        return "oversized_image", (
            f"{dims[0]}x{dims[1]} pixels announced (limit {MAX_PIXELS:,}); refused before decoding"
        )
    try:
        image = tf.io.decode_image(raw, channels=3, expand_animations=False)
        if int(tf.size(image)) == 0:
            return "undecodable_image", "decoded to an empty image"
        if dims is None and int(image.shape[0]) * int(image.shape[1]) > MAX_PIXELS:
            return "oversized_image", f"{image.shape[1]}x{image.shape[0]} pixels (limit {MAX_PIXELS:,})"
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as e:
        return "undecodable_image", _clean_tf_error(e)
    return None, ""


def check_image_file(path: str) -> tuple[str | None, str]:
    """Check that `path` is a regular file that decodes with the pipeline's own decoder.

    Returns `(problem_kind, message)`; `problem_kind` is None for a good image.
    """
    raw, problem = read_regular_file(path, MAX_IMAGE_BYTES)
    if problem == "missing":
        return "missing_image", "file not found"
    if problem == "outside":
        return "outside_path", OUTSIDE_MESSAGE
    if problem is not None:
        return "not_a_file", f"the path is {problem}"
    return check_image_bytes(raw)


def scan_images(posts, report: DataReport, verbose: bool = True) -> int:
    """Check every post's image; a bad one becomes a missing image (counted).

    Shows a progress bar. Returns the number of posts whose image was dropped.
    """
    with_images = [p for p in posts if p.image_path]
    bar = Progress(len(with_images), "Checking images", unit="image") if verbose and with_images else None
    dropped = 0
    for post in with_images:
        kind, message = check_image_file(post.image_path)
        if kind is not None:
            report.add(kind, post.image_path, message)
            post.meta.setdefault("dropped_image", post.image_path)
            post.image_path = None
            dropped += 1
        if bar is not None:
            bar.add(1)
    if bar is not None:
        bar.close()
    return dropped
