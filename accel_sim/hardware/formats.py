"""Storage formats: what a tensor of a given shape and non-zeros occupies, and what reading it
costs in metadata. Closed forms (tests hold them to brute-force encodings of random masks).

For a rows x cols tensor with ``nnz`` non-zeros:

===============  ==========================  =====================================================
format           stored entries (data)       metadata bits
===============  ==========================  =====================================================
uncompressed     rows * cols                 0
bitmap           nnz                         rows * cols (one bit per element)
coo              nnz                         nnz * (ceil(log2 rows) + ceil(log2 cols))
csr              nnz                         nnz * ceil(log2 cols) + (rows + 1) * ceil(log2(nnz + 1))
csc              nnz                         nnz * ceil(log2 rows) + (cols + 1) * ceil(log2(nnz + 1))
rle (b bits)     nnz + padding               entries * b
===============  ==========================  =====================================================

Run-length (row-major order): each stored entry carries the number of zeros before it in ``b``
bits, at most 2^b - 1; a longer gap of g zeros needs floor(g / 2^b) padding entries (stored
zeros, fetched and multiplied like data). Trailing zeros need none.

Reading a compressed tensor reads its stored entries plus their metadata words: one coordinate
(or run field) per entry for coo / csr / csc / rle, and the bitmap in words of the level's width.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COORDINATE = ("coo", "csr", "csc", "rle")


def bits_for(values: int) -> int:
    """Bits to tell ``values`` distinct values apart (0 for one value)."""
    return int(values - 1).bit_length() if values > 1 else 0


@dataclass(frozen=True)
class Stored:
    """What one tensor occupies in one format: ``entries`` stored values (elements) and
    ``metadata_bits``."""

    entries: int
    metadata_bits: int


def stored(fmt: str, rows: int, cols: int, nnz: int, padding: int = 0, run_bits: int | None = None) -> Stored:
    """The closed form of the table above; ``padding``: the rle padding entries (``rle_padding``)."""
    if fmt == "uncompressed":
        return Stored(rows * cols, 0)
    if fmt == "bitmap":
        return Stored(nnz, rows * cols)
    if fmt == "coo":
        return Stored(nnz, nnz * (bits_for(rows) + bits_for(cols)))
    if fmt == "csr":
        return Stored(nnz, nnz * bits_for(cols) + (rows + 1) * bits_for(nnz + 1))
    if fmt == "csc":
        return Stored(nnz, nnz * bits_for(rows) + (cols + 1) * bits_for(nnz + 1))
    if fmt == "rle":
        entries = nnz + padding
        return Stored(entries, entries * int(run_bits))
    raise ValueError(f"unknown storage format {fmt!r}")


def rle_padding(flat_positions: np.ndarray, run_bits: int) -> int:
    """Padding entries run-length coding needs for non-zeros at sorted row-major ``flat_positions``."""
    if flat_positions.size == 0:
        return 0
    gaps = np.diff(flat_positions, prepend=-1) - 1
    return int((gaps >> run_bits).sum())


def metadata_words(fmt: str, entries_read: np.ndarray, dense_read: np.ndarray, width_bits: int) -> np.ndarray:
    """Metadata words read along with ``entries_read`` stored entries of a domain of
    ``dense_read`` elements (arrays per op)."""
    if fmt in COORDINATE:
        return np.asarray(entries_read)
    if fmt == "bitmap":
        return -(-np.asarray(dense_read) // max(width_bits, 1))
    return np.zeros_like(np.asarray(entries_read))
