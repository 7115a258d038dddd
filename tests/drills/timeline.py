"""A drill's timeline as a PNG, in pure Python (zlib): acknowledged writes per 100 ms above the axis (green),
failed attempts per 100 ms below it (red), the drill's events as labelled vertical lines (blue), a tick every
10 s. An operator looks at it instead of reading the probe's figures.
"""

import struct
import zlib

BUCKET_MS = 100
PIXELS_PER_BUCKET = 2
MARGIN = 12
BAR_UNIT = 14  # pixels per write in one bucket
HALF = 4 * BAR_UNIT  # room for 4 writes per bucket above the axis and 4 failures below
LABEL_ROWS = 4
SCALE = 2  # the glyphs are 3x5, drawn twice as large
LABEL_ROOM = 30 * 4 * SCALE  # an event label of 30 characters fits right of its line

WHITE, GREY, GREEN, RED, BLUE, BLACK = (255,) * 3, (200,) * 3, (40, 160, 60), (210, 50, 40), (40, 80, 200), (0,) * 3

# A 3x5 font: each glyph five rows of three pixels, "1" drawn.
GLYPHS = dict(
    zip(
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-.:/",
        """111101101101111 010110010010111 111001111100111 111001111001111 101101111001001 111100111001111
        111100111101111 111001001001001 111101111101111 111101111001111 010101111101101 110101110101110
        011100100100011 110101101101110 111100110100111 111100110100100 011100101101011 101101111101101
        111010010010111 001001001101010 101101110101101 100100100100111 101111111101101 110101101101101
        010101101101010 110101110100100 010101101110011 110101110101101 011100010001110 111010010010010
        101101101101111 101101101101010 101101111111101 101101010101101 101101010010010 111001010100111
        000000111000000 000000000000010 000010000010000 001001010100100""".split(),
        strict=True,
    )
)


class Canvas:
    """An RGB image to draw rectangles and text on."""

    def __init__(self, width, height):
        self.width, self.height = width, height
        self.rows = [bytearray(WHITE * width) for row in range(height)]

    def rect(self, x0, y0, x1, y1, color):
        """Fill [x0, x1) x [y0, y1), clipped to the image."""
        x0, x1 = max(0, x0), min(self.width, x1)
        for y in range(max(0, y0), min(self.height, y1)):
            self.rows[y][3 * x0 : 3 * x1] = bytes(color) * max(0, x1 - x0)

    def text(self, x, y, text, color):
        for char in text.upper():
            glyph = GLYPHS.get(char, "0" * 15)
            for index, bit in enumerate(glyph):
                if bit == "1":
                    row, column = divmod(index, 3)
                    self.rect(
                        x + column * SCALE, y + row * SCALE, x + (column + 1) * SCALE, y + (row + 1) * SCALE, color
                    )
            x += 4 * SCALE

    def png(self):
        raw = b"".join(b"\x00" + bytes(row) for row in self.rows)

        def chunk(kind, data):
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
        )


def per_bucket(offsets_ms, buckets):
    counts = [0] * buckets
    for offset in offsets_ms:
        counts[min(buckets - 1, max(0, offset // BUCKET_MS))] += 1
    return counts


def render(timeline, events, title):
    """The PNG of a probe's timeline ({start, acknowledged, failed}) with events [(UNIX time, label)]."""
    end = max([0, *timeline["acknowledged"], *timeline["failed"]]) + BUCKET_MS
    buckets = end // BUCKET_MS + 1
    label_height = LABEL_ROWS * 7 * SCALE
    top = MARGIN + 7 * SCALE + label_height
    axis = top + HALF
    canvas = Canvas(2 * MARGIN + buckets * PIXELS_PER_BUCKET + LABEL_ROOM, axis + HALF + MARGIN + 7 * SCALE)
    canvas.text(MARGIN, MARGIN, title, BLACK)
    for second in range(0, end // 1000 + 1, 10):
        x = MARGIN + second * 1000 // BUCKET_MS * PIXELS_PER_BUCKET
        canvas.rect(x, top, x + 1, axis + HALF, GREY)
        canvas.text(x + 2, axis + HALF + 3, f"{second}S", GREY)
    for bucket, (acks, fails) in enumerate(
        zip(per_bucket(timeline["acknowledged"], buckets), per_bucket(timeline["failed"], buckets), strict=True)
    ):
        x = MARGIN + bucket * PIXELS_PER_BUCKET
        canvas.rect(x, axis - min(HALF, acks * BAR_UNIT), x + PIXELS_PER_BUCKET, axis, GREEN)
        canvas.rect(x, axis + 1, x + PIXELS_PER_BUCKET, axis + 1 + min(HALF, fails * BAR_UNIT), RED)
    canvas.rect(MARGIN, axis, canvas.width - MARGIN, axis + 1, BLACK)
    for index, (when, label) in enumerate(events):
        x = MARGIN + int((when - timeline["start"]) * 1000) // BUCKET_MS * PIXELS_PER_BUCKET
        label_y = MARGIN + 7 * SCALE + (index % LABEL_ROWS) * 7 * SCALE
        canvas.rect(x, label_y, x + 1, axis + HALF, BLUE)
        canvas.text(x + 3, label_y, label, BLUE)
    return canvas.png()
