"""Every error leaves the API as ``application/problem+json`` (RFC 9457)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from labelloop.errors import HTTP_STATUS, LabelloopError, lookup

__all__ = ["install_error_handlers", "problem"]

PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str, code: str, **extra: Any) -> JSONResponse:
    """A problem+json response."""
    body = {
        "type": f"https://labelloop.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Map the labelloop error tree (one table in ``labelloop.errors``) and framework errors to problems."""

    @app.exception_handler(LabelloopError)
    async def _labelloop(_: Request, exc: LabelloopError) -> JSONResponse:
        status = lookup(HTTP_STATUS, exc)
        details = {k: v for k, v in exc.details.items() if isinstance(v, str | int | float | bool | None)}
        return problem(
            status,
            type(exc).__name__.removesuffix("Error").replace("_", " ") or "Error",
            exc.message,
            exc.code,
            **details,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(x) for x in first["loc"])
        return problem(422, "Invalid request", f"{where}: {first['msg']}", "invalid_input", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), str(exc.detail), f"http_{exc.status_code}")
