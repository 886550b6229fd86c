"""The connections, their helpdesks and the clients that call them: built once at start-up."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from gateway.config import ConnectorSettings
from gateway.connectors.base import Helpdesk
from gateway.connectors.connections import Linked
from gateway.connectors.freshdesk import Freshdesk
from gateway.connectors.helpscout import HelpScout
from gateway.connectors.http import Api
from gateway.connectors.intercom import Intercom
from gateway.connectors.zendesk import Zendesk
from gateway.errors import ConnectionNotFoundError

# the helpdesks by the name in the webhook's path and the connections file
HELPDESKS: dict[str, Helpdesk] = {
    h.name: h for h in (Zendesk(), Freshdesk(), Intercom(), HelpScout())
}


class ConnectorHub:
    """Connections by (helpdesk, name), each with its API client; ``client`` is shared."""

    def __init__(
        self,
        connections: Mapping[tuple[str, str], Linked],
        client: httpx.AsyncClient,
        settings: ConnectorSettings,
    ) -> None:
        self.connections = dict(connections)
        self.client = client
        self.settings = settings
        self._apis: dict[tuple[str, str], Api] = {}

    def build_api(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> Api:
        return Api(
            self.client,
            base_url,
            headers=headers,
            auth=auth,
            attempts=self.settings.http_attempts,
            retry_after_max_s=self.settings.retry_after_max_s,
        )

    def get(self, helpdesk: str, name: str) -> tuple[Helpdesk, Linked]:
        linked = self.connections.get((helpdesk, name))
        if linked is None or helpdesk not in HELPDESKS:
            raise ConnectionNotFoundError(f"no {helpdesk!r} connection named {name!r}")
        return HELPDESKS[helpdesk], linked

    def api(self, helpdesk: Helpdesk, linked: Linked) -> Api:
        key = (linked.config.helpdesk, linked.config.name)
        if key not in self._apis:
            self._apis[key] = helpdesk.api(linked, self.build_api)
        return self._apis[key]

    def slack(self, linked: Linked) -> Api | None:
        url = linked.credentials.slack_url
        return self.build_api(url.get_secret_value()) if url is not None else None

    async def aclose(self) -> None:
        await self.client.aclose()
