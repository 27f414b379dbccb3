from django.apps import AppConfig


class DeliberationConfig(AppConfig):
    name = "deliberation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from deliberation import signals  # noqa: F401  (connects the cache invalidation)
