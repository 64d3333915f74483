"""The draw-a-digit page and its JSON API: a thin FastAPI layer over `inference.Predictor`.

- `GET /` — the page (`static/index.html`: plain JavaScript, nothing from a CDN).
- `POST /api/predict` — an image file as the raw body, or a multipart upload (any field
  name) → `{"digit", "label", "probabilities", "input": 28×28, "ms"}` (ms: the time
  decoding, preprocessing and the forward pass took in the server), plus for LeNet-5
  `"feature_maps"` (C1's activations, 0–255 per map, as base64 bytes of shape
  `"feature_map_shape"` [6, 28, 28]) and `"feature_map_scale"` (each map's largest
  activation). A body that is not a readable
  image with ink in it → 400 `{"error": "..."}`; over `MAX_BODY` bytes → 413.
- `GET /api/model` — architecture, parameters, test accuracy, classes.
- `GET /healthz` — `{"status": "ok"}`.
- `GET /docs`: the API's documentation (Swagger UI), its script and style served from
  fastapi-offline's copy, so it works with no network. There is no `/redoc`: ReDoc's
  bundle fetches its logo from a CDN.

The work (decoding, preprocessing, the forward pass) is exactly what `mnistlab predict`
does; it runs in at most `WORKERS` threads so that a large image never stalls the event
loop, and `Predictor` lets one forward pass run at a time. uvicorn has no body-size
limit, so the body is read here in chunks and refused as soon as it passes `MAX_BODY`.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi_offline import FastAPIOffline
from starlette.datastructures import UploadFile
from starlette.types import Message

from mnistlab.errors import UserError
from mnistlab.inference import Prediction, Predictor

MAX_BODY = 5 * 1024 * 1024  # bytes: a phone photo fits, a flood does not
# Images are decoded and read by at most this many threads at once (one per core here):
# the event loop stays free for other requests and /healthz, and 20 large photos
# arriving together cannot each hold their decoded pixels in memory at the same time.
WORKERS = 2
STATIC = Path(__file__).parent / "static"
IMAGE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "image/*": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        },
    }
}
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": 'not a readable image, or no ink in it: {"error": ...}'},
    413: {"description": f'body over {MAX_BODY:,} bytes: {{"error": ...}}'},
}


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def create_app(predictor: Predictor) -> FastAPI:
    app = FastAPIOffline(
        redoc_url=None,
        title="mnistlab",
        summary="Draw a digit and watch a network read it.",
        version="1",
    )
    page = (STATIC / "index.html").read_bytes()
    model = predictor.describe()
    # Shared with the routes added later (the training view's draw pad): one bound in all.
    workers = app.state.workers = anyio.CapacityLimiter(WORKERS)

    @app.exception_handler(BadRequest)
    async def bad_request(_: Request, exc: BadRequest) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=exc.status)

    @app.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/model")
    async def describe_model() -> dict[str, Any]:
        return model

    @app.post("/api/predict", openapi_extra=IMAGE_BODY, responses=ERRORS)
    async def predict(request: Request) -> Response:
        """Read the digit in an image file (raw body or multipart upload)."""
        return await answer(request, lambda: predictor, workers)

    return app


async def answer(
    request: Request, predictor: Callable[[], Predictor], workers: anyio.CapacityLimiter
) -> Response:
    """The request's image read by `predictor()`: both called in a worker thread (a
    predictor may have to load its model first), the answer as JSON, a bad image 400."""
    data, name = await read_image(request)

    def work() -> bytes:
        return predict_json(predictor(), data, name)

    try:
        body = await anyio.to_thread.run_sync(work, limiter=workers)
    except UserError as exc:
        raise BadRequest(400, str(exc)) from None
    return Response(body, media_type="application/json")


def predict_json(predictor: Predictor, data: bytes, name: str) -> bytes:
    """Decode + preprocess + forward (timed as "ms"), then the answer as JSON bytes."""
    start = time.perf_counter()
    prediction = predictor.predict_bytes(data, name, maps=True)
    ms = (time.perf_counter() - start) * 1000
    return json.dumps({**as_json(prediction), "ms": round(ms, 3)}).encode()


def as_json(p: Prediction) -> dict[str, Any]:
    """Probabilities to 6 decimals, the input's pixels to 3.

    The feature maps are sent as bytes: each map scaled by its largest activation to
    0–255 (`feature_map_scale`; activation ≈ value / 255 · scale), as one base64 string of
    shape `feature_map_shape` in C order. As 4,704 JSON numbers they took more of a
    request's time than the forward pass, on the server and in the browser alike.
    """
    out: dict[str, Any] = {
        "digit": p.digit,
        "label": p.label,
        "probabilities": np.round(p.probabilities, 6).tolist(),
        "input": np.round(p.prepared.x, 3).tolist(),
    }
    if p.feature_maps is not None:
        scale = p.feature_maps.max(axis=(1, 2))
        safe = np.where(scale > 0, scale, 1.0)[:, None, None]
        maps = np.rint(p.feature_maps / safe * 255).astype(np.uint8)
        out["feature_maps"] = base64.b64encode(maps.tobytes()).decode("ascii")
        out["feature_map_shape"] = list(maps.shape)
        out["feature_map_scale"] = np.round(scale, 4).tolist()
    return out


async def read_image(request: Request) -> tuple[bytes, str]:
    """The image's bytes and a name for messages, from a raw body or a multipart form."""
    body = await read_body(request)
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        return await form_file(request, body)
    return body, "the uploaded image"


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The whole body, refused with 413 as soon as it is known to pass `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def too_large() -> BadRequest:
    return BadRequest(413, f"the upload is over {MAX_BODY // (1024 * 1024)} MB")


async def form_file(request: Request, body: bytes) -> tuple[bytes, str]:
    """The first file in a multipart form, parsed from the body already read."""
    replayed = False

    async def receive() -> Message:
        nonlocal replayed
        if replayed:
            return {"type": "http.disconnect"}
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        async with Request(request.scope, receive).form() as form:
            for value in form.values():
                if isinstance(value, UploadFile):
                    return await value.read(), value.filename or "the uploaded file"
    except Exception as exc:  # python-multipart raises several types for a broken form
        raise BadRequest(400, f"the multipart form could not be read ({exc})") from None
    raise BadRequest(400, "the multipart form holds no file: send the image in a file field")
