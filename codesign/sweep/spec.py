"""Sweep spec: YAML validated first (pydantic), then built into typed objects.

A spec names the model/learning axes, the hardware axes (base configs, dotted-path overrides as
with ``--set``, fidelity), how to sample them (full grid or a seeded random sample), the
objectives to optimise and the constraints a point must meet. Every error is a
:class:`accel_sim.errors.ConfigError` whose message is ``FILE: field.path: problem``.
"""

from __future__ import annotations

import errno
import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from accel_sim.errors import ConfigError
from accel_sim.safe_yaml import load_yaml
from accel_sim.suggest import did_you_mean, first_error, unknown_field
from codesign.sweep.metrics import METRICS

SPEC_SCHEMA = "accel-sim/sweep/1"
Scalar = Union[bool, int, float, str]


#: Most points one spec may expand to (grid product plus includes, or random samples): a typo such
#: as an extra zero should be an error, not a sweep that never ends.
MAX_POINTS = 100_000
#: Largest hidden size a spec may ask for (RTRL costs ~n^4 per step; beyond this nothing fits in memory).
MAX_HIDDEN = 16384
#: The shipped hardware configs: a spec anywhere may name them (e.g. by absolute path).
SHIPPED_CONFIGS = Path(__file__).resolve().parents[2] / "hw_configs"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Range(_Strict):
    """A continuous axis for random sampling: uniform (or log-uniform) in [min, max]."""

    min: float
    max: float
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> "Range":
        if self.max < self.min:
            raise ValueError("max must be >= min")
        if self.log and self.min <= 0:
            raise ValueError("log ranges need min > 0")
        return self


def _listify(value: Any) -> Any:
    """A scalar axis value means a one-element list; lists and {min, max} ranges pass through."""
    if value is None or isinstance(value, (list, dict)):
        return value
    return [value]


Density = Annotated[float, Field(gt=0.0, le=1.0)]
Unit = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]
PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
Method = Literal["sparse_rtrl", "dense_rtrl", "bptt"]
Fidelity = Literal["L0", "L1", "L2"]


def _nonempty(value: Any) -> Any:
    if isinstance(value, list) and not value:
        raise ValueError("must list at least one value")
    return value


def _known_task(name: str) -> str:
    """A task the trainer can build (``rtrl.tasks``); anything else would fail every point."""
    from rtrl.tasks import TASK_NAMES

    if name not in TASK_NAMES:
        raise ValueError(f"unknown task {name!r}{did_you_mean(name, TASK_NAMES)}")
    return name


Task = Annotated[str, AfterValidator(_known_task)]


#: The model's defaults (rtrl.model.DEFAULT_THRESHOLD_MEAN / DEFAULT_PSEUDO_DERIVATIVE, written out
#: so that validating a spec imports no learner; a test keeps them equal).
DEFAULT_THRESHOLD_MEAN = 0.3
DEFAULT_PSEUDO_DERIVATIVE = (0.3, 0.15)  # (gamma, eps)
NonNegativeFloat = Annotated[float, Field(ge=0.0)]


class ModelAxes(_Strict):
    """Model/learning axes. Each is a list of values (or a Range under random sampling).
    ``pseudo_derivative_width`` / ``_gamma``: eps and gamma of the EGRU's pseudo-derivative;
    ``shared_masks``: one mask for the three recurrent matrices (``rtrl.model.EGRU``)."""

    task: list[Task] = ["digits"]
    method: list[Method] = ["sparse_rtrl"]
    n_hidden: list[Annotated[int, Field(gt=0, le=MAX_HIDDEN)]] | Range = [32]
    weight_density: list[Density] | Range = [0.25]
    threshold_mean: list[Unit] | Range = [DEFAULT_THRESHOLD_MEAN]
    pseudo_derivative_width: list[PositiveFloat] | Range = [DEFAULT_PSEUDO_DERIVATIVE[1]]
    seed: list[NonNegativeInt] = [0]
    pseudo_derivative_gamma: list[NonNegativeFloat] | Range = [DEFAULT_PSEUDO_DERIVATIVE[0]]
    shared_masks: list[bool] = [False]

    @field_validator("*", mode="before")
    @classmethod
    def _as_list(cls, value: Any) -> Any:
        return _nonempty(_listify(value))

    @field_validator("weight_density", "threshold_mean")
    @classmethod
    def _unit_range(cls, value: Any) -> Any:
        if isinstance(value, Range) and (value.min <= 0 or value.max > 1):
            raise ValueError("range must lie in (0, 1]")
        return value


