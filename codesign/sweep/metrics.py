"""Names and units of the per-point metrics a sweep stores (the columns objectives can name).

Each result row is a flat dict: identity columns, model/learning parameters, the model KPIs from
training and the simulator's numbers for one hardware point. Prefixed families are open-ended:
``energy_pj_<component>``, ``label_energy_pj_<rtrl label>`` (pJ over the trace),
``label_cycles_<rtrl label>`` (PE-array busy cycles over the trace), ``hw.<dotted.config.path>``,
``influence_fill.step_<k>`` (fraction of M non-zero after step k of a sequence, k = 1, 2, 4, ...), and from
:mod:`codesign.columns` ``sram.<level>.*`` (bytes), ``area_mm2.<component>`` (mm²),
``stall_cycles.<cause>`` (cycles) and ``utilization.<resource>`` (fraction 0-1).
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
    "trace_steps": "steps in the simulated trace (BPTT's backward pass adds one per input step)",
    "trace_input_steps": "input steps in the simulated trace (the 'per step' columns divide by these)",
    "trace_samples": "sequences (samples) in the simulated trace",
    "trace_macs": "multiply-accumulates recorded in the trace",
    "trained_sequences": "sequences seen in training (epochs x training-set size)",
    "rewire_events": "mask rewirings during training (rtrl.rewire; 0 with fixed masks)",
    "influence_fill_mean": "RTRL: mean fraction of non-zero entries of the influence matrix over the traced steps",
    "influence_fill_end": "RTRL: fraction of non-zero entries of the influence matrix after a traced sequence's last step",
    "influence_fill_single_column": "RTRL: fraction of the influence matrix's columns with at most one non-zero "
                                    "after a traced sequence",
    # simulator results for one hardware point
    "cycles": "clock cycles for the whole trace",
    "seconds": "simulated seconds for the whole trace",
    "cycles_per_step": "clock cycles per step",
    "latency_per_step_s": "simulated seconds per step",
    "energy_pj": "total energy of the trace, pJ",
    "energy_per_step_pj": "pJ per step",
    "energy_per_sample_pj": "pJ per sample (sequence)",
    "dram_bytes": "DRAM bytes read + written over the whole trace",
    "dram_bytes_per_step": "DRAM bytes read + written per step",
    "sram_capacity_bytes": "total on-chip SRAM of the config, bytes",
    "learning_state_bytes": "bytes of learning state as the config stores it (influence or history tensors, "
                            "datatype and format metadata included; codesign.columns)",
    "learning_state_fits_on_chip": "1 if every learning-state tensor is resident on chip, else 0",
    "influence_fits_on_chip": "former name of learning_state_fits_on_chip",
    "pe_utilization": "fraction of PE-cycles doing MACs",
    "stall_cycles": "cycles stalled, all causes",
    "history_steps": "steps of BPTT's declared history window (its longest sequence), 0 for RTRL",
    "pe_imbalance": "busiest PE / mean PE over the spread ops, MAC-weighted (1 = perfect balance)",
    "pe_imbalance_worst_op": "busiest PE / mean PE of the worst single op",
    "imbalance_cycles": "array cycles lost to PE imbalance over the whole trace",
    "bank_conflict_cycles": "SRAM port cycles added by bank conflicts over the whole trace",
    "operand_queue_peak_bytes": "highest occupancy of the operand queue (pe_array.operand_queue_bytes), bytes",
    "operand_queue_full_cycles": "cycles the ports waited on a full operand queue over the whole trace",
    "area_mm2": "chip area at the config's technology node, mm²",
    "power_mw": "average power over the trace, mW",
    "power_peak_mw": "power of the busiest step, mW",
    "worst_step_latency_s": "simulated seconds of the slowest step",
    "sustained_steps_per_s": "1 / mean latency per step (inputs buffered), steps/s",
    "realtime_steps_per_s": "highest input rate at which every step finishes before the next input, steps/s",
    "pes": "processing elements of the config",
    "macs_per_cycle": "peak MACs per cycle of the config",
    "clock_hz": "clock of the config, Hz",
    "technology_nm": "technology node of the config, nm",
}

IDENTITY_COLUMNS = ("point_key", "point_index", "model_key", "config", "fidelity")
MODEL_COLUMNS = ("task", "method", "n_hidden", "weight_density", "threshold_mean", "pseudo_derivative_width",
                 "pseudo_derivative_gamma", "shared_masks", "seed", "update_every")
ENERGY_COMPONENTS = ("mac", "sram", "dram", "index", "interconnect", "leakage")
