"""How a bureau's system signs a message for intake.requests.v1 (README quotes this file; a test runs it)."""

import base64
import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def new_key_pair() -> tuple[Ed25519PrivateKey, str]:
    """Generate a key once; register the returned public key (POST /api/v1/integrations/keys)."""
    private_key = Ed25519PrivateKey.generate()  # keep it secret, e.g. private_bytes(...) to a vault
    return private_key, base64.b64encode(private_key.public_key().public_bytes_raw()).decode()


def signed_intake_request(
    private_key: Ed25519PrivateKey, key_id: str, request: dict
) -> tuple[bytes, list[tuple[str, bytes]]]:
    """Return the value to produce and its headers: the signature covers exactly these value bytes."""
    value = json.dumps(request, ensure_ascii=False).encode("utf-8")  # produce these bytes, unchanged
    headers = [
        ("x-signature-key-id", key_id.encode()),  # the key id the registration answered
        ("x-signature-ed25519", base64.b64encode(private_key.sign(value))),  # Ed25519 over the value
    ]
    return value, headers


# With confluent-kafka (librdkafka):
#   value, headers = signed_intake_request(private_key, key_id, {"request_id": ..., "bureau": ..., ...})
#   producer.produce("intake.requests.v1", value=value, headers=headers)
