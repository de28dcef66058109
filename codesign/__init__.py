"""The top layer: the only package that knows both learning (``rtrl``) and simulation
(``accel_sim``). Pipeline, sweeps, reports and the ``accel-sim`` command line live here."""
