"""Image resize: a ~1 MB image loaded at init, resized to 10 % per request."""
from PIL import Image

# 600 x 600 RGB = ~1 MB of pixels, built at init (deterministic content).
_IMAGE = Image.frombytes("RGB", (600, 600), bytes((i * 7) % 256 for i in range(600 * 600 * 3)))


def handler(event, context):
    small = _IMAGE.resize((60, 60))
    return {"size": list(small.size), "checksum": sum(small.tobytes()) % 1000003}
