"""Offline RL data: planner-labelled BlocksWorld transitions in RLlib's columnar format (`collect.py`),
and the flat observation layout they are stored in (`layout.py`)."""
