"""What the embedded Connect network contributes to a Business process: its event pump and pruning, and the
seed's Connect accounts in `tgo demo`."""

from tgo.connect_network.demo import connect_demo_step
from tgo.connect_network.tasks import enable_event_kicks, prune_connect_events, pump_connect_events
from tgo.part import Part
from tgo.worker.registry import Periodic

PART = Part(
    name="connect",
    periodic=[
        Periodic("connect.events", pump_connect_events, every="connect_event_interval_seconds"),
        Periodic("connect.prune", prune_connect_events, every=3600.0),
    ],
    startup=[enable_event_kicks],
    demo_steps=[connect_demo_step],
)
