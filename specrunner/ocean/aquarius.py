"""`Aquarius`: DDO resolution from an Ocean metadata cache (reference §4.12).

Our embedded provider serves the same path at its own origin, so a provider URL works
as an Aquarius URL too.
"""

from __future__ import annotations

from urllib.parse import quote

from pydantic import ValidationError

from specrunner.errors import ProviderError, ProviderUnreachableError
from specrunner.ocean.models import DDO
from specrunner.ocean.provider import DataServiceProvider, shared_provider

DDO_PATH = "/api/aquarius/assets/ddo/"


class Aquarius:
    """A metadata cache at `url` (its root, e.g. "https://v4.aquarius.oceanprotocol.com").

    HTTP goes through `data_provider` (default: the process-wide one), so the same retry
    policy and error tree apply.
    """

    def __init__(self, url: str, data_provider: DataServiceProvider | None = None) -> None:
        base = url.strip().rstrip("/")
        if base.endswith("/api/aquarius"):
            base = base[: -len("/api/aquarius")]
        self.url = base
        self.data_provider = data_provider or shared_provider()

    def resolve(self, did: str) -> DDO:
        """`GET {url}/api/aquarius/assets/ddo/{did}` as a DDO.

        Any non-200 answer means "not found" (as the Provider treats it, §1): a
        ProviderError naming the DID, with the HTTP status and body. No answer at all:
        ProviderUnreachableError. A body that is not a DDO: ProviderError.
        """
        url = f"{self.url}{DDO_PATH}{quote(did, safe=':')}"
        try:
            body = self.data_provider.get_json(url, "aquarius")
        except ProviderUnreachableError:
            raise
        except ProviderError as exc:
            raise ProviderError(
                f"asset {did} not found at {self.url}: {exc}",
                status_code=exc.status_code,
                payload=exc.payload,
                endpoint="aquarius",
            ) from exc
        try:
            ddo = DDO.model_validate(body)
        except ValidationError as exc:
            raise ProviderError(
                f"{self.url} answered something that is not a DDO for {did}: "
                f"{exc.errors()[0]['msg']}",
                payload=body,
                endpoint="aquarius",
            ) from exc
        if ddo.id != did:
            raise ProviderError(f"{self.url} answered DDO {ddo.id} for {did}", endpoint="aquarius")
        return ddo
