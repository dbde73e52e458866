"""The JSON error shape of the REST API (statuses from api/http_status.py, shared with OCCI)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from stratuslab.api.http_status import STATUS, http_status
from stratuslab.core.errors import CloudError, ErrorKind

__all__ = ["STATUS", "error_body", "install"]



def error_body(kind: str, message: str, hint: str = "") -> dict[str, dict[str, str]]:
    return {"error": {"kind": kind, "message": message, "hint": hint}}


def install(app: FastAPI) -> None:
    @app.exception_handler(CloudError)
    async def _cloud(request: Request, exc: CloudError) -> JSONResponse:
        headers = {"WWW-Authenticate": 'Basic realm="stratuslab"'} if exc.kind is ErrorKind.AUTHENTICATION else None
        return JSONResponse(error_body(exc.kind, exc.message, exc.hint), http_status(exc), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors()[:5]:
            if err.get("type") == "json_invalid":
                at = err.get("loc", ("body", "?"))[-1]
                parts.append(f"the body is not valid JSON ({err.get('ctx', {}).get('error', 'syntax error')} at character {at})")
                continue
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{where or 'body'}: {err.get('msg', 'invalid')}")
        return JSONResponse(
            error_body("invalid", "invalid request: " + "; ".join(parts),
                       "see the API description at /api/v1/openapi.json"),
            400,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = "not_found" if exc.status_code == 404 else "invalid"
        hint = ("this cloud serves no such path: check the endpoint URL (the cloud's base URL, "
                "e.g. http://HOST:PORT) and that the feature serving it is enabled "
                "(stratus-server's configuration)") if exc.status_code == 404 else ""
        return JSONResponse(error_body(kind, f"{request.url.path}: {exc.detail}", hint),
                            exc.status_code)