class Training(_Strict):
    """Fixed training settings shared by every model point (sizes in sequences of the task)."""

    epochs: PositiveInt = 1
    train_sequences: PositiveInt | None = None  # None: the whole training split
    test_sequences: PositiveInt | None = None
    trace_sequences: PositiveInt = 4  # sequences recorded into the trace the simulator replays
    learning_rate: PositiveFloat = 0.01
    optimizer: Literal["sgd", "adam"] = "adam"
    update_every: Literal["auto", "step", "sequence"] = "auto"  # auto: per step for RTRL, per sequence for BPTT
    rewire_every: NonNegativeInt = 0  # a mask rewiring after every N steps, inside sequences too (0 = fixed masks)
    rewire_fraction: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.1


class TrainingOverride(_Strict):
    """Training settings an ``include`` entry changes (unset fields keep the spec's ``training``)."""

    epochs: PositiveInt | None = None
    train_sequences: PositiveInt | None = None
    test_sequences: PositiveInt | None = None
    trace_sequences: PositiveInt | None = None
    learning_rate: PositiveFloat | None = None
    update_every: Literal["auto", "step", "sequence"] | None = None
    rewire_every: NonNegativeInt | None = None
    rewire_fraction: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None


class IncludedModel(_Strict):
    """One extra model point beside the grid (e.g. a BPTT or dense-RTRL baseline). Unset fields
    take the first value of the model axes; ``training`` overrides the spec's training settings."""

    task: Task | None = None
    method: Method | None = None
    n_hidden: Annotated[int, Field(gt=0, le=MAX_HIDDEN)] | None = None
    weight_density: Density | None = None
    threshold_mean: Unit | None = None
    pseudo_derivative_width: PositiveFloat | None = None
    seed: NonNegativeInt | None = None
    pseudo_derivative_gamma: NonNegativeFloat | None = None
    shared_masks: bool | None = None
    training: TrainingOverride = TrainingOverride()


class HardwareAxes(_Strict):
    """Hardware axes: base configs (paths relative to the spec file), ``--set``-style overrides."""

    configs: list[str]
    set: dict[str, list[Scalar] | Range] = {}
    fidelity: list[Fidelity] = ["L1"]

    @field_validator("configs", "fidelity", mode="before")
    @classmethod
    def _as_list(cls, value: Any) -> Any:
        return _nonempty(_listify(value))

    @field_validator("set", mode="before")
    @classmethod
    def _set_lists(cls, value: Any) -> Any:
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                if isinstance(v, list) and not v:
                    raise _FieldProblem(f"hardware.set.{k}", "must list at least one value")
                out[k] = _listify(v)
            return out
        return value


class Sampling(_Strict):
    mode: Literal["grid", "random"] = "grid"
    samples: Annotated[int, Field(gt=0, le=MAX_POINTS)] | None = None  # random mode: joint points to draw
    seed: NonNegativeInt = 0

    @model_validator(mode="after")
    def _samples_for_random(self) -> "Sampling":
        if self.mode == "random" and self.samples is None:
            raise ValueError("random sampling needs 'samples'")
        return self


class Objective(_Strict):
    metric: str
    goal: Literal["min", "max"]

    @field_validator("metric")
    @classmethod
    def _known(cls, value: str) -> str:
        return _known_metric(value)


class Constraint(_Strict):
    metric: str
    min: float | None = None
    max: float | None = None

    @field_validator("metric")
    @classmethod
    def _known(cls, value: str) -> str:
        return _known_metric(value)

    @model_validator(mode="after")
    def _bounded(self) -> "Constraint":
        if self.min is None and self.max is None:
            raise ValueError("a constraint needs 'min' or 'max'")
        return self

    def holds(self, value: float) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def describe(self) -> str:
        parts = [f">= {self.min:g}" if self.min is not None else "", f"<= {self.max:g}" if self.max is not None else ""]
        return f"{self.metric} " + " and ".join(p for p in parts if p)


