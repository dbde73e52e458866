"""HTTP client of the REST API: authentication, JSON, and errors turned into ClickExceptions."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from stratuslab.cli.config import ClientConfig
from stratuslab.cli.errors import CliError

__all__ = ["Api", "CliError", "TERMINAL_JOB"]

TERMINAL_JOB = ("done", "failed")


class Api:
    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        auth: Any = None
        headers = {"User-Agent": "stratus-cli"}
        token = config.get("token")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        elif config.get("username"):
            auth = (config.get("username"), config.get("password"))
        self.http = httpx.Client(
            base_url=config.endpoint, auth=auth, headers=headers,
            timeout=float(config.get("endpoint_timeout") or 30),
        )

    def request(self, method: str, path: str, **kw: Any) -> Any:
        try:
            resp = self.http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise CliError(
                f"cannot reach the cloud at {self.config.endpoint}: {exc}; "
                "check --endpoint and that stratus-server runs", kind="unavailable",
            ) from exc
        if resp.status_code >= 400:
            raise self.error(resp)
        if resp.status_code == 204 or not resp.content:
            return None
        if resp.headers.get("content-type", "").startswith("application/json"):
            return resp.json()
        return resp.text

    def error(self, resp: httpx.Response) -> CliError:
        """The CLI error of an error answer: the cloud's message and way out, else what the
        answer says about the URL (a wrong --endpoint answers 404 without our error body)."""
        try:
            err = resp.json()["error"]
            message = str(err["message"]) + (f"; {err['hint']}" if err.get("hint") else "")
            return CliError(message, kind=str(err.get("kind") or ""), status=resp.status_code)
        except Exception:
            pass
        url = str(resp.request.url) if resp.request else self.config.endpoint
        return CliError(
            f"{url} answered HTTP {resp.status_code} {resp.reason_phrase} without a StratusLab "
            f"error; check that --endpoint ({self.config.endpoint}) is the cloud's URL "
            "(stratus-server prints it at start-up)", status=resp.status_code)

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.request("POST", path, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)

    def items(self, path: str, params: dict[str, Any] | None = None, *,
              most: int | None = None) -> list[Any]:
        """The items of a paged listing (`items`, `next`), following its pages (to `most`)."""
        answer = self.get(path, params=params)
        found = list(answer["items"])
        seen = {path}
        while answer.get("next") and answer["next"] not in seen and (
                most is None or len(found) < most):
            seen.add(answer["next"])
            answer = self.get(answer["next"])
            found += answer["items"]
        return found[:most]

    def wait_jobs(self, job_ids: list[int], *, on_update: Callable[[list[dict[str, Any]]], None],
                  timeout: float = 3600) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            jobs = [self.get(f"/api/v1/jobs/{j}") for j in job_ids]
            on_update(jobs)
            if all(j["state"] in TERMINAL_JOB for j in jobs) or time.monotonic() > deadline:
                return jobs
            time.sleep(0.3)
