"""Discrete-event accelerator model that replays operation traces (never imports ``rtrl``)."""
