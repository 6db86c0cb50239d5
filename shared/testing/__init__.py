"""Test support shipped with the shared package: contract suites every adapter must pass."""
