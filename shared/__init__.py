"""Common package of the concierge system: contracts, event store, messaging, auth, dev stack."""
