"""Builders of small datasets with every kind of bad input the readers must survive."""

from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image


def jpeg_bytes(size=24, colour=(200, 120, 40), mode="RGB") -> bytes:
    arr = np.zeros((size, size, 3), np.uint8) + np.array(colour, np.uint8)
    img = Image.fromarray(arr)
    if mode != "RGB":
        img = img.convert(mode)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def image_bytes(fmt: str, size=24, mode="RGB") -> bytes:
    arr = (np.random.default_rng(0).random((size, size, 4)) * 255).astype(np.uint8)
    img = Image.fromarray(arr, "RGBA").convert(mode)
    buf = io.BytesIO()
    if fmt == "GIF":
        frames = [img.convert("P"), Image.fromarray(255 - np.asarray(img.convert("RGB"))).convert("P")]
        frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    else:
        img.save(buf, format=fmt)
    return buf.getvalue()


def make_bad_mvsa(root: str) -> dict[str, str]:
    """An MVSA folder whose posts 1-2 are good and 3-10 each carry one defect.

    Returns a dict naming the defective post ids.
    """
    data = os.path.join(root, "data")
    os.makedirs(data, exist_ok=True)

    def write(name, content: bytes):
        with open(os.path.join(data, name), "wb") as f:
            f.write(content)

    good = jpeg_bytes()
    write("1.jpg", good)
    write("1.txt", b"so happy today #love")
    write("2.jpg", jpeg_bytes(colour=(20, 30, 90)))
    write("2.txt", b"worst day ever")
    write("3.jpg", good[: len(good) // 2])  # truncated JPEG
    write("3.txt", b"truncated image")
    write("4.jpg", b"")  # zero-byte image
    write("4.txt", b"zero byte image")
    write("5.jpg", b"this is a caption, not an image\n")  # a text file named .jpg
    write("5.txt", b"text named jpg")
    write("6.txt", b"no image file at all")  # missing image
    write("7.jpg", good)
    write("7.txt", "caf\u00e9 na\u00efve \u2013 d\u00e9j\u00e0 vu".encode("cp1252"))  # not UTF-8
    write("8.jpg", good)
    write("8.txt", b"   \r\n")  # empty caption
    write("9.jpg", good)
    write("9.txt", b"unknown label row")
    write("10.jpg", good)
    write("10.txt", b"wrong number of fields")
    rows = [
        "guid,tag",
        "1,positive",
        "2,negative",
        "3,neutral",
        "4,positive",
        "5,negative",
        "6,neutral",
        "7,positive",
        "8,negative",
        "9,ecstatic",
        "10,positive,extra",
    ]
    with open(os.path.join(root, "train.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(rows) + "\n")
    return {
        "truncated": "3",
        "zero_byte": "4",
        "text_as_jpg": "5",
        "missing_image": "6",
        "cp1252": "7",
        "empty_caption": "8",
        "unknown_label_line": "10",
        "bad_row_line": "11",
    }


def write_image_defects(folder: str, stems: dict[str, str]) -> None:
    """Write one image per defect kind; `stems` maps a kind to a file stem.

    Kinds: good, truncated, zero_byte, png_as_jpg, cmyk, gif, text_as_jpg.
    """
    os.makedirs(folder, exist_ok=True)
    good = jpeg_bytes()
    content = {
        "good": good,
        "truncated": good[: len(good) // 2],
        "zero_byte": b"",
        "png_as_jpg": image_bytes("PNG"),
        "cmyk": jpeg_bytes(mode="CMYK"),
        "text_as_jpg": b"not an image\n",
    }
    for kind, stem in stems.items():
        if kind == "gif":
            with open(os.path.join(folder, stem + ".gif"), "wb") as f:
                f.write(image_bytes("GIF"))
        else:
            with open(os.path.join(folder, stem + ".jpg"), "wb") as f:
                f.write(content[kind])
