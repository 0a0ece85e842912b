"""The web application: generated screens over HTMX and the JSON API, both on the runtime."""
