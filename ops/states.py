"""The task state machine: who may move a task where. Staff move their own tasks forward; operators plan, assign,
and may fail or cancel; the requester may cancel until the car is in the valet's hands."""

from __future__ import annotations

from ops.models import TaskState as S

OPEN = (S.UNASSIGNED, S.ASSIGNED, S.EN_ROUTE, S.ARRIVED)
UNDER_WAY = (S.EN_ROUTE, S.ARRIVED)  # never moved by a re-plan
MOVABLE = (S.UNASSIGNED, S.ASSIGNED)  # a plan may give it to anyone (pinned: only to its staff)

# what the staff member doing the task may do next
STAFF_MOVES: dict[S, tuple[S, ...]] = {
    S.ASSIGNED: (S.EN_ROUTE, S.FAILED),
    S.EN_ROUTE: (S.ARRIVED, S.FAILED),
    S.ARRIVED: (S.DONE, S.FAILED),
}
CANCELLABLE = (S.UNASSIGNED, S.ASSIGNED, S.EN_ROUTE)  # once arrived, the car (or rider) is in staff's hands
STAMP = {
    S.ASSIGNED: "assigned_at",
    S.EN_ROUTE: "en_route_at",
    S.ARRIVED: "arrived_at",
    S.DONE: "done_at",
    S.FAILED: "failed_at",
    S.CANCELLED: "cancelled_at",
}
