"""riley-gym: machines that learn to act and models that learn what students know.

Importing ``riley_gym`` registers the Gymnasium environments under ``riley/``, so
``gym.make("riley/Student-v0")`` works after ``import riley_gym`` (or, without the import,
``gym.make("riley_gym:riley/Student-v0")``). ``gym.register_envs(riley_gym)`` is the same
import, spelled as Gymnasium suggests for plugins.

Subpackages: ``riley_gym.nets`` (shared torch primitives), ``riley_gym.envs``,
``riley_gym.agents`` (DQN) and ``riley_gym.kt`` (knowledge tracing and tutoring).
"""

from riley_gym import envs  # noqa: F401  (registers the riley/ environments)

__version__ = "0.1.0"
