from __future__ import annotations

import uuid
from dataclasses import dataclass

from accounts.models import Role


@dataclass(frozen=True, slots=True)
class Actor:
    """The authenticated caller, as domain services see it."""

    id: uuid.UUID
    role: Role

    @property
    def is_operator(self) -> bool:
        """The village enterprise's operators and admins act on any entrusted slot, booking, vehicle and task."""
        return self.role in (Role.OPERATOR, Role.ADMIN)
