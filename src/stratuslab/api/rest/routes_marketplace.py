"""/api/v1/images/marketplace: import a marketplace image by identifier, explain the policy.

The marketplace images service is `ctx.marketplace_images`
(services.marketplace.cloud.MarketplaceImages).  Never imports drivers, persistence or settings.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from stratuslab.api.rest.deps import Caller, Ctx
from stratuslab.api.rest.schemas import image_out, job_out

router = APIRouter(prefix="/api/v1", tags=["images"])


class ImportBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kernel_image: int | None = None  # boot the disk with this image's kernel/initrd/cmdline


@router.post("/images/marketplace/{identifier}", status_code=202)
def import_image(identifier: str, ctx: Ctx, caller: Caller,
                 body: ImportBody | None = None) -> Any:
    """Verify, apply the site policy and (if this node lacks it) queue the download job."""
    image, job = ctx.marketplace_images.request_import(
        caller, identifier, kernel_image=body.kernel_image if body else None)
    if image is not None:
        return JSONResponse({"image": image_out(image), "job": None}, status_code=200)
    return {"image": None, "job": job_out(job)}


@router.get("/images/marketplace/{identifier}/policy")
def explain_policy(identifier: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    """The site policy's verdict on every endorsement of the image (stratus policy-image)."""
    verdicts = ctx.marketplace_images.explain(identifier)
    return {"identifier": identifier, "allowed": any(v["allowed"] for v in verdicts),
            "verdicts": verdicts}
