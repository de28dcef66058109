"""Names and units of the per-point metrics a sweep stores (the columns objectives can name).

Each result row is a flat dict: identity columns, model/learning parameters, the model KPIs from
training and the simulator's numbers for one hardware point. Prefixed families are open-ended:
``energy_pj_<component>``, ``label_energy_pj_<rtrl label>`` and ``hw.<dotted.config.path>``.
"""

from __future__ import annotations

METRICS: dict[str, str] = {
    # model / learning KPIs (from the training run, identical for all hardware points of a model)
    "test_accuracy": "fraction 0-1",
    "train_loss": "nats per labelled step",
    "activity_fired": "mean fraction of units firing per step",
    "activity_support": "mean fraction of units in the pseudo-derivative support per step",
    "activity_active": "mean fraction of units fired or in the support per step (sparse RTRL's active set)",
    "host_learning_state_bytes": "bytes of the learner's state on the host (numpy, float32/float64)",
    "bptt_state_bytes": "bytes BPTT would keep for the same sequence length",
    "parameter_count": "unmasked parameters",
    "trace_steps": "steps in the simulated trace",
    "trace_samples": "sequences (samples) in the simulated trace",
    "trace_macs": "multiply-accumulates recorded in the trace",
    "trained_sequences": "sequences seen in training (epochs x training-set size)",
    # simulator results for one hardware point
    "cycles": "clock cycles for the whole trace",
    "seconds": "simulated seconds for the whole trace",
    "cycles_per_step": "clock cycles per step",
    "latency_per_step_s": "simulated seconds per step",
    "energy_pj": "total energy of the trace, pJ",
    "energy_per_step_pj": "pJ per step",
    "energy_per_sample_pj": "pJ per sample (sequence)",
    "dram_bytes": "DRAM bytes read + written",
    "sram_capacity_bytes": "total on-chip SRAM of the config, bytes",
    "influence_fits_on_chip": "1 if the learning state fits in on-chip SRAM, else 0",
    "pe_utilization": "fraction of PE-cycles doing MACs",
    "stall_cycles": "cycles stalled, all causes",
}

IDENTITY_COLUMNS = ("point_key", "point_index", "model_key", "config", "fidelity")
MODEL_COLUMNS = ("task", "method", "n_hidden", "weight_density", "threshold_mean", "pseudo_derivative_width",
                 "pseudo_derivative_gamma", "shared_masks", "seed")
ENERGY_COMPONENTS = ("mac", "sram", "dram", "index", "interconnect", "leakage")
