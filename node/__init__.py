"""The agent that runs beside a machine; it meets the hub only over HTTP."""
