"""Thumbnail + edge-map function: resizes the product photo, computes an edge
map and contrast statistics, and returns the PNG thumbnail's digest and size.

The "photo" is synthesized once at init (a real function would fetch it from
the bucket named in the event), so the function needs no input file.
"""
import hashlib
import io
import json

import numpy as np
from PIL import Image
from skimage import exposure, filters, transform
from skimage.util import img_as_ubyte


def synth_photo(size=512, seed=11):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    base = 0.5 + 0.35 * np.sin(6 * np.pi * x) * np.cos(4 * np.pi * y)
    disc = ((x - 0.6) ** 2 + (y - 0.4) ** 2 < 0.05).astype(float) * 0.4
    return np.clip(base + disc + rng.normal(0, 0.03, (size, size)), 0, 1)


PHOTO = synth_photo()


def handler(event, context):
    width = int(event.get("width", 128))
    height = int(round(PHOTO.shape[0] * width / PHOTO.shape[1]))
    small = transform.resize(PHOTO, (height, width), anti_aliasing=True)
    if event.get("equalize", True):
        small = exposure.equalize_adapthist(small, clip_limit=0.02)
    edges = filters.sobel(small)
    threshold = filters.threshold_otsu(edges)
    buf = io.BytesIO()
    Image.fromarray(img_as_ubyte(np.clip(small, 0, 1))).save(buf, format="PNG", optimize=False)
    body = {
        "width": width, "height": height,
        "edge_fraction": round(float((edges > threshold).mean()), 5),
        "otsu": round(float(threshold), 5),
        "png_bytes": len(buf.getvalue()),
        "png_sha256": hashlib.sha256(buf.getvalue()).hexdigest(),
    }
    return {"statusCode": 200, "body": json.dumps(body)}
