"""The JSON API of a real `mnistlab serve` process: answers, bad input, a short load."""

from __future__ import annotations

import base64
import io
import socket
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from PIL import Image

from mnistlab.inference import Predictor
from mnistlab.web.app import MAX_BODY

from .conftest import Server, start_server


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def test_model_health_and_docs(server: Server) -> None:
    assert server.get("/healthz").json() == {"status": "ok"}
    model = server.get("/api/model").json()
    assert model["architecture"] == {"model": "lenet5", "activation": "relu"}
    assert model["parameters"] == 61_706 and model["feature_maps"] is True
    assert 0.9 < model["test_acc"] <= 1 and model["classes"] == [str(d) for d in range(10)]
    assert "/api/predict" in server.get("/openapi.json").json()["paths"]
    assert server.get("/docs").status_code == 200
    page = server.get("/")
    assert page.status_code == 200 and '<canvas id="pad"' in page.text


def test_raw_body_and_multipart_give_the_same_answer_as_predict(
    server: Server, mnist_pngs, quick_lenet5
) -> None:
    path = mnist_pngs[0]
    data = path.read_bytes()
    raw = server.post("/api/predict", content=data, headers={"content-type": "image/png"})
    form = server.post("/api/predict", files={"image": (path.name, data, "image/png")})
    expected = Predictor.from_file(quick_lenet5).predict_bytes(data, maps=True)
    for response in (raw, form):
        assert response.status_code == 200
        answer = response.json()
        assert answer["digit"] == expected.digit == int(path.stem[-1])
        np.testing.assert_allclose(answer["probabilities"], expected.probabilities, atol=1e-6)
        np.testing.assert_allclose(answer["input"], expected.prepared.x, atol=5e-4)
        assert np.shape(answer["input"]) == (28, 28)
        assert answer["feature_map_shape"] == [6, 28, 28]
        raw_maps = np.frombuffer(base64.b64decode(answer["feature_maps"]), np.uint8)
        scale = np.array(answer["feature_map_scale"])[:, None, None]
        maps = raw_maps.reshape(6, 28, 28) / 255 * scale
        np.testing.assert_allclose(
            scale[:, 0, 0], expected.feature_maps.max(axis=(1, 2)), atol=1e-4
        )
        np.testing.assert_allclose(maps, expected.feature_maps, atol=scale.max() / 255)
        assert answer["ms"] > 0


def truncated_png() -> bytes:
    return png_bytes(Image.effect_noise((64, 64), 80))[:200]


BAD_BODIES = {
    "not an image": (b"just some text", "not an image"),
    "empty": (b"", "empty"),
    "blank": (png_bytes(Image.new("L", (60, 60), 255)), "blank"),
    "truncated": (truncated_png(), "damaged"),
}


@pytest.mark.parametrize("case", BAD_BODIES)
def test_bad_images_are_400_with_an_error_and_the_server_keeps_serving(
    server: Server, case
) -> None:
    body, words = BAD_BODIES[case]
    response = server.post("/api/predict", content=body)
    assert response.status_code == 400
    assert set(response.json()) == {"error"} and words in response.json()["error"]
    assert server.alive()


def test_decompression_bomb_is_400(server: Server, bomb_png) -> None:
    response = server.post("/api/predict", files={"file": ("bomb.png", bomb_png, "image/png")})
    assert response.status_code == 400
    assert (
        "bomb.png" in response.json()["error"] and "decompression bomb" in response.json()["error"]
    )
    assert server.alive()


def test_body_over_5_mb_is_413_declared_or_streamed(server: Server) -> None:
    big = b"\0" * (MAX_BODY + 1)
    declared = server.post("/api/predict", content=big)
    assert declared.status_code == 413 and "5 MB" in declared.json()["error"]

    def chunks():  # no Content-Length: the server must count for itself
        for start in range(0, len(big), 1 << 20):
            yield big[start : start + (1 << 20)]

    try:
        streamed = server.post("/api/predict", content=chunks())
        assert streamed.status_code == 413
    except httpx.TransportError:
        pass  # the server may close the connection before the client finishes sending
    assert server.alive()
    exactly = server.post("/api/predict", content=b"\0" * MAX_BODY)  # at the limit: read
    assert exactly.status_code == 400


def multipart(body: bytes) -> dict[str, object]:
    return {"content": body, "headers": {"content-type": "multipart/form-data; boundary=XYZ"}}


@pytest.mark.parametrize(
    ("request_kwargs", "words"),
    [
        (
            multipart(
                b'--XYZ\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n--XYZ--\r\n'
            ),
            "holds no file",
        ),
        ({"files": {"file": ("x.png", b"\x89PNG broken", "image/png")}}, "x.png: not an image"),
        (multipart(b"--XYZ\r\nnonsense"), "holds no file"),
        (
            {"content": b"x", "headers": {"content-type": "multipart/form-data"}},
            "could not be read (400: Missing boundary",
        ),
    ],
    ids=["form-without-file", "form-with-broken-file", "garbled-form", "no-boundary"],
)
def test_bad_multipart_is_400(server: Server, request_kwargs, words) -> None:
    response = server.post("/api/predict", **request_kwargs)
    assert response.status_code == 400 and set(response.json()) == {"error"}
    assert words in response.json()["error"]
    assert server.alive()


def test_wrong_method_or_path_get_fastapis_usual_answers(server: Server) -> None:
    assert server.get("/api/predict").status_code == 405
    assert server.post("/healthz").status_code == 405
    assert server.get("/no/such/page").status_code == 404
    assert server.alive()


def test_port_in_use_is_one_line_and_exit_2(quick_lenet5) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process, _ = start_server(str(quick_lenet5), "--port", str(port))
        _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert err.strip() == (
        f"mnistlab serve: error: port {port} on 127.0.0.1 is already in use: "
        "stop what runs there or pass --port"
    )


def test_200_requests_from_20_clients_none_fails_every_answer_right(
    server: Server, mnist_pngs, quick_lenet5
) -> None:
    """The load benchmark's short version: every answer equals what predict reads."""
    predictor = Predictor.from_file(quick_lenet5)
    bodies = [p.read_bytes() for p in mnist_pngs]
    expected = [predictor.predict_bytes(b).digit for b in bodies]

    def client(k: int) -> list[tuple[int, int, int]]:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            got = []
            for i in range(10):
                j = (k + i) % len(bodies)
                r = http.post("/api/predict", content=bodies[j])
                got.append((j, r.status_code, r.json().get("digit", -1)))
            return got

    with ThreadPoolExecutor(20) as pool:
        answers = [a for batch in pool.map(client, range(20)) for a in batch]
    assert len(answers) == 200
    assert all(status == 200 for _, status, _ in answers)
    assert all(digit == expected[j] for j, _, digit in answers)
    assert server.alive()


def test_a_phone_sized_photo_is_read(server: Server, mnist_pngs) -> None:
    """A 4,000 × 3,000 JPEG (a phone photo's size) is reduced early and read like the small one."""
    small = mnist_pngs[3]
    with Image.open(small) as digit:
        photo = Image.new("L", (4000, 3000), 235)
        photo.paste(digit.resize((1500, 1500)), (1800, 700))
    buf = io.BytesIO()
    photo.save(buf, "JPEG", quality=85)
    assert len(buf.getvalue()) < MAX_BODY
    response = server.post("/api/predict", content=buf.getvalue())
    assert response.status_code == 200
    expected = server.post("/api/predict", content=small.read_bytes()).json()["digit"]
    assert response.json()["digit"] == expected == int(small.stem[-1])
    assert server.alive()
