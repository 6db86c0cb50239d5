"""Hand-written fakes of the ports, for unit tests."""

from __future__ import annotations

from shared.auth.keys import Principal, Role


class FakeApiKeys:
    """Knows a fixed set of keys."""

    def __init__(self, keys: dict[str, tuple[str, Role]]) -> None:
        self._keys = keys

    async def authenticate(self, key: str) -> Principal | None:
        """Return the principal of a known key."""
        if key not in self._keys:
            return None
        bureau, role = self._keys[key]
        return Principal(bureau=bureau, role=role, key_id=f"fake-{bureau}-{role.value}")


class FakeBureaus:
    """Knows a fixed set of bureaus."""

    def __init__(self, *bureaus: str) -> None:
        self._bureaus = set(bureaus)

    async def exists(self, bureau_id: str) -> bool:
        """Tell whether a bureau is known."""
        return bureau_id in self._bureaus
