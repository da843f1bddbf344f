"""What `mmsa explain` writes: one PNG per post, `index.html` over them, `explanations.json`.

The PNG has three panels: the picture with the occlusion heat map over it
(red: the region supported the predicted class, blue: it argued against), the
caption's token attributions in reading order (the same colours), and the
predicted probabilities with both modalities, the caption only and the image
only. `index.html` shows each PNG beside the caption with its tokens coloured
by attribution and the numbers; captions and ids are HTML-escaped and nothing
is fetched (the PNGs are files beside it).
"""

from __future__ import annotations

import html
import io
import json
import os
import warnings

import numpy as np

from mmsa_keras.figures import subplots

MAX_TOKENS_SHOWN = 40


def _picture(image: bytes, size: int):
    """The image as the model sees its shape (`size` square, RGB 0..1), or None."""
    if not image:
        return None
    try:
        from PIL import Image

        with Image.open(io.BytesIO(image)) as im:
            im.draft("RGB", (size, size))
            return np.asarray(im.convert("RGB").resize((size, size)), np.float32) / 255.0
    except Exception:  # noqa: BLE001 - an unreadable image is drawn as "no image"
        return None


def _symmetric_limit(values) -> float:
    values = np.asarray(values, np.float64)
    return float(np.abs(values).max()) if values.size and np.abs(values).max() > 0 else 1.0


def _image_panel(ax, picture, heat, reads_image: bool) -> None:
    ax.set_axis_off()
    if picture is None:
        ax.text(0.5, 0.5, "no image", ha="center", va="center", transform=ax.transAxes)
        return
    ax.imshow(picture)
    if not reads_image:
        ax.set_title("image (not read by this model)", fontsize=9)
    if heat is not None:
        limit = _symmetric_limit(heat)
        h, w = picture.shape[:2]
        style = dict(cmap="RdBu_r", vmin=-limit, vmax=limit, alpha=0.5, interpolation="bilinear")
        ax.imshow(heat, extent=(0, w, h, 0), **style)
        ax.set_title(f"image occlusion (max |Δp| {limit:.3f})", fontsize=9)


def _token_panel(ax, tokens: dict) -> None:
    words, scores = tokens["tokens"][:MAX_TOKENS_SHOWN], np.asarray(tokens["scores"][:MAX_TOKENS_SHOWN])
    if not words:
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no caption read", ha="center", va="center", transform=ax.transAxes)
        return
    y = np.arange(len(words))
    ax.barh(y, scores, color=np.where(scores >= 0, "#c0392b", "#2e6da4"))
    ax.set_yticks(y, labels=words, fontsize=7)
    ax.invert_yaxis()
    ax.axvline(0, color="black", linewidth=0.5)
    method = tokens["method"].replace("_", " ")
    cut = " (first 40)" if len(tokens["tokens"]) > MAX_TOKENS_SHOWN else ""
    ax.set_title(f"tokens: {method}{cut}", fontsize=9)


def _modality_panel(ax, modalities: dict, class_names, probabilities: bool) -> None:
    rows = [(k.replace("_", " "), v) for k, v in modalities.items() if v is not None]
    x = np.arange(len(class_names))
    width = 0.8 / len(rows)
    for i, (name, probs) in enumerate(rows):
        ax.bar(x + i * width - 0.4 + width / 2, probs, width, label=name)
    ax.set_xticks(x, labels=class_names, fontsize=8)
    if probabilities:
        ax.set_ylim(0, 1)
    ax.legend(fontsize=7)
    ax.set_title(f"{'probabilities' if probabilities else 'class scores'} by modality", fontsize=9)


def render_post(path: str, post_id: str, image: bytes, explanation: dict, class_names, image_size: int) -> str:
    fig, axes = subplots(1, 3, figsize=(13, 4.2), gridspec_kw={"width_ratios": [1, 1.2, 1]})
    shown = max(int(image_size), 224)  # drawn larger than a small model input; the grid covers the same picture
    _image_panel(axes[0], _picture(image, shown), explanation["image_heatmap"], explanation["reads_image"])
    _token_panel(axes[1], explanation["tokens"])
    _modality_panel(axes[2], explanation["modalities"], class_names, explanation["scores_are_probabilities"])
    predicted = explanation["predicted"]
    fig.suptitle(f"{post_id}: predicted {predicted} ({explanation['probabilities'][predicted]:.2f})", fontsize=11)
    fig.tight_layout()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # glyphs missing from the font (CJK, emoji) are drawn as boxes
        fig.savefig(path, dpi=90)
    return path


def _coloured_caption(tokens: dict) -> str:
    words, scores = tokens["tokens"], np.asarray(tokens["scores"], np.float64)
    if not words:
        return "<em>no caption read</em>"
    limit = _symmetric_limit(scores)
    spans = []
    for word, score in zip(words, scores):
        alpha = min(1.0, abs(score) / limit)
        rgb = "192,57,43" if score >= 0 else "46,109,164"
        title = html.escape(f"{score:+.4f}", quote=True)
        spans.append(f'<span style="background:rgba({rgb},{alpha:.2f})" title="{title}">{html.escape(word)}</span>')
    return " ".join(spans)


def _post_html(entry: dict, class_names) -> str:
    e = entry["explanation"]
    probs = "".join(
        f"<tr><td>{html.escape(k.replace('_', ' '))}</td>" + "".join(f"<td>{p:.3f}</td>" for p in v) + "</tr>"
        for k, v in e["modalities"].items()
        if v is not None
    )
    head = "".join(f"<th>{html.escape(c)}</th>" for c in class_names)
    png = html.escape(entry["png"], quote=True)
    return (
        f'<section class="post"><h2>{html.escape(entry["id"])}: {html.escape(e["predicted"])}</h2>'
        f'<img src="{png}" alt="explanation of {html.escape(entry["id"], quote=True)}" width="900">'
        f'<p class="caption">{_coloured_caption(e["tokens"])}</p>'
        f"<table><tr><th></th>{head}</tr>{probs}</table></section>"
    )


def write_index(out_dir: str, entries: list[dict], class_names, source: str) -> str:
    path = os.path.join(out_dir, "index.html")
    methods = sorted({e["explanation"]["tokens"]["method"] or "none" for e in entries})
    body = "\n".join(_post_html(e, class_names) for e in entries)
    page = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>mmsa explain</title>'
        "<style>body{font-family:sans-serif;max-width:960px;margin:auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}"
        ".caption span{padding:1px 2px;border-radius:3px}</style></head><body>"
        f"<h1>Explanations: {html.escape(source)}</h1>"
        f"<p>{len(entries)} posts; token method: {html.escape(', '.join(methods).replace('_', ' '))}; image: "
        "occlusion. Red supported the predicted class, blue argued against it.</p>"
        f"{body}</body></html>"
    )
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)
    return path


def write_json(out_dir: str, entries: list[dict], extra: dict) -> str:
    path = os.path.join(out_dir, "explanations.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({**extra, "posts": entries}, f, indent=1, ensure_ascii=False)
    return path
