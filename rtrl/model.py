"""The event-based GRU (EGRU) of docs/model.md: parameters, fixed sparsity masks, validation.

Shapes: ``W_u W_r W_z`` (n_hidden, n_in); ``R_u R_r R_z`` (n_hidden, n_hidden);
``b_u b_r b_z b_rz thr`` (n_hidden,); ``W_o`` (n_out, n_hidden); ``b_o`` (n_out,).
"""

from __future__ import annotations

import numpy as np

from rtrl.backend import resolve, to_host

INPUT_WEIGHTS = ("W_u", "W_r", "W_z")
RECURRENT_WEIGHTS = ("R_u", "R_r", "R_z")
MASKED = INPUT_WEIGHTS + RECURRENT_WEIGHTS
BIASES = ("b_u", "b_r", "b_z", "b_rz")
#: Parameters on the recurrent path, in influence-matrix column order.
RECURRENT_PATH = MASKED + BIASES + ("thr",)
READOUT = ("W_o", "b_o")
PARAM_NAMES = RECURRENT_PATH + READOUT
#: Defaults of the model (and of ``accel-sim train`` and sweep specs), chosen from the width x
#: threshold measurement of benchmarks/bench_activity.py (README, "Activity sparsity").
DEFAULT_THRESHOLD_MEAN = 0.3
DEFAULT_PSEUDO_DERIVATIVE = (0.3, 0.15)  # (gamma, eps)


