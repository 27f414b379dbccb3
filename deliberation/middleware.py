"""Request middleware of Agora's own."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from deliberation.services.ratelimits import RequestState, request_client_address, request_state


class RateLimitMiddleware:
    """Gives rate limits the request's client address, and a refused request's response
    its Retry-After header, whichever view (web, htmx, API) rendered the refusal."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        state = RequestState(address=request_client_address(request))
        token = request_state.set(state)
        try:
            response = self.get_response(request)
        finally:
            request_state.reset(token)
        if response.status_code == 429 and state.retry_after is not None:
            response.headers.setdefault("Retry-After", str(state.retry_after))
        return response
