"""The signing example README publishes (docs/examples/sign_intake_request.py) produces messages our
verification accepts, as the bureau would run it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from shared.auth.integration_keys import InMemoryIntegrationKeyDirectory
from shared.auth.signing import verify_message
from shared.contracts.intake import IntakeRequestV1
from tests.support import case_body

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "sign_intake_request.py"


def load_example() -> ModuleType:
    """Import the example as a bureau would: a standalone file, not a module of this project."""
    spec = importlib.util.spec_from_file_location("sign_intake_request", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.pop(spec.name, None)
    spec.loader.exec_module(module)
    return module


def test_example_imports_nothing_from_this_project() -> None:
    imports = [line for line in EXAMPLE.read_text().splitlines() if line.startswith(("import ", "from "))]

    assert not [line for line in imports if "shared" in line or "services" in line]


async def test_message_signed_by_the_example_verifies_as_the_registered_integration() -> None:
    example = load_example()
    private_key, public_key = example.new_key_pair()
    keys = InMemoryIntegrationKeyDirectory()
    key = await keys.register("finance", "财政一体化系统", public_key)
    request = {"request_id": "oa-2026-0001", "bureau": "finance", **case_body(1)}

    value, headers = example.signed_intake_request(private_key, key.key_id, request)

    sender = await verify_message(keys, body=value, headers=headers, claimed_bureau="finance")
    assert sender.key_id == key.key_id and sender.integration == "财政一体化系统"
    assert IntakeRequestV1.model_validate_json(value).request_id == "oa-2026-0001"
