"""GET /healthz: 200 when the database, the broker and the opinion groups are fine, else 503
naming the failed checks. For supervisors, load balancers and uptime monitors."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from deliberation.selectors.health import health_check


@require_safe
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    health = health_check()
    return JsonResponse(
        {
            "status": "fail" if health.failed else "ok",
            "failed": health.failed,
            "checks": health.checks,
        },
        status=503 if health.failed else 200,
    )
