"""Co-design reports from a sweep's result store: HTML (plots embedded), Markdown, CSV."""

from codesign.report.build import ReportFiles, build_report

__all__ = ["ReportFiles", "build_report"]
