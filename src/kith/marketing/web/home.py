"""The marketing home page: where each part of the product is."""

from __future__ import annotations

from fastapi import Request, Response

from kith.web.site import Admin, page_router, render

router = page_router()


@router.get("/", name="home")
def home(request: Request, visitor: Admin) -> Response:
    return render(request, "home.html")
