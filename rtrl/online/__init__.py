"""Online training with a divergence guard, atomic checkpoints and KPIs.

    from rtrl.online import train
    kpis = train(task="digits", method="sparse_rtrl", n_hidden=64, weight_density=0.25, epochs=3)
"""

from .checkpoint import CHECKPOINT_FORMAT, load_checkpoint, save_checkpoint
from .guard import GuardConfig, GuardEvent, LossMonitor, Snapshot
from .kpi import KPI_KEYS, EvalResult, TrainKPIs, evaluate
from .optim import OPTIMIZERS, SGD, Adam, clip_by_global_norm, make_optimizer
from .run import RunSettings, TrainResult, build_task, fit_task, make_model, train
from .trainer import OnlineTrainer, Progress, TrainConfig, epoch_order

__all__ = [
    "CHECKPOINT_FORMAT", "KPI_KEYS", "OPTIMIZERS", "SGD", "Adam", "EvalResult", "GuardConfig", "GuardEvent",
    "LossMonitor", "OnlineTrainer", "Progress", "RunSettings", "Snapshot", "TrainConfig", "TrainKPIs",
    "TrainResult", "build_task", "make_model", "clip_by_global_norm", "epoch_order", "evaluate", "fit_task", "load_checkpoint",
    "make_optimizer", "save_checkpoint", "train",
]
