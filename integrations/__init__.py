"""Provider interfaces for third-party services, each with an HTTP and a sandbox implementation."""
