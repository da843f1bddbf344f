"""The error gallery: a run's most confident mistakes on one split, as one self-contained HTML page.

`mmsa evaluate RUN [--data-dir D --format F] [--split S] --errors N` writes
`errors_<split>.html` beside the split's metrics: the N wrong predictions with
the highest predicted probability, grouped by confusion pair (true → predicted,
the largest group first), each with its thumbnail (embedded, 128 px), caption,
post id, true and predicted class and every class probability, beside the
split's confusion matrix. Captions and ids are HTML-escaped; nothing is fetched.
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections import defaultdict

import numpy as np

THUMBNAIL = 128


def most_confident_errors(y_true, y_prob, n: int) -> list[int]:
    """Indices of the `n` wrong predictions with the highest predicted probability, most confident first."""
    y_true, y_prob = np.asarray(y_true), np.asarray(y_prob)
    pred = y_prob.argmax(-1)
    wrong = np.flatnonzero(pred != y_true)
    order = wrong[np.argsort(-y_prob[wrong, pred[wrong]], kind="stable")]
    return [int(i) for i in order[: max(0, n)]]


def _thumbnail(path: str | None) -> str | None:
    """A data URI of the image shrunk to `THUMBNAIL` px, or None (no image, unreadable)."""
    if not path:
        return None
    try:
        from PIL import Image

        with Image.open(path) as im:
            im.draft("RGB", (THUMBNAIL, THUMBNAIL))  # JPEG: decode at a reduced size
            im = im.convert("RGB")
            im.thumbnail((THUMBNAIL, THUMBNAIL))
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=80)
    except Exception:  # noqa: BLE001 - an unreadable image is shown as "no image", never fatal
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def write_error_gallery(
    path: str, posts, y_true, y_prob, class_names, n: int, title: str, confusion_png: str | None = None
) -> dict:
    """Write the page (see the module docstring); returns `{"errors": total wrong, "shown": k, "path": path}`."""
    y_true, y_prob = np.asarray(y_true), np.asarray(y_prob)
    pred = y_prob.argmax(-1)
    chosen = most_confident_errors(y_true, y_prob, n)
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i in chosen:
        groups[(int(y_true[i]), int(pred[i]))].append(i)
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title>",
        "<style>body{font-family:sans-serif;margin:1.5em}.post{display:inline-block;vertical-align:top;"
        "width:260px;margin:6px;padding:6px;border:1px solid #ccc;border-radius:4px}.post img{max-width:128px}"
        ".noimg{width:128px;height:64px;background:#eee;color:#777;font-size:12px;display:flex;"
        "align-items:center;justify-content:center}.caption{font-size:13px;margin:4px 0;word-wrap:break-word}"
        "table.p{font-size:12px;border-collapse:collapse}table.p td{padding:0 6px}</style>",
        "</head><body>",
        f"<h1>{esc(title)}</h1>",
        f"<p>{int((pred != y_true).sum())} of {len(y_true)} posts are wrong; the {len(chosen)} most confident "
        "mistakes, grouped by true → predicted class.</p>",
    ]
    if confusion_png:
        parts.append(f'<p><img src="{esc(os.path.basename(confusion_png))}" alt="confusion matrix" width="420"></p>')
    for (t, p), members in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        parts.append(
            f'<h2 class="pair" data-true="{esc(class_names[t])}" data-predicted="{esc(class_names[p])}">'
            f"{esc(class_names[t])} → {esc(class_names[p])} ({len(members)})</h2>"
        )
        for i in members:
            post = posts[i]
            thumb = _thumbnail(getattr(post, "image_path", None))
            image = (
                f'<img src="{thumb}" alt="image of post {esc(str(post.id))}">'
                if thumb
                else '<div class="noimg">no image</div>'
            )
            probs = "".join(
                f"<tr><td>{esc(name)}</td><td>{100 * y_prob[i, k]:.1f}%</td></tr>" for k, name in enumerate(class_names)
            )
            parts.append(
                f'<div class="post" data-id="{esc(str(post.id))}" data-confidence="{y_prob[i, p]:.6f}">{image}'
                f'<div class="caption">{esc(post.text or "(no caption)")}</div>'
                f"<div>id {esc(str(post.id))}: true <b>{esc(class_names[t])}</b>, predicted "
                f'<b>{esc(class_names[p])}</b></div><table class="p">{probs}</table></div>'
            )
    parts.append("</body></html>")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(parts))
    return {"errors": int((pred != y_true).sum()), "shown": len(chosen), "path": path}