class SyntheticEvaluator(_Strict):
    """Closed-form stand-in for training + simulation (tests and benchmarks of the sweep machinery)."""

    kind: Literal["synthetic"]
    work_ms: Annotated[float, Field(ge=0.0)] = 0.0  # CPU time burnt per hardware point


class PipelineEvaluator(_Strict):
    kind: Literal["pipeline"] = "pipeline"


def _known_metric(value: str) -> str:
    if value not in METRICS and not value.startswith(("energy_pj_", "label_energy_pj_", "label_cycles_", "hw.", "sram.",
                                                      "area_mm2.", "stall_cycles.", "utilization.", "influence_fill.")):
        raise ValueError(f"unknown metric {value!r} (known: {', '.join(sorted(METRICS))})")
    return value


class SweepSpec(_Strict):
    """The whole spec, validated. ``source`` is the file it came from (set by :func:`load_spec`)."""

    schema_: Literal["accel-sim/sweep/1"] = Field(alias="schema")
    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")]
    description: str = ""
    sampling: Sampling = Sampling()
    model: ModelAxes = ModelAxes()
    training: Training = Training()
    include: list[IncludedModel] = []  # extra model points, each run on every hardware grid point
    hardware: HardwareAxes
    objectives: list[Objective] = [
        Objective(metric="energy_per_sample_pj", goal="min"),
        Objective(metric="latency_per_step_s", goal="min"),
        Objective(metric="test_accuracy", goal="max"),
    ]
    constraints: list[Constraint] = []
    evaluator: Annotated[SyntheticEvaluator | PipelineEvaluator, Field(discriminator="kind")] = PipelineEvaluator()
    source: str = Field(default="<spec>", exclude=True)
    base_dir: str = Field(default=".", exclude=True)

    @field_validator("name")
    @classmethod
    def _not_a_folder_name(cls, value: str) -> str:
        if set(value) == {"."}:
            raise ValueError("name must not be '.' or '..' (it names the default output folder)")
        return value

    @model_validator(mode="after")
    def _not_too_many_points(self) -> "SweepSpec":
        if self.sampling.mode != "grid":
            return self
        n_hw = len(self.hardware.configs) * len(self.hardware.fidelity)
        for axis in self.hardware.set.values():
            n_hw *= len(axis) if isinstance(axis, list) else 1
        n_model = 1
        for name in ModelAxes.model_fields:
            axis = getattr(self.model, name)
            n_model *= len(axis) if isinstance(axis, list) else 1
        total = (n_model + len(self.include)) * n_hw
        if total > MAX_POINTS:
            raise ValueError(f"the grid has {total} points, more than the limit of {MAX_POINTS}; "
                             "use fewer axis values or sampling.mode: random")
        return self

    @model_validator(mode="after")
    def _grid_has_no_ranges(self) -> "SweepSpec":
        if self.sampling.mode == "grid":
            for name in ModelAxes.model_fields:
                if isinstance(getattr(self.model, name), Range):
                    raise _FieldProblem(f"model.{name}", "ranges need sampling.mode: random (grid needs a list)")
            for key, axis in self.hardware.set.items():
                if isinstance(axis, Range):
                    raise _FieldProblem(f"hardware.set.{key}", "ranges need sampling.mode: random")
        return self

    @model_validator(mode="after")
    def _include_needs_model_lists(self) -> "SweepSpec":
        if self.include:
            for name in ModelAxes.model_fields:
                if isinstance(getattr(self.model, name), Range):
                    raise _FieldProblem(f"model.{name}", "'include' needs list-valued model axes for its defaults")
            for key, axis in self.hardware.set.items():
                if isinstance(axis, Range):
                    raise _FieldProblem(f"hardware.set.{key}", "'include' needs list-valued hardware axes")
        return self

    def digest(self) -> str:
        """Stable hash of the validated spec and the contents of its base configs (used to refuse
        resuming a store whose results came from another spec or from since-edited configs)."""
        configs = {name: hashlib.sha256(self.config_path(name).read_bytes()).hexdigest()
                   for name in self.hardware.configs if self.config_path(name).is_file()}
        text = json.dumps([self.model_dump(mode="json", by_alias=True), configs], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def config_path(self, name: str) -> Path:
        """Resolve a base-config path: relative to the spec file, then to the working directory."""
        path = Path(name)
        if path.is_absolute():
            return path
        beside = Path(self.base_dir) / path
        return beside if beside.exists() else path

    def config_roots(self) -> list[Path]:
        """Folders base configs must lie in: the spec's folder, the working directory, the shipped
        ``hw_configs/`` (paths may not escape these through ``..``, absolute paths or symlinks)."""
        return [Path(self.base_dir).resolve(), Path.cwd().resolve(), SHIPPED_CONFIGS]


class _FieldProblem(ValueError):
    def __init__(self, field: str, problem: str) -> None:
        self.field, self.problem = field, problem
        super().__init__(problem)


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if not (isinstance(p, str) and ("[" in p or p in {"function-after", "function-before"}))]
    path = ".".join(parts)
    return path.replace("schema_", "schema")