class EGRU:
    """An EGRU with fixed random weight masks.

    ``weight_density`` in (0, 1] is the fraction of kept entries in all six weight matrices
    (``input_density`` overrides it for ``W_*``). ``shared_masks``: one mask for the three
    recurrent matrices ``R_u R_r R_z`` (G = ds_t/dy_{t-1} then has density ``weight_density``
    instead of the union density ~1 - (1 - rho)^3 of three independent masks); the weight values
    drawn from the seed are the same either way. Thresholds start near ``threshold_mean`` and
    lie in [0, 1]. ``pseudo_derivative=(gamma, eps)`` sets dH/dv = gamma * max(0, 1 - |v|/eps).

    ``device`` ("cpu" default, "gpu", or an array module, see ``rtrl.backend``) decides where
    ``params`` live: numpy arrays on the CPU, CuPy arrays on the GPU. ``masks`` are always numpy;
    ``device_masks`` holds the same masks on the device. The random draws are made with numpy, so
    a seed gives the same model on every device.
    """

    def __init__(
        self,
        n_in: int,
        n_hidden: int,
        n_out: int,
        weight_density: float = 1.0,
        threshold_mean: float = DEFAULT_THRESHOLD_MEAN,
        pseudo_derivative: tuple[float, float] = DEFAULT_PSEUDO_DERIVATIVE,
        seed: int = 0,
        dtype=np.float32,
        input_density: float | None = None,
        device="cpu",
        shared_masks: bool = False,
    ) -> None:
        self.backend = resolve(device)
        self.xp = self.backend.xp
        self.device = self.backend.name
        for name, value in (("n_in", n_in), ("n_hidden", n_hidden), ("n_out", n_out)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"EGRU: {name} must be a positive integer, got {value!r}")
        input_density = weight_density if input_density is None else input_density
        for name, value in (("weight_density", weight_density), ("input_density", input_density)):
            if not (isinstance(value, (int, float)) and 0.0 < float(value) <= 1.0):
                raise ValueError(f"EGRU: {name} must lie in (0, 1], got {value!r}")
        if not (np.isfinite(threshold_mean) and 0.0 <= threshold_mean <= 1.0):
            raise ValueError(f"EGRU: threshold_mean must lie in [0, 1], got {threshold_mean!r}")
        gamma, eps = (float(v) for v in pseudo_derivative)
        if not (np.isfinite(gamma) and gamma >= 0 and np.isfinite(eps) and eps > 0):
            raise ValueError(f"EGRU: pseudo_derivative must be (gamma >= 0, eps > 0), got {pseudo_derivative!r}")
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"EGRU: dtype must be float32 or float64, got {self.dtype}")
        self.n_in, self.n_hidden, self.n_out = int(n_in), int(n_hidden), int(n_out)
        self.weight_density, self.input_density = float(weight_density), float(input_density)
        self.threshold_mean = float(threshold_mean)
        self.pseudo_derivative = (gamma, eps)
        self.seed = int(seed)
        if not isinstance(shared_masks, (bool, np.bool_)):
            raise ValueError(f"EGRU: shared_masks must be True or False, got {shared_masks!r}")
        self.shared_masks = bool(shared_masks)

        rng = np.random.default_rng(seed)
        n, k = self.n_hidden, self.n_in
        self.masks: dict[str, np.ndarray] = {}
        params: dict[str, np.ndarray] = {}
        for name in MASKED:
            fan_in, density = (k, self.input_density) if name.startswith("W") else (n, self.weight_density)
            mask = rng.random((n, fan_in)) < density if density < 1.0 else np.ones((n, fan_in), bool)
            if self.shared_masks and name in RECURRENT_WEIGHTS[1:]:
                mask = self.masks[RECURRENT_WEIGHTS[0]]  # drawn above, so the weight draws stay the same
            scale = 1.0 / np.sqrt(max(1.0, fan_in * density))
            params[name] = np.where(mask, rng.normal(0.0, scale, (n, fan_in)), 0.0)
            self.masks[name] = mask
        for name in BIASES:
            params[name] = np.zeros(n)
        params["thr"] = np.clip(self.threshold_mean + 0.05 * rng.standard_normal(n), 0.0, 1.0)
        params["W_o"] = rng.normal(0.0, 1.0 / np.sqrt(n), (self.n_out, n))
        params["b_o"] = np.zeros(self.n_out)
        self.params = {key: self.xp.asarray(value.astype(self.dtype)) for key, value in params.items()}
        self.device_masks = {key: self.xp.asarray(mask) for key, mask in self.masks.items()}

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {key: value.shape for key, value in self.params.items()}

    def set_params(self, new_params: dict[str, np.ndarray]) -> None:
        """Replace all parameters. Same keys and shapes; masked entries must be exactly zero.
        Values may be numpy or (on the GPU) CuPy arrays; they are copied onto the model's device."""
        if set(new_params) != set(PARAM_NAMES):
            missing, extra = set(PARAM_NAMES) - set(new_params), set(new_params) - set(PARAM_NAMES)
            raise ValueError(f"set_params: keys differ (missing {sorted(missing)}, unknown {sorted(extra)})")
        checked = {}
        xp = self.xp
        for key, value in new_params.items():
            value = to_host(value) if xp is np else xp.asarray(value)
            if value.shape != self.params[key].shape:
                raise ValueError(f"set_params: {key} has shape {value.shape}, expected {self.params[key].shape}")
            if not bool(xp.all(xp.isfinite(value))):
                raise ValueError(f"set_params: {key} contains NaN or inf")
            if key in self.masks and bool(xp.any(value[~self.device_masks[key]] != 0)):
                raise ValueError(f"set_params: {key} is non-zero at a masked entry")
            checked[key] = xp.array(value, dtype=self.dtype, order="C")  # a C-contiguous copy (kernels read raw rows)
        self.params = checked

    def set_masks(self, masks: dict[str, np.ndarray]) -> None:
        """Replace the weight masks (rewiring, ``rtrl.rewire``): one boolean array per masked
        matrix, same shapes; parameters at entries no longer kept become zero. Learners built for
        the old masks must be replaced: ``Learner.rewired(edits)`` keeps their state (inside a
        sequence), ``Learner.rebuilt()`` starts it over."""
        if set(masks) != set(MASKED):
            raise ValueError(f"set_masks: keys differ (expected {sorted(MASKED)}, got {sorted(masks)})")
        new = {}
        for name in MASKED:
            mask = np.asarray(masks[name])
            if mask.shape != self.masks[name].shape or mask.dtype != bool:
                raise ValueError(f"set_masks: {name} must be a bool array of shape {self.masks[name].shape}, "
                                 f"got {mask.dtype} {mask.shape}")
            new[name] = mask.copy()
        self.masks = new
        self.device_masks = {key: self.xp.asarray(mask) for key, mask in new.items()}
        xp = self.xp
        self.params = {k: (xp.where(self.device_masks[k], v, 0).astype(self.dtype) if k in new else v)
                       for k, v in self.params.items()}

    def n_recurrent_params(self, masked_only: bool = True) -> int:
        """Number of recurrent-path parameters P (unmasked only, or all)."""
        weights = sum(int(self.masks[k].sum()) if masked_only else self.masks[k].size for k in MASKED)
        return weights + (len(BIASES) + 1) * self.n_hidden

    def check_sequence(self, xs: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Validate a sequence: ``xs`` (T, n_in) finite, ``targets`` (T,) ints in [-1, n_out).
        Returns host (numpy) arrays, whatever the device."""
        xs = to_host(xs)
        targets = to_host(targets)
        if xs.ndim != 2 or xs.shape[1] != self.n_in:
            raise ValueError(f"xs must have shape (T, {self.n_in}), got {xs.shape}")
        if targets.shape != (xs.shape[0],):
            raise ValueError(f"targets must have shape ({xs.shape[0]},), got {targets.shape}")
        if not np.all(np.isfinite(xs)):
            raise ValueError("xs contains NaN or inf")
        check_targets(targets, self.n_out)
        return xs.astype(self.dtype, copy=False), targets.astype(np.int64)


def check_targets(targets: np.ndarray, n_out: int) -> None:
    if targets.size and not np.issubdtype(targets.dtype, np.integer):
        if not np.all(np.equal(np.mod(targets, 1), 0)):
            raise ValueError("targets must be integers (-1 = no loss)")
    if targets.size and (targets.min() < -1 or targets.max() >= n_out):
        raise ValueError(f"targets must lie in [-1, {n_out}), got range [{targets.min()}, {targets.max()}]")
