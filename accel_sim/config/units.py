"""Quantities with units in config files.

A config number carries its unit in its field name (``size_bytes``, ``clock_hz``,
``read_energy_pj``). A plain number is taken in that unit; a string such as ``"64 KiB"``,
``"1 GHz"`` or ``"2.6 nJ"`` is converted to it, and a string in another dimension (``"64 pJ"``
for a size) is rejected with a message naming the expected units.
"""

from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import BeforeValidator

_NUMBER = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z/]*)\s*$")

BYTES_UNITS = {"": 1, "B": 1, "KB": 1000, "MB": 10**6, "GB": 10**9, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}
HZ_UNITS = {"": 1.0, "Hz": 1.0, "kHz": 1e3, "MHz": 1e6, "GHz": 1e9}
PJ_UNITS = {"": 1.0, "fJ": 1e-3, "pJ": 1.0, "nJ": 1e3, "uJ": 1e6}
MW_UNITS = {"": 1.0, "uW": 1e-3, "mW": 1.0, "W": 1e3}


def _converter(units: dict[str, float], what: str, integral: bool):
    names = ", ".join(u for u in units if u)

    def convert(value: object) -> object:
        if not isinstance(value, str):
            return value  # numbers (and wrong types) go on to pydantic's strict checks
        match = _NUMBER.match(value)
        if match is None:
            raise ValueError(f"expected {what} (a number, or a number with one of {names}), got {value!r}")
        number, unit = float(match.group(1)), match.group(2)
        if unit not in units:
            raise ValueError(f"wrong unit {unit!r} for {what}; use one of {names}")
        scaled = number * units[unit]
        if not math.isfinite(scaled):
            raise ValueError(f"too large for {what}")
        if integral:
            if scaled != int(scaled):
                raise ValueError(f"{value!r} is not a whole number of bytes")
            return int(scaled)
        return scaled

    return BeforeValidator(convert)


Bytes = Annotated[int, _converter(BYTES_UNITS, "a size in bytes", True)]
Hertz = Annotated[float, _converter(HZ_UNITS, "a frequency in Hz", False)]
Picojoules = Annotated[float, _converter(PJ_UNITS, "an energy in pJ", False)]
Milliwatts = Annotated[float, _converter(MW_UNITS, "a power in mW", False)]
