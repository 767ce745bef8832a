"""What the reachability directory contributes: its Connect event handler and its start-up sync."""

from tgo.channels.connect_types import EVENT_ACCOUNT_REACHABILITY_CHANGED
from tgo.part import Part
from tgo.reachability.connect_handlers import on_reachability_changed
from tgo.reachability.sync import sync_if_empty

PART = Part(
    name="reachability",
    connect_handlers=[(EVENT_ACCOUNT_REACHABILITY_CHANGED, on_reachability_changed)],
    startup=[sync_if_empty],
)
