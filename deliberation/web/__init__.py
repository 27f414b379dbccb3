"""The participant web UI: Django templates and htmx, no single-page-app build."""