def parse_spec(data: Any, source: str = "<spec>", base_dir: str = ".") -> SweepSpec:
    """Validate a decoded YAML document; raise ConfigError naming the field path."""
    if not isinstance(data, dict):
        raise ConfigError(source, "", "a sweep spec must be a YAML mapping")
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as exc:
        err = first_error(exc.errors())
        ctx_err = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_err, _FieldProblem):
            raise ConfigError(source, ctx_err.field, ctx_err.problem) from None
        parts = tuple(err["loc"])
        if err["type"] == "extra_forbidden" and parts:  # the last part is the unknown key itself, even "int"
            loc = tuple(p for p in parts[:-1] if not _is_union_tag(p)) + parts[-1:]
        else:
            loc = tuple(p for p in parts if not _is_union_tag(p))
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            message = "required field is missing"
        elif err["type"] == "extra_forbidden":
            message = unknown_field(SweepSpec, loc)
        raise ConfigError(source, _field_path(loc), message) from None
    spec = spec.model_copy(update={"source": source, "base_dir": base_dir})
    _check_configs(spec)
    return spec


def _is_union_tag(part: Any) -> bool:
    text = str(part)
    return text.startswith(("list[", "function-", "Range", "int", "float", "bool", "str", "constrained")) or text in {
        "synthetic",
        "pipeline",
    }


def _check_configs(spec: SweepSpec) -> None:
    """Every base config must exist, and (when the simulator is installed) load with every override."""
    roots = spec.config_roots()
    for i, name in enumerate(spec.hardware.configs):
        try:
            resolved = spec.config_path(name).resolve()
            resolved.is_file()
        except (OSError, ValueError) as exc:  # e.g. a NUL byte in the path
            raise ConfigError(spec.source, f"hardware.configs.{i}", f"not a usable path ({exc})") from None
        if not any(resolved.is_relative_to(root) for root in roots):
            raise ConfigError(spec.source, f"hardware.configs.{i}",
                              f"{name}: outside the spec's folder, the working directory and the shipped "
                              "hw_configs/ (config paths may not escape them)")
        if not resolved.is_file():
            raise ConfigError(spec.source, f"hardware.configs.{i}", f"config file not found: {name}")
    if spec.evaluator.kind != "pipeline":
        return
    try:
        from accel_sim import load_config  # noqa: PLC0415 - the simulator may not be built yet
    except ImportError:
        return
    for key, axis in spec.hardware.set.items():
        values = [axis.min, axis.max] if isinstance(axis, Range) else axis
        for value in values:
            for name in spec.hardware.configs:
                try:
                    load_config(spec.config_path(name), {key: value})
                except ConfigError as exc:
                    raise ConfigError(spec.source, f"hardware.set.{key}", f"{name}: {exc.field}: {exc.problem}") from None


def load_spec(path: str | Path) -> SweepSpec:
    """Read, validate and build a sweep spec file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(errno.ENOENT, "sweep spec not found", str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), "(file)", f"not UTF-8 text (byte {exc.start}); expected a YAML sweep spec") from None
    data = load_yaml(text, str(path))
    return parse_spec(data, source=str(path), base_dir=str(path.parent))
