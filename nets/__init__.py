"""Shared torch network primitives for riley-gym's agents and knowledge tracers.

The ladder of the lecture that seeded the project, as reusable modules: logistic
regression and stacked layers (``MLP``), shared weights (``NatureCNN``), recurrent
networks (``SequenceEncoder``), causal attention (``AttentionBlock``) and output heads
(``SigmoidHead``, ``SoftmaxHead``, ``QHead``). Plus safe checkpoints, device selection,
parameter counting and a strict command-line boolean.

Every module is built from plain numbers, never from a Gymnasium space or a DataFrame.
"""

from riley_gym.nets.attention import (
    AttentionBlock,
    LearnedPositions,
    SinusoidalPositions,
    causal_mask,
    history_mask,
)
from riley_gym.nets.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from riley_gym.nets.cli import add_debug_flag, parse_bool, run_script
from riley_gym.nets.config import (
    Settings,
    SettingsError,
    add_arguments,
    flag_of,
    given_arguments,
    is_integer,
)
from riley_gym.nets.conv import NatureCNN
from riley_gym.nets.device import count_parameters, free_cores, select_device
from riley_gym.nets.distributed import DistributedContext, start_process_group
from riley_gym.nets.heads import QHead, SigmoidHead, SoftmaxHead
from riley_gym.nets.mlp import MLP
from riley_gym.nets.recurrent import SequenceEncoder
from riley_gym.nets.run_folder import RunFolderError, claim_run_folder

__all__ = [
    "AttentionBlock",
    "LearnedPositions",
    "SinusoidalPositions",
    "causal_mask",
    "history_mask",
    "MLP",
    "NatureCNN",
    "SequenceEncoder",
    "SigmoidHead",
    "SoftmaxHead",
    "QHead",
    "save_checkpoint",
    "load_checkpoint",
    "CheckpointError",
    "select_device",
    "count_parameters",
    "free_cores",
    "parse_bool",
    "run_script",
    "add_debug_flag",
    "RunFolderError",
    "claim_run_folder",
    "Settings",
    "SettingsError",
    "add_arguments",
    "given_arguments",
    "flag_of",
    "is_integer",
    "DistributedContext",
    "start_process_group",
]
