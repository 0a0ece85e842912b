"""The user interfaces of metadesk: the `metadesk` command, and the screens built on the runtime."""
