"""Independent tasks (a policy x curriculum x seed grid) run serially or as Ray tasks.

``run_tasks(function, tasks)`` calls ``function(**task)`` for every task dict and returns the
results in task order. With ``ray_address`` it submits them as Ray tasks instead (``"local"``:
start a local Ray with ``num_cpus`` CPUs; any other string: connect to that cluster, e.g.
``"ray://head:10001"`` or ``"auto"``); the results are the same as serial ones, because each
task carries its own seed and nothing else is shared between tasks. Ray is imported only
when asked for (the ``distributed`` extra installs it).

Example:
    >>> run_tasks(pow, [{"base": 2, "exp": 3}, {"base": 3, "exp": 2}])
    [8, 9]
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

__all__ = ["run_tasks", "grid", "start_ray"]


def start_ray(ray_address: str, num_cpus: int | None = None) -> bool:
    """Start a local Ray (``"local"``, with ``num_cpus``) or join the cluster at ``ray_address``;
    a Ray already initialised in this process is used as it is.

    Returns:
        Whether Ray was started here (then the caller shuts it down).
    """
    import ray  # optional: only fan-out on Ray needs it (the distributed extra)

    if ray.is_initialized():
        return False
    if ray_address == "local":
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
    else:
        ray.init(address=ray_address, log_to_driver=False)
    return True


def grid(**axes: Sequence[Any]) -> list[dict[str, Any]]:
    """Every combination of the axes' values, as task dicts, the last axis varying fastest.

    Example:
        >>> grid(policy=["random", "blocked"], seed=[0, 1])[:3]
        [{'policy': 'random', 'seed': 0}, {'policy': 'random', 'seed': 1}, {'policy': 'blocked', 'seed': 0}]
    """  # noqa: E501
    tasks: list[dict[str, Any]] = [{}]
    for name, values in axes.items():
        tasks = [{**task, name: value} for task in tasks for value in values]
    return tasks


def run_tasks(
    function: Callable[..., Any],
    tasks: Sequence[dict[str, Any]],
    ray_address: str | None = None,
    num_cpus: int | None = None,
    cpus_per_task: float = 1.0,
) -> list[Any]:
    """``[function(**task) for task in tasks]``, serially or as Ray tasks.

    Args:
        function: a module-level function (Ray pickles it by reference) of keyword arguments;
            it should seed everything random from its arguments.
        tasks: the keyword arguments of each call.
        ray_address: None runs serially here; ``"local"`` starts a local Ray; another string
            is the address of a running cluster. A Ray already initialised in this process is
            used as it is (and left running); one started here is shut down at the end.
        num_cpus: CPUs of a local Ray (None: all of this machine's).
        cpus_per_task: CPUs Ray reserves for each task.

    Returns:
        The results, in the order of ``tasks``.
    """
    if ray_address is None:
        return [function(**task) for task in tasks]
    import ray  # optional: only fan-out on Ray needs it (the distributed extra)

    started_here = start_ray(ray_address, num_cpus)
    try:
        remote = ray.remote(num_cpus=cpus_per_task)(function)
        return ray.get([remote.remote(**task) for task in tasks])
    finally:
        if started_here:
            ray.shutdown()
