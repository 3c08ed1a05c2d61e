"""Images as inputs: content identity, DICOM rendering, call keys, the vision capability,
the OpenAI wire format, and a tiny vision-language model end to end."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medq.calls import CallLog, ItemModel, ItemTally
from medq.cli import app
from medq.images import clear_memo, data_url, from_dicom, to_pil
from medq.models.base import UnsupportedCapabilityError
from medq.models.openai_compat import OpenAICompatModel
from medq.runner import EvalSpec, data_hash, evaluate
from medq.store import Store, content_hash
from medq.tasks import load_task
from medq.testing.openai_server import FakeOpenAIServer, image_urls, prompt_text
from medq.testing.scripted import ScriptedModel
from medq.types import Capability, GenerationRequest, Image, Message, Question

pydicom_data = pytest.importorskip("pydicom.data")
pytest.importorskip("PIL")


def dicom(name: str) -> Path:
    found = pydicom_data.get_testdata_file(name, download=False)
    if found is None:
        pytest.skip(f"pydicom does not ship {name}")
    return Path(found)


def jpeg(tmp_path: Path, name: str = "x.jpg", shade: int = 90) -> Path:
    from PIL import Image as PILImage

    path = tmp_path / name
    PILImage.new("RGB", (8, 8), (shade, shade, shade)).save(path, format="JPEG")
    return path


def test_images_are_their_content(tmp_path: Path) -> None:
    a = jpeg(tmp_path, "a.jpg")
    b = tmp_path / "renamed.jpg"
    shutil.copyfile(a, b)
    first, second = Image.from_path(a), Image.from_path(b)
    assert first == second and hash(first) == hash(second) and first.mime == "image/jpeg"
    assert first.sha256 == hashlib.sha256(a.read_bytes()).hexdigest()
    assert Image.from_bytes(a.read_bytes()) == first
    other = Image.from_path(jpeg(tmp_path, "c.jpg", shade=200))
    assert other != first
    q1 = Question("q", "Is it?", {}, "yes", images=(first,))
    q2 = Question("q", "Is it?", {}, "yes", images=(other,))
    assert hash(q1) != hash(q2) and data_hash([q1]) != data_hash([q2])
    assert data_hash([Question("q", "Is it?", {}, "yes")]) != data_hash([q1])
    a.write_bytes(b.read_bytes()[:-10])
    with pytest.raises(ValueError, match="changed since it was loaded"):
        first.read()
    with pytest.raises(ValueError, match="not a JPEG, PNG"):
        Image.from_bytes(b"hello")


@pytest.mark.parametrize(("name", "mode", "size"), [
    ("CT_small.dcm", "L", (128, 128)),
    ("MR_small.dcm", "L", (64, 64)),
    ("examples_overlay.dcm", "L", (484, 300)),     # MR abdomen
    ("examples_rgb_color.dcm", "RGB", (320, 240)),  # ultrasound, RGB
    ("examples_palette.dcm", "RGB", (800, 350)),    # ultrasound, palette colour
    ("examples_ybr_color.dcm", "RGB", (320, 240)),  # ultrasound, YBR
])
def test_dicom_renders_to_png(name: str, mode: str, size: tuple[int, int]) -> None:
    from PIL import Image as PILImage

    image = from_dicom(dicom(name))
    assert image.mime == "image/png" and image.dicom == str(dicom(name))
    with PILImage.open(io.BytesIO(image.read())) as png:
        assert png.format == "PNG" and png.mode == mode and png.size == size
        low, high = png.convert("L").getextrema()
    assert high > low  # not a blank frame
    assert from_dicom(dicom(name)) == image  # the second render comes from the cache


def test_dicom_window_is_the_modality_lut_then_the_voi_window() -> None:
    import numpy as np
    import pydicom
    from pydicom.pixels import apply_modality_lut

    path = dicom("CT_small.dcm")
    dataset = pydicom.dcmread(path)
    hu = apply_modality_lut(dataset.pixel_array, dataset).astype(float)
    center, width = 40.0, 400.0  # a soft-tissue window, in Hounsfield units
    png = np.asarray(to_pil(from_dicom(path, window=(center, width))).convert("L"))
    expected = np.clip((hu - (center - width / 2)) / width, 0, 1) * 255
    assert np.abs(png.astype(float) - expected.round()).max() <= 1
    assert (png[hu <= center - width / 2] == 0).all() and (png[hu >= center + width / 2]
                                                           == 255).all()


def test_dicom_cache_survives_and_is_keyed_by_window(medq_home: Path) -> None:
    path = dicom("MR_small.dcm")
    plain = from_dicom(path)
    windowed = from_dicom(path, window=(500.0, 200.0))
    assert plain != windowed
    cached = sorted((medq_home / "cache" / "images").glob("*.png"))
    assert len(cached) == 2


def test_data_url_is_the_file_base64(tmp_path: Path) -> None:
    path = jpeg(tmp_path)
    image = Image.from_path(path)
    clear_memo()
    url = data_url(image)
    assert url == "data:image/jpeg;base64," + base64.b64encode(path.read_bytes()).decode()
    assert data_url(image) is url  # memoised by hash


def _key(messages: tuple[Message, ...]) -> str:
    from medq.calls import _messages_json

    request = GenerationRequest(messages)
    return content_hash({"model": "m", "endpoint": "e", "kind": "chat",
                         "messages": _messages_json(messages), **request.params()})


def test_call_keys_follow_image_content(tmp_path: Path) -> None:
    a, b = jpeg(tmp_path, "a.jpg"), jpeg(tmp_path, "b.jpg", shade=10)
    copy = tmp_path / "copy.jpg"
    shutil.copyfile(a, copy)
    with_a = _key((Message("user", "Is it?", (Image.from_path(a),)),))
    assert with_a == _key((Message("user", "Is it?", (Image.from_path(copy),)),))
    assert with_a != _key((Message("user", "Is it?", (Image.from_path(b),)),))
    # Text-only messages key exactly as before images existed.
    text_only = (Message("user", "Is it?"),)
    old = content_hash({"model": "m", "endpoint": "e", "kind": "chat",
                        "messages": [{"role": "user", "content": "Is it?"}],
                        **GenerationRequest(text_only).params()})
    assert _key(text_only) == old


def test_a_model_without_vision_is_refused_before_any_call(tmp_path: Path) -> None:
    model = ScriptedModel(lambda r: "yes")
    spec = EvalSpec(task="vqa_rad", model="scripted/x", sample=True, strategy="short_answer")
    with pytest.raises(UnsupportedCapabilityError, match="does not take images"):
        evaluate(spec, model=model, progress=False)
    assert model.calls == []
    with Store() as store:
        log = CallLog(model, store)
        log.bind("scripted/x", "scripted", model.capabilities)
        item = ItemModel(log, ItemTally(None, None))
        request = GenerationRequest((Message("user", "?", (Image.from_path(jpeg(tmp_path)),)),))
        with pytest.raises(UnsupportedCapabilityError):
            asyncio.run(item.complete(request))
    assert model.calls == []
    out = CliRunner().invoke(app, ["eval", "--task", "vqa_rad", "--sample", "--model",
                                   "scripted/answer:A"])
    assert out.exit_code == 2
    assert out.stderr.strip().splitlines()[-1].startswith("error: the task shows")


async def test_openai_backend_sends_content_parts(tmp_path: Path) -> None:
    image = Image.from_path(jpeg(tmp_path))
    async with FakeOpenAIServer(lambda body, i: "yes") as server:
        model = OpenAICompatModel("m", base_url=server.base_url)
        try:
            request = GenerationRequest((Message("system", "Be brief."),
                                         Message("user", "Is it?", (image,))))
            completion = await model.complete(request)
        finally:
            await model.aclose()
        blind = OpenAICompatModel("m", base_url=server.base_url, vision=False)
        with pytest.raises(UnsupportedCapabilityError, match="vision=False"):
            await blind.complete(request)
    assert completion.generations[0].text == "yes" and server.count == 1
    (body,) = server.bodies
    user = body["messages"][1]["content"]
    assert [p["type"] for p in user] == ["image_url", "text"] and user[1]["text"] == "Is it?"
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert prompt_text(body) == "Be brief.\nIs it?"
    assert Capability.VISION not in blind.capabilities


async def test_fake_server_refuses_a_broken_content_part() -> None:
    import aiohttp

    async with FakeOpenAIServer() as server, aiohttp.ClientSession() as session:
        body = {"model": "m", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,@@"}}]}]}
        async with session.post(f"{server.base_url}/chat/completions", json=body) as r:
            assert r.status == 400
            assert "invalid content part" in (await r.json())["error"]["message"]


def test_vqa_rad_requests_carry_the_image_end_to_end(shared_data: Path) -> None:
    data = shared_data / "vqa_rad"

    def respond(body: dict, index: int) -> str:
        return "yes" if prompt_text(body).split("\n")[1].startswith(("Is", "Are")) else "chest"

    with FakeOpenAIServer(respond) as server:
        out = CliRunner().invoke(app, ["eval", "--task", "vqa_rad", "--data", str(data),
                                       "--model", "openai/M", "--base-url", server.base_url])
        bodies = server.bodies
    assert out.exit_code == 0, out.output
    assert "closed %" in out.stdout and "open EM %" in out.stdout and "n=272" in out.stdout
    assert len(bodies) == 451
    task = load_task("vqa_rad", data)
    by_question = {q.stem: q for q in task.questions}
    for body in bodies[:25]:
        (url,) = image_urls(body)
        assert url.startswith("data:image/jpeg;base64,")
        sent = hashlib.sha256(base64.b64decode(url.split(",", 1)[1])).hexdigest()
        question = by_question[prompt_text(body).split("\n")[1]]
        assert sent == question.images[0].sha256
        assert sent == hashlib.sha256(Path(question.images[0].path or "").read_bytes()
                                      ).hexdigest()
    shown = json.loads(CliRunner().invoke(app, ["show", "last", "--format", "json"]).stdout)
    assert (shown["closed_n"], shown["open_n"], shown["n_items"]) == (272, 179, 451)
    # "yes" to every question opening with Is/Are, "chest" (invalid when closed) otherwise.
    closed_yes = sum(q.metadata.get("gold_option") == "yes" and q.stem.startswith(("Is", "Are"))
                     for q in task.questions if q.metadata["answer_type"] == "closed")
    assert shown["closed_accuracy"] == pytest.approx(closed_yes / 272)
    for key in ("open_exact_match", "open_recall", "open_f1", "closed_accuracy_ci_low"):
        assert isinstance(shown[key], float), key


def test_tiny_vlm_answers_a_vqa_rad_item(tiny_vlm_dir: Path) -> None:
    from medq.models.hf_local import HFLocalModel

    model = HFLocalModel(str(tiny_vlm_dir), device="cpu", max_tokens_default=6)
    assert Capability.VISION in model.capabilities
    result = evaluate(EvalSpec(task="vqa_rad", model=f"hf/{tiny_vlm_dir}", sample=True,
                               strategy="short_answer", limit=3), model=model, progress=False)
    summary = result.summary
    assert summary["n"] == 3 and summary["errors"] == 0 and summary["calls"] == 3
    with Store() as store:
        samples = list(store.samples(result.run_id))
        calls = [store.get_call(k) for s in samples for k in s.call_keys]
    assert all(c is not None and c.request["messages"][1]["images"] for c in calls)
    assert {s.status for s in samples} <= {"ok", "invalid"}
    # Greedy decoding of the same image and question is reproducible.
    again = HFLocalModel(str(tiny_vlm_dir), device="cpu", max_tokens_default=6)
    question = load_task("vqa_rad", sample=True).questions[0]
    request = GenerationRequest((Message("user", question.stem, question.images),))
    first = asyncio.run(again.complete(request)).generations[0].text
    assert asyncio.run(again.complete(request)).generations[0].text == first
    blank = Question("x", question.stem, {}, "yes",
                     images=(Image.from_bytes(_png(255)),))
    other = GenerationRequest((Message("user", blank.stem, blank.images),))
    assert asyncio.run(again.complete(other)).prompt_tokens == asyncio.run(
        again.complete(request)).prompt_tokens


def _png(shade: int) -> bytes:
    from PIL import Image as PILImage

    out = io.BytesIO()
    PILImage.new("RGB", (40, 40), (shade, 0, 0)).save(out, format="PNG")
    return out.getvalue()


def test_views_of_an_item_keep_its_images() -> None:
    # Option shuffles (Medprompt) and probes rebuild the item; its images must go along,
    # or a visual item would be asked blind.
    import random

    from medq.probes.base import apply_probes
    from medq.strategies.medprompt import shuffled

    image = Image.from_bytes(_png(7))
    question = Question("q", "Which?", {"A": "x", "B": "y", "C": "z"}, "B", images=(image,))
    view, _ = shuffled(question, random.Random(0))
    assert view.images == (image,)
    probed = apply_probes([question], ["permute:mode=cyclic", "mask:stem=0.2"], seed=0)
    assert probed.questions and all(q.images == (image,) for q in probed.questions)


def test_a_strategy_that_leaves_the_image_out_stops_the_run(tmp_path: Path) -> None:
    # A strategy that builds its own turns without the images would answer blind.
    from medq.registry import strategies
    from medq.strategies.base import answer_from
    from medq.tasks.base import Task

    def blind_toy(*, seed: int = 0):  # noqa: ANN202
        async def solve(question: Question, model) -> object:  # noqa: ANN001
            request = GenerationRequest((Message("user", question.stem),), seed=seed)
            return answer_from(await model.complete(request), question)

        return solve

    if "blind_toy" not in strategies.names():
        strategies.register("blind_toy", prompts=(), calls_per_item=1)(blind_toy)
    image = Image.from_path(jpeg(tmp_path))
    items = tuple(Question(f"q{i}", "Which?", {"A": "x", "B": "y"}, "A", images=(image,))
                  for i in range(3))
    task = Task("visual_toy", items, "toy", "test", "test")
    model = ScriptedModel(lambda r: "Answer: A", vision=True)
    with pytest.raises(UnsupportedCapabilityError, match="without showing the model 1 of its"):
        evaluate(EvalSpec(task="visual_toy", model="scripted/x", strategy="blind_toy"),
                 model=model, task=task, progress=False)
    result = evaluate(EvalSpec(task="visual_toy", model="scripted/x", strategy="direct"),
                      model=model, task=task, progress=False)
    assert result.summary["accuracy"] == 1.0
