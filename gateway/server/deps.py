"""FastAPI dependencies: what a route needs, from ``app.state`` (built by the lifespan)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gateway.errors import NotReadyError, StoreUnavailableError
from gateway.pipeline import Classifier
from gateway.server.security import Principal, authorize, identify, may_see_details
from gateway.server.state import AppState
from gateway.store import Store


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.gateway
    return state


def ready_classifier(state: Annotated[AppState, Depends(app_state)]) -> Classifier:
    """The classifier, or 503 ``not_ready`` while the model loads or after start-up failed."""
    if state.classifier is None:
        if state.startup_error:
            raise NotReadyError(f"the gateway failed to start: {state.startup_error}")
        raise NotReadyError("the model is still loading; retry shortly")
    return state.classifier


def ready_store(state: Annotated[AppState, Depends(app_state)]) -> Store:
    """The labelled-data store, or 503 ``store_unavailable``."""
    if state.store is None:
        if not state.settings.store.enabled:
            raise StoreUnavailableError("the labelled-data store is off (GATEWAY_STORE_ENABLED)")
        if state.startup_error:
            raise NotReadyError(f"the gateway failed to start: {state.startup_error}")
        raise NotReadyError("the store is still opening; retry shortly")
    return state.store


State = Annotated[AppState, Depends(app_state)]
Ready = Annotated[Classifier, Depends(ready_classifier)]
Stored = Annotated[Store, Depends(ready_store)]
Caller = Annotated[Principal, Depends(authorize)]  # a key (when configured) and a token
Identified = Annotated[Principal, Depends(identify)]  # a key (when configured), no token
SeesDetails = Annotated[bool, Depends(may_see_details)]  # /healthz may say why start-up failed
