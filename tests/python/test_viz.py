"""lamina.viz: PNG image grids decode to the pixels we meant, and bad input fails cleanly."""

import struct
import zlib

import numpy as np
import pytest

from lamina import viz


def _read_png(path):
    """A minimal PNG decoder for filter-0, 8-bit grey/RGB files (what write_png writes)."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        n, tag = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        crc = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0]
        assert zlib.crc32(tag + body) & 0xFFFFFFFF == crc
        if tag == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif tag == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, colour = header[:4]
    assert depth == 8
    ch = 1 if colour == 0 else 3
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + w * ch)
    assert (raw[:, 0] == 0).all()
    px = raw[:, 1:]
    return px.reshape(h, w) if ch == 1 else px.reshape(h, w, 3)


def test_grid_layout_and_pixels(tmp_path):
    rng = np.random.default_rng(0)
    imgs = rng.random((5, 3, 4))
    p = viz.save_image_grid(str(tmp_path / "g.png"), imgs, nrow=3, padding=2, normalize=None)
    px = _read_png(p)
    assert px.shape == (2 * (3 + 2) + 2, 3 * (4 + 2) + 2)
    # image 4 is row 1, column 1
    got = px[2 + 5:2 + 5 + 3, 2 + 6:2 + 6 + 4]
    np.testing.assert_array_equal(got, np.clip(imgs[4] * 255 + 0.5, 0, 255).astype(np.uint8))
    assert (px[0] == 255).all()  # padding is white
    # the unused sixth cell is padding colour
    assert (px[7:10, 14:18] == 255).all()


def test_normalize_each_and_all(tmp_path):
    imgs = np.stack([np.linspace(-3, 5, 12).reshape(3, 4), np.linspace(0, 1, 12).reshape(3, 4) * 0.1])
    each = viz.image_grid(imgs, nrow=2, padding=0, normalize="each")
    assert each[:, :4].min() == 0 and each[:, :4].max() == 1
    assert each[:, 4:].min() == 0 and each[:, 4:].max() == 1
    alln = viz.image_grid(imgs, nrow=2, padding=0, normalize="all")
    assert alln.min() == 0 and alln.max() == 1 and alln[:, 4:].max() < 0.5


def test_rgb_channels_first_and_scale(tmp_path):
    imgs = np.random.default_rng(1).random((2, 3, 2, 2))
    p = viz.save_image_grid(str(tmp_path / "c.png"), imgs, nrow=2, padding=0, normalize=None, scale=3)
    px = _read_png(p)
    assert px.shape == (6, 12, 3)
    np.testing.assert_array_equal(px[:3, :3], np.full((3, 3, 3), 0) + (imgs[0, :, 0, 0] * 255 + 0.5).astype(np.uint8))


def test_tensor_input(tmp_path):
    import lamina
    t = lamina.rand(4, 1, 5, 5)
    px = _read_png(viz.save_image_grid(str(tmp_path / "t.png"), t, padding=0, normalize=None))
    assert px.shape == (10, 10)


@pytest.mark.parametrize("bad,match", [
    (np.zeros((2, 2)), "must be \\(N, H, W\\)"),
    (np.zeros((0, 3, 3)), "empty"),
    (np.zeros((2, 2, 3, 3)), "must be \\(N, H, W\\)"),
])
def test_bad_images(tmp_path, bad, match):
    with pytest.raises(ValueError, match=match):
        viz.save_image_grid(str(tmp_path / "x.png"), bad)
    assert not list(tmp_path.iterdir())


def test_bad_options(tmp_path):
    imgs = np.ones((2, 3, 3))
    with pytest.raises(ValueError, match="normalize"):
        viz.save_image_grid(str(tmp_path / "x.png"), imgs, normalize="max")
    with pytest.raises(ValueError, match="nrow"):
        viz.save_image_grid(str(tmp_path / "x.png"), imgs, nrow=0)
    with pytest.raises(ValueError, match="scale"):
        viz.save_image_grid(str(tmp_path / "x.png"), imgs, scale=0)
    with pytest.raises(ValueError, match="write_png"):
        viz.write_png(str(tmp_path / "x.png"), np.ones((2, 2, 4)))
    assert not list(tmp_path.iterdir())


def test_plot_lines(tmp_path):
    pytest.importorskip("matplotlib", reason="plot_lines draws with matplotlib (the plot extra)")
    p = str(tmp_path / "l.png")
    assert viz.plot_lines(p, {"a": ([1, 2, 3], [1, 0.1, 0.01])}, title="t", logy=True)
    assert open(p, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
