"""A timeline collector for the simulator that writes Chrome/Perfetto trace-event JSON.

The simulator calls ``span(track, name, start_cycle, end_cycle, step)`` for each busy interval of
a resource (one track per PE group, SRAM level, DRAM channel, index unit) and
``counter(track, cycle, value)`` for occupancy samples. Cycles become microseconds of simulated
time through the clock frequency (``ts`` and ``dur`` in µs, as the format requires). The JSON
opens in https://ui.perfetto.dev and chrome://tracing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PID = 1


@dataclass
class PerfettoTimeline:
    """Collects spans and counters; ``clock_hz`` converts cycles to time (µs in the JSON).

    ``max_events`` bounds the file: further events are counted in ``dropped`` but not kept.
    ``notes``: JSON-able extras written under ``otherData`` (e.g. ``heaviest_steps``, the per-PE
    loads ``accel-sim timeline`` adds; Perfetto shows them under the trace's metadata)."""

    clock_hz: float
    process_name: str = "accel-sim"
    max_events: int = 2_000_000
    events: list[dict[str, Any]] = field(default_factory=list)
    tracks: dict[str, int] = field(default_factory=dict)
    dropped: int = 0
    notes: dict[str, Any] = field(default_factory=dict)

    def _us(self, cycle: float) -> float:
        return float(cycle) / self.clock_hz * 1e6

    def _tid(self, track: str) -> int:
        if track not in self.tracks:
            self.tracks[track] = len(self.tracks) + 1
        return self.tracks[track]

    def _keep(self) -> bool:
        if len(self.events) >= self.max_events:
            self.dropped += 1
            return False
        return True

    def span(self, track: str, name: str, start_cycle: float, end_cycle: float, step: int) -> None:
        """A busy interval [start_cycle, end_cycle) of ``track`` doing ``name`` for ``step``."""
        if not self._keep():
            return
        start, end = float(start_cycle), float(max(end_cycle, start_cycle))
        self.events.append({
            "name": str(name), "cat": track.split(".")[0].split("[")[0], "ph": "X", "pid": PID,
            "tid": self._tid(track), "ts": self._us(start), "dur": self._us(end) - self._us(start),
            "args": {"step": int(step), "start_cycle": start, "end_cycle": end},
        })

    def counter(self, track: str, cycle: float, value: float) -> None:
        """A sample of a counter (e.g. SRAM occupancy in bytes) at ``cycle``."""
        if not self._keep():
            return
        self.events.append({"name": str(track), "ph": "C", "pid": PID, "ts": self._us(cycle),
                            "args": {"value": float(value)}})

    def to_json(self) -> dict[str, Any]:
        meta: list[dict[str, Any]] = [
            {"name": "process_name", "ph": "M", "pid": PID, "args": {"name": self.process_name}},
        ]
        for track, tid in self.tracks.items():
            meta.append({"name": "thread_name", "ph": "M", "pid": PID, "tid": tid, "args": {"name": track}})
            meta.append({"name": "thread_sort_index", "ph": "M", "pid": PID, "tid": tid, "args": {"sort_index": tid}})
        events = sorted(self.events, key=lambda e: (e["ts"], e.get("tid", 0)))
        return {
            "traceEvents": meta + events,
            "displayTimeUnit": "ns",
            "otherData": {"clock_hz": self.clock_hz, "dropped_events": self.dropped, **self.notes},
        }

    def write(self, path: str | Path) -> Path:
        from codesign.atomic import atomic_write_text

        return atomic_write_text(path, json.dumps(self.to_json(), separators=(",", ":")))
