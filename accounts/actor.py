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
    def is_staff(self) -> bool:
        """Village enterprise staff and admins act on any entrusted slot and any booking."""
        return self.role in (Role.OPERATOR, Role.ADMIN)
