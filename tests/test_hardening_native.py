"""Hardening of the native entry points (issue 8, families 1-4): the array intake, aborts and
panics, thread counts, Ctrl-C.

Every check here compares against an independent answer: a plain contiguous copy of the same
values, numpy's own reading of a buffer (`astype`), or the exception a user should get. Cases that
could abort or hang the interpreter run in a subprocess with a memory limit and a timeout.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import bettimatch as bm
from bettimatch import _core
from conftest import assert_barcodes_equal, assert_matchings_equal

# -------------------------------------------------------------------------------------------
# helpers
# -------------------------------------------------------------------------------------------

DTYPES = ["?", "u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "f2", "f4", "f8"]
LAYOUTS = ["c", "fortran", "reversed", "stepped", "field", "unaligned", "transposed"]


def with_layout(values: np.ndarray, dtype: np.dtype, layout: str) -> np.ndarray:
    """`values` (2D) stored as `dtype` in the given memory layout; equal to `values.astype(dtype)`."""
    typed = values.astype(dtype)
    rows, cols = typed.shape
    if layout == "c":
        return typed
    if layout == "fortran":
        return np.asfortranarray(typed)
    if layout == "reversed":
        return np.ascontiguousarray(typed[::-1, ::-1])[::-1, ::-1]
    if layout == "stepped":
        big = np.zeros((rows * 2, cols * 3), dtype=dtype)
        big[::2, ::3] = typed
        return big[::2, ::3]
    if layout == "field":  # a packed structured array: strides are no multiple of the item size
        rec = np.zeros((rows, cols), dtype=[("pad", "u1"), ("v", dtype)])
        rec["v"] = typed
        return rec["v"]
    if layout == "unaligned":
        buf = np.zeros(typed.nbytes + 1, dtype=np.uint8)
        out = np.ndarray(typed.shape, dtype=dtype, buffer=buf, offset=1)
        out[...] = typed
        return out
    if layout == "transposed":
        return np.ascontiguousarray(typed.T).T
    raise AssertionError(layout)


def values_for(dtype: np.dtype, draw_ints: np.ndarray) -> np.ndarray:
    """Small integer levels that every dtype holds exactly (0/1 for bool)."""
    if dtype.kind == "b":
        return draw_ints % 2
    if dtype.kind == "u":
        return draw_ints
    return draw_ints - 2  # signed and float: negative values too


def run_isolated(code: str, timeout: float = 120, memory_gib: float = 4, env: dict | None = None):
    """Runs `code` in a fresh interpreter with an address-space limit; returns the CompletedProcess."""
    prelude = textwrap.dedent(
        f"""
        import resource
        limit = int({memory_gib} * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        """
    )
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


# -------------------------------------------------------------------------------------------
# family 1: the intake reads every layout, dtype and byte order right
# -------------------------------------------------------------------------------------------


@given(
    data=st.data(),
    dtype=st.sampled_from(DTYPES),
    order=st.sampled_from("<>"),
    layout=st.sampled_from(LAYOUTS),
    connectivity=st.sampled_from([4, 8]),
)
def test_any_layout_gives_the_result_of_a_contiguous_copy(data, dtype, order, layout, connectivity):
    shape = data.draw(st.tuples(st.integers(1, 7), st.integers(1, 7)))
    levels = data.draw(hnp.arrays(np.int64, shape, elements=st.integers(0, 4)))
    dt = np.dtype(dtype).newbyteorder(order) if np.dtype(dtype).itemsize > 1 else np.dtype(dtype)
    values = values_for(dt, levels)
    stored = with_layout(values, dt, layout)
    assert np.array_equal(stored, values.astype(dt))
    plain = np.ascontiguousarray(values, dtype=np.float64)
    for filtration in ("sublevel", "superlevel"):
        # Superlevel values are 1 - x in the input's precision: compare with the native dtype.
        expected_input = plain if filtration == "sublevel" else np.ascontiguousarray(values.astype(dt.newbyteorder("=")))
        expected = bm.barcode(expected_input, filtration, connectivity)
        assert_barcodes_equal(bm.barcode(stored, filtration, connectivity), expected, f"{dt} {layout}")
        # The native intake on its own, without the Python layer's conversions.
        raw = _core.barcode_batch([stored], filtration, connectivity, 1, False)[0]
        ref = _core.barcode_batch([expected_input], filtration, connectivity, 1, False)[0]
        for got, want in zip(raw, ref):
            assert np.array_equal(got, want), f"native {dt} {layout} {filtration}"
    other = data.draw(hnp.arrays(np.int64, shape, elements=st.integers(0, 4)))
    target = with_layout(values_for(dt, other), dt, layout)
    m = bm.betti_matching(stored, target, "sublevel", connectivity)
    assert_matchings_equal(m, bm.betti_matching(plain, values_for(dt, other).astype(np.float64), "sublevel", connectivity))


@given(data=st.data(), dtype=st.sampled_from(DTYPES), layout=st.sampled_from(LAYOUTS))
def test_masks_of_any_layout_count_like_contiguous_bools(data, dtype, layout):
    shape = data.draw(st.tuples(st.integers(1, 9), st.integers(1, 70)))
    a = data.draw(hnp.arrays(np.int64, shape, elements=st.integers(0, 3)))
    b = data.draw(hnp.arrays(np.int64, shape, elements=st.integers(0, 3)))
    dt = np.dtype(dtype)
    sa, sb = with_layout(values_for(dt, a), dt, layout), with_layout(values_for(dt, b), dt, layout)
    got = _core.mask_matching_counts([sa], [sb], 4, 1)
    want = _core.mask_matching_counts([np.ascontiguousarray(sa != 0)], [np.ascontiguousarray(sb != 0)], 4, 1)
    assert np.array_equal(got, want)
    skel = _core.skeletonize_batch([sa], "guo-hall", 1)[0]
    assert np.array_equal(skel, _core.skeletonize_batch([np.ascontiguousarray(sa != 0)], "guo-hall", 1)[0])


@given(
    data=st.data(),
    dtype=st.sampled_from(["u1", "i2", "f2", ">f4", "f8", ">i8"]),
    step=st.integers(-3, 3),
)
def test_overlapping_and_zero_stride_views_read_like_their_copies(data, dtype, step):
    rows, cols = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6))
    base = data.draw(hnp.arrays(np.dtype(dtype), 3 * 5 + 6, elements=st.integers(0, 5)))
    item = base.itemsize
    # Rows overlap (a Hankel-like view), or repeat (stride 0), or run backwards; always in bounds.
    start = -step * (rows - 1) if step < 0 else 0
    view = np.lib.stride_tricks.as_strided(base[start:], shape=(rows, cols), strides=(step * item, item))
    for connectivity in (4, 8):
        assert_barcodes_equal(bm.barcode(view, "sublevel", connectivity), bm.barcode(view.copy(), "sublevel", connectivity))
    assert np.array_equal(
        _core.mask_matching_counts([view], [view.T.copy().T], 4, 1), _core.mask_matching_counts([view.copy()], [view.copy()], 4, 1)
    )


def test_a_field_of_a_packed_record_is_read_at_its_own_pixels():
    # The example: a stride of 9 bytes for 8-byte floats.
    rng = np.random.default_rng(5)
    r = np.zeros((16, 16), [("l", "u1"), ("p", "f8")])
    r["p"] = rng.random((16, 16))
    assert r["p"].strides == (144, 9)
    assert_barcodes_equal(bm.barcode(r["p"]), bm.barcode(r["p"].copy()))
    stack = np.zeros((3, 8, 8), [("l", "u1"), ("p", "f4")])
    stack["p"] = rng.random((3, 8, 8))
    got = _core.loss_pairs(stack["p"], stack["p"][::-1], "superlevel", 4, 1, False)
    want = _core.loss_pairs(stack["p"].copy(), stack["p"][::-1].copy(), "superlevel", 4, 1, False)
    for g, w in zip(got, want):
        assert np.array_equal(g, w)


def test_bool_bytes_other_than_one_are_true():
    rng = np.random.default_rng(1)
    u8 = (rng.random((40, 70)) > 0.5).astype(np.uint8) * rng.integers(1, 256, (40, 70)).astype(np.uint8)
    odd_bools = u8.view(bool)  # bytes 0..255: numpy reads nonzero as True
    good = u8.astype(bool)
    target = rng.random((40, 70)) > 0.4
    for connectivity in (4, 8):
        assert bm.betti_matching_error(odd_bools, target, connectivity=connectivity) == bm.betti_matching_error(
            good, target, connectivity=connectivity
        )
        assert bm.betti_number_error(odd_bools, target, connectivity=connectivity) == bm.betti_number_error(
            good, target, connectivity=connectivity
        )
    assert np.array_equal(
        _core.mask_matching_counts([odd_bools], [target], 8, 1), _core.mask_matching_counts([good], [target], 8, 1)
    )
    assert_barcodes_equal(bm.barcode(odd_bools), bm.barcode(good))
    assert np.array_equal(_core.skeletonize_batch([odd_bools], "zhang-suen", 1)[0], _core.skeletonize_batch([good], "zhang-suen", 1)[0])


def test_a_hostile_bool_npy_file_reads_like_numpy_reads_it(tmp_path):
    raw = np.full((33, 65), 255, dtype=np.uint8)
    raw[::3, ::4] = 0
    path = tmp_path / "hostile.npy"
    np.save(path, raw.view(bool))
    loaded = np.load(path)
    assert loaded.dtype == bool
    assert bm.betti_number_error(loaded, loaded.astype(bool)) == 0
    assert bm.betti_matching_error(loaded, raw != 0) == 0


@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
def test_integers_float64_cannot_hold_are_refused(dtype):
    edge = 2**53 - 1
    fine = np.array([[edge, 0], [3, edge - 1]], dtype=dtype)
    bc = bm.barcode(fine, "sublevel")
    assert bc.essential[0].tolist() == [[0, 1]]
    bad = fine.copy()
    bad[1, 0] = 2**53 + 1
    with pytest.raises(ValueError, match=r"\(1, 0\).*2\*\*53"):
        bm.barcode(bad, "sublevel")
    with pytest.raises(ValueError, match=r"2\*\*53"):
        _core.loss_pairs(bad[None], fine[None], "sublevel", 4, 1, False)
    if dtype == np.int64:
        with pytest.raises(ValueError, match=r"2\*\*53"):
            bm.barcode(-bad, "superlevel")
    # Masks only ask "nonzero?", which is exact for any integer.
    assert bm.betti_number_error(bad, bad) == 0


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
def test_matrix_big_endian_half_and_masked_arrays():
    rng = np.random.default_rng(3)
    x = rng.random((6, 7))
    assert_barcodes_equal(bm.barcode(np.matrix(x)), bm.barcode(x))
    assert_barcodes_equal(bm.barcode_batch([np.matrix(x)])[0], bm.barcode(x))
    half = x.astype("<f2")
    assert_barcodes_equal(bm.barcode(half.astype(">f2")), bm.barcode(half))
    assert_barcodes_equal(bm.barcode(half), bm.barcode(half.astype(np.float32)))
    unmasked = np.ma.masked_array(x, mask=np.zeros_like(x, dtype=bool))
    assert_barcodes_equal(bm.barcode(unmasked), bm.barcode(x))
    masked = np.ma.masked_array(x, mask=x > 0.9)
    with pytest.raises(ValueError, match="masked"):
        bm.barcode(masked)
    with pytest.raises(ValueError, match="masked"):
        bm.betti_matching(masked, x)


@pytest.mark.parametrize("dtype", ["c16", "O", "M8[s]", "U3", [("a", "f4"), ("b", "f4")], "V8"])
def test_non_numeric_dtypes_are_type_errors(dtype):
    x = np.zeros((3, 3), dtype=dtype)
    with pytest.raises(TypeError):
        bm.barcode(x)
    with pytest.raises(TypeError):
        _core.barcode_batch([x], "sublevel", 4, None, False)
    with pytest.raises(TypeError):
        _core.mask_matching_counts([x], [x], 4, None)


def test_non_arrays_reaching_the_native_layer_are_type_errors():
    for bad in ([[1.0, 2.0]], "image", None, 3.0):
        with pytest.raises(TypeError, match="numpy array"):
            _core.barcode_batch([bad], "sublevel", 4, None, False)


# -------------------------------------------------------------------------------------------
# family 2: no abort, no panic
# -------------------------------------------------------------------------------------------


def test_a_huge_input_is_refused_before_anything_is_allocated():
    # 70000² float32 ones, broadcast from one scalar: 4.9e9 pixels would need ~40 GB as f64.
    proc = run_isolated(
        """
        import numpy as np, bettimatch as bm
        from bettimatch import _core
        huge = np.broadcast_to(np.float32(1), (70000, 70000))
        for call in (
            lambda: bm.barcode(huge),
            lambda: _core.barcode_batch([huge], "superlevel", 4, None, False),
            lambda: _core.mask_matching_counts([huge], [huge], 4, None),
            lambda: _core.loss_pairs(huge[None], huge[None], "superlevel", 4, None, False),
            lambda: _core.skeletonize_batch([huge], "guo-hall", None),
        ):
            try:
                call()
            except ValueError as e:
                assert "at most" in str(e), e
            else:
                raise SystemExit("no error")
        print("refused")
        """,
        memory_gib=3,
    )
    assert proc.returncode == 0, proc.stderr
    assert "refused" in proc.stdout


def test_an_image_larger_than_memory_is_a_memory_error():
    # Within the index range but beyond this process's address space: MemoryError, not SIGABRT.
    proc = run_isolated(
        """
        import numpy as np
        from bettimatch import _core
        big = np.broadcast_to(np.uint8(1), (30000, 30000))   # 9e8 pixels: 7.2 GB as float64
        try:
            _core.barcode_batch([big], "superlevel", 4, None, False)
        except MemoryError as e:
            print("memory error:", e)
        """,
        memory_gib=2,
    )
    assert proc.returncode == 0, proc.stderr
    assert "memory error" in proc.stdout


def test_work_that_cannot_fit_is_a_memory_error_before_it_starts():
    # The inputs fit (the intake converts them), the computation's buffers could not: refused
    # before they are allocated, instead of an abort half way.
    proc = run_isolated(
        """
        import numpy as np
        import bettimatch as bm
        from bettimatch import _core
        volume = np.broadcast_to(np.float32(0.5), (300, 300, 300))    # 27M voxels, 216 MB as float64
        image = np.broadcast_to(np.float32(0.5), (7000, 7000))        # 49M pixels, 392 MB as float64
        for call in (
            lambda: bm.barcode(volume),
            lambda: _core.matching_batch([image], [image], "superlevel", 4, None, False),
            lambda: _core.diagram_matching_pairs(image[None], image[None], "superlevel", 4, None),
        ):
            try:
                call()
            except MemoryError as e:
                assert "not enough memory" in str(e), e
                print("memory error")
        """,
        memory_gib=2.5,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n").count("memory error") == 3, proc.stdout


@pytest.mark.parametrize("shape", [(0, 0), (0, 5), (5, 0)])
def test_zero_size_inputs_are_value_errors_everywhere(shape):
    empty = np.zeros(shape, dtype=bool)
    calls = [
        lambda: _core.mask_matching_counts([empty], [empty], 4, None),
        lambda: _core.barcode_batch([empty], "superlevel", 4, None, False),
        lambda: _core.matching_batch([empty], [empty], "superlevel", 8, None, False),
        lambda: _core.skeletonize_batch([empty], "guo-hall", None),
        lambda: _core.loss_pairs(empty[None], empty[None], "superlevel", 4, None, False),
        lambda: _core.diagram_matching_pairs(empty[None], empty[None], "superlevel", 4, None),
        lambda: bm.betti_matching_error(empty, empty),
        lambda: bm.barcode(empty),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="empty"):
            call()


@given(
    shape=st.lists(st.integers(0, 4), min_size=0, max_size=4).map(tuple),
    dtype=st.sampled_from(DTYPES),
    fill=st.sampled_from([0.0, 1.0, np.nan, np.inf, -np.inf, 1e300]),
)
def test_no_input_makes_a_native_call_panic(shape, dtype, fill):
    """Arbitrary shapes (0-4 dims, zero-length axes) and values: a result or ValueError/TypeError."""
    dt = np.dtype(dtype)
    with np.errstate(over="ignore"):  # 1e300 as float16/32 is inf: that is the point
        x = np.full(shape, fill if dt.kind == "f" else 1).astype(dt) if shape else np.zeros((), dt)
    stack = x if x.ndim == 3 else x.reshape((1,) + x.shape) if x.ndim == 2 else x
    calls = [
        lambda: _core.barcode_batch([x], "superlevel", 8, 2, True),
        lambda: _core.matching_batch([x], [x], "sublevel", 4, 2, True),
        lambda: _core.mask_matching_counts([x], [x], 8, 2),
        lambda: _core.skeletonize_batch([x], "zhang-suen", 2),
        lambda: _core.loss_pairs(stack, stack, "superlevel", 4, 2, True),
        lambda: _core.diagram_matching_pairs(stack, stack, "superlevel", 8, 2),
    ]
    for call in calls:
        try:
            call()
        except (ValueError, TypeError):
            pass  # a clear refusal; a PanicException (a BaseException) fails the test


def test_mismatched_pairs_are_value_errors_in_every_native_call():
    a, b = np.zeros((4, 5)), np.zeros((5, 4))
    with pytest.raises(ValueError):
        _core.mask_matching_counts([a], [b], 4, None)
    with pytest.raises(ValueError):
        _core.matching_batch([a], [b], "sublevel", 4, None, True)
    with pytest.raises(ValueError):
        _core.matching_batch([a], [a, a], "sublevel", 4, None, True)
    with pytest.raises(ValueError):
        _core.loss_pairs(a[None], b[None], "sublevel", 4, None, False)
    with pytest.raises(ValueError):
        _core.diagram_matching_pairs(a[None], np.zeros((2, 4, 5)), "sublevel", 4, None)


# -------------------------------------------------------------------------------------------
# family 3: thread counts
# -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, -1, _core.MAX_THREADS + 1, 10**6, 2**63 - 1])
def test_thread_counts_out_of_range_are_value_errors(n):
    img = np.zeros((4, 4))
    with pytest.raises(ValueError, match="num_threads"):
        bm.betti_matching_batch([img], [img], num_threads=n)
    with pytest.raises(ValueError, match="num_threads"):
        _core.barcode_batch([img], "sublevel", 4, n, True)


def test_a_huge_rayon_num_threads_is_a_value_error():
    proc = run_isolated(
        """
        import numpy as np, bettimatch as bm
        try:
            bm.betti_matching_batch([np.zeros((4, 4))], [np.zeros((4, 4))])
        except ValueError as e:
            print("refused:", e)
        bm.betti_matching_batch([np.zeros((4, 4))], [np.zeros((4, 4))], num_threads=2)  # explicit: fine
        """,
        timeout=60,
        env={"RAYON_NUM_THREADS": str(10**6)},
    )
    assert proc.returncode == 0, proc.stderr
    assert "RAYON_NUM_THREADS" in proc.stdout


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads through /proc")
def test_many_distinct_thread_counts_do_not_accumulate_threads():
    proc = run_isolated(
        """
        import os
        import numpy as np, bettimatch as bm
        img = np.zeros((8, 8))
        import time
        for n in range(1, 101):
            bm.betti_matching_batch([img] * 3, [img] * 3, num_threads=n)
        # Released pools' threads exit on their own, soon after the release.
        for _ in range(100):
            count = len(os.listdir("/proc/self/task"))
            if count <= 97 + 98 + 99 + 100 + 16:
                break
            time.sleep(0.05)
        print(count)
        """,
        timeout=120,
        memory_gib=8,
    )
    assert proc.returncode == 0, proc.stderr
    threads = int(proc.stdout.split()[-1])
    # At most 4 cached pools of the last counts used (97..100), plus the interpreter's threads.
    assert threads <= 97 + 98 + 99 + 100 + 16, threads


# -------------------------------------------------------------------------------------------
# family 4: Ctrl-C
# -------------------------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT")
def test_ctrl_c_stops_a_long_batch_before_its_end():
    # The child times a short batch, then starts one of 60 items and sends itself SIGINT shortly
    # after. Had the interrupt waited for the batch's end, it would have taken about 60 items'
    # time; between items it takes one or two (the bound allows 20, for a noisy machine).
    code = textwrap.dedent(
        """
        import os, signal, threading, time
        import numpy as np, bettimatch as bm
        rng = np.random.default_rng(0)
        imgs = rng.random((4, 512, 512), dtype=np.float32)
        preds = [imgs[i % 4] for i in range(60)]
        targets = [imgs[(i + 1) % 4] for i in range(60)]
        t = time.monotonic()
        bm.betti_matching_batch(preds[:3], targets[:3], num_threads=1)
        per_item = (time.monotonic() - t) / 3
        sent = []
        def interrupt():
            sent.append(time.monotonic())
            os.kill(os.getpid(), signal.SIGINT)
        threading.Timer(3 * per_item, interrupt).start()
        try:
            bm.betti_matching_batch(preds, targets, num_threads=1)
            print("finished")
        except KeyboardInterrupt:
            print("interrupted after", (time.monotonic() - sent[0]) / per_item, "items")
        # The pool is free again at once: nothing of the stopped batch still runs.
        t = time.monotonic()
        bm.betti_matching_batch(preds[:1], targets[:1], num_threads=1)
        print("next call took", (time.monotonic() - t) / per_item, "items")
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    words = proc.stdout.split()
    assert "interrupted" in words, proc.stdout
    after = float(words[words.index("after") + 1])
    assert after < 20, proc.stdout
    took = float(words[words.index("took") + 1])
    assert took < 20, proc.stdout


def test_values_whose_squares_overflow_are_refused_by_the_diagram_matching():
    x = np.zeros((1, 4, 4))
    y = x.copy()
    y[0, 2, 1] = 1e200  # finite, but (death - birth)² is not
    with pytest.raises(ValueError, match=r"target\[0\]: value at \(2, 1\).*squared"):
        _core.diagram_matching_pairs(x, y, "sublevel", 4, None)
    with pytest.raises(ValueError, match=r"input\[0\]"):
        _core.diagram_matching_pairs(y, x, "sublevel", 4, None)
    # The Betti matching needs no squares: the same values are fine there.
    _core.loss_pairs(y, x, "sublevel", 4, None, False)
