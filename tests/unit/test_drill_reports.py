"""The fault drills' figures and timelines (tests/drills): the outage of a probe's timeline, the min/median/max of
several runs, and a PNG an image reader can decode, with the failures drawn where they happened."""

import struct
import zlib

from drills.fault_drills import outage_since, spread, table
from drills.timeline import BUCKET_MS, MARGIN, PIXELS_PER_BUCKET, RED, render
from drills.write_probe import Written, figures


def decode_png(data):
    """Width, height and RGB rows of an 8-bit RGB PNG without filters (what timeline.render writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, chunks = 8, {}
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind, body = data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]
        assert struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])[0] == zlib.crc32(kind + body)
        chunks[kind] = chunks.get(kind, b"") + body
        offset += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, color) == (8, 2)
    raw = zlib.decompress(chunks[b"IDAT"])
    stride = 1 + 3 * width
    assert len(raw) == stride * height
    return width, height, [raw[row * stride + 1 : (row + 1) * stride] for row in range(height)]


def written(acks_ms, failed_ms, end_ms):
    result = Written()
    result.start = 1000.0
    result.acknowledged = {n: (1, 0.01) for n in range(1, len(acks_ms) + 1)}
    result.acks, result.failed, result.end = acks_ms, failed_ms, end_ms
    return result


def test_the_outage_is_the_longest_time_without_an_acknowledgement():
    probe = figures("pg", written([100, 200, 5200, 5300], [300, 1300, 2300], 5400), {1, 2, 3, 4})
    assert probe["outage"] == 5.0
    assert probe["lost"] == 0
    lost = figures("pg", written([100, 200], [], 300), {1})
    assert lost["lost"] == 1


def test_an_outage_counted_from_a_moment_ignores_the_earlier_one():
    timeline = {"start": 1000.0, "acknowledged": [100, 200, 5200, 5300, 5400, 7400]}
    assert outage_since(timeline, 1000.0) == 5.0
    assert outage_since(timeline, 1005.25) == 2.0


def test_several_runs_give_min_median_max_per_drill():
    runs = [
        {"drill": "switchover", "outage_s": outage, "healthy_after_s": 5.0, "lost": 0, "passed": outage <= 5}
        for outage in (2.0, 1.0, 6.0)
    ]
    summary = spread(runs)["switchover"]
    assert summary["outage_s"] == {"min": 1.0, "median": 2.0, "max": 6.0}
    assert (summary["runs"], summary["passed"]) == (3, 2)
    assert table(runs).splitlines()[3].split()[-1] == "False"


def test_the_timeline_is_a_png_with_the_failures_where_they_happened():
    timeline = {"start": 1000.0, "acknowledged": [0, 100, 200, 3000], "failed": [1500, 1510, 1520]}
    width, height, rows = decode_png(render(timeline, [(1001.0, "crash pg-1")], "primary crash"))
    assert width > 30 * PIXELS_PER_BUCKET and height > 50
    x_failure = MARGIN + 1500 // BUCKET_MS * PIXELS_PER_BUCKET
    x_quiet = MARGIN + 2500 // BUCKET_MS * PIXELS_PER_BUCKET
    column = [bytes(row[3 * x_failure : 3 * x_failure + 3]) for row in rows]
    quiet = [bytes(row[3 * x_quiet : 3 * x_quiet + 3]) for row in rows]
    assert bytes(RED) in column
    assert bytes(RED) not in quiet
