"""Tools: typed functions the model can call, their dispatch, and handoffs."""

from realtime_agent.tools.dispatch import ToolResult, ToolRunner, run_call
from realtime_agent.tools.handoff import Handoff, HandoffTarget
from realtime_agent.tools.tool import DEFAULT_TIMEOUT, Tool, tool

__all__ = [
    "DEFAULT_TIMEOUT",
    "Handoff",
    "HandoffTarget",
    "Tool",
    "ToolResult",
    "ToolRunner",
    "run_call",
    "tool",
]
