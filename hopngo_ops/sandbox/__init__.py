"""The local HopNGo platform of real servers that the demo and the tests run against."""

from hopngo_ops.sandbox.manager import default_state_dir, down, read_status, up
from hopngo_ops.sandbox.scenarios import SCENARIOS, Scenario, get_scenario

__all__ = [
    "SCENARIOS",
    "Scenario",
    "default_state_dir",
    "down",
    "get_scenario",
    "read_status",
    "up",
]
