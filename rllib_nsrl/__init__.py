"""rllib_nsrl: neuro-symbolic reinforcement learning on Ray RLlib.

Importing the package registers the Gymnasium env ids (`rllib_nsrl/ShapesGrid-v0`, ...).
"""

from rllib_nsrl import _moved
from rllib_nsrl.envs import register_gym_envs

register_gym_envs()
_moved.install()  # old module paths in pickles of runs made before the one-folder-per-system move

__version__ = "0.1.0"
