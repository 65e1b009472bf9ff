"""Test your agent offline: a pytest plugin and helpers over the local Realtime server."""
