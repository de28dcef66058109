"""Co-design reports from a sweep's result store: HTML (plots embedded), Markdown, CSV.

``build_report`` and ``ReportFiles`` load lazily, so that the light helpers beside them
(:mod:`codesign.report.units`) do not pull in matplotlib.
"""

from __future__ import annotations

__all__ = ["ReportFiles", "build_report"]


def __getattr__(name: str):
    if name in __all__:
        from codesign.report import build

        return getattr(build, name)
    raise AttributeError(f"module 'codesign.report' has no attribute {name!r}")
