"""The fake Ollama server, driven by the real `ollama` client and litellm, checked as they see it."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import time
from collections import defaultdict
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import ollama
import pytest

from tests.fakes.ollama import FakeOllama, LibraryModel, default_library

# Must be set before litellm is imported (it is imported lazily, in the test that uses it).
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeOllama]:
    with FakeOllama(tmp_path / "models", tick_s=0.01) as server:
        yield server


@pytest.fixture
async def client(fake: FakeOllama) -> AsyncIterator[ollama.AsyncClient]:
    c = ollama.AsyncClient(host=fake.url)
    yield c
    await c.close()


async def collect_pull(client: ollama.AsyncClient, model: str) -> list[tuple[float, ollama.ProgressResponse]]:
    t0 = time.monotonic()
    return [(time.monotonic() - t0, p) async for p in await client.pull(model, stream=True)]


def by_digest(events: list[ollama.ProgressResponse]) -> dict[str, list[ollama.ProgressResponse]]:
    lines: dict[str, list[ollama.ProgressResponse]] = defaultdict(list)
    for p in events:
        if p.digest:
            lines[p.digest].append(p)
    return lines


# -- basics --------------------------------------------------------------------------------------------------


async def test_root_version_and_raw_wire_format(fake: FakeOllama) -> None:
    async with httpx.AsyncClient(base_url=fake.url) as http:
        root = await http.get("/")
        assert (root.status_code, root.text) == (200, "Ollama is running")
        assert (await http.get("/api/version")).json() == {"version": fake.version}
        # Pull streams NDJSON with compact lines, like Go's encoding/json.
        async with http.stream("POST", "/api/pull", json={"model": "qwen2.5:0.5b"}) as resp:
            assert resp.headers["content-type"] == "application/x-ndjson"
            lines = [line async for line in resp.aiter_lines()]
        assert lines[0] == '{"status":"pulling manifest"}'
        assert lines[-1] == '{"status":"success"}'


async def test_tags_lists_installed_models_with_manifest_digest(fake: FakeOllama, client: ollama.AsyncClient) -> None:
    listed = (await client.list()).models
    assert [m.model for m in listed] == ["llama3.2:1b"]
    entry = listed[0]
    manifest_file = fake.models_dir / "manifests/registry.ollama.ai/library/llama3.2/1b"
    assert entry.digest == hashlib.sha256(manifest_file.read_bytes()).hexdigest()
    assert entry.size == sum(layer.size for layer in fake.layers("llama3.2:1b"))
    assert entry.size > 1_000_000_000  # reported at full scale
    assert entry.modified_at is not None and entry.modified_at.tzinfo is not None
    assert entry.details is not None
    assert (entry.details.family, entry.details.parameter_size, entry.details.quantization_level) == (
        "llama",
        "1.2B",
        "Q8_0",
    )
    assert entry.details.format == "gguf" and entry.details.families == ["llama"]


async def test_tags_is_an_empty_list_not_null(tmp_path: Path) -> None:
    with FakeOllama(tmp_path / "empty", installed=()) as empty:
        async with httpx.AsyncClient(base_url=empty.url) as http:
            assert (await http.get("/api/tags")).json() == {"models": []}


async def test_show_reports_context_length_and_capabilities(tmp_path: Path) -> None:
    library = {"tiny:ctx": LibraryModel("qwen2", "1B", "Q4_K_M", 900_000_000, context_length=2048)}
    with FakeOllama(tmp_path / "m", library=library, installed=["tiny:ctx"]) as server:
        server.library["llava:7b"] = default_library()["llava:7b"]
        server.install("llava:7b")
        client = ollama.AsyncClient(host=server.url)
        shown = await client.show("tiny:ctx")
        assert shown.modelinfo is not None
        assert shown.modelinfo["qwen2.context_length"] == 2048
        assert shown.modelinfo["general.architecture"] == "qwen2"
        assert shown.capabilities == ["completion", "tools"]
        assert shown.details is not None and shown.details.parameter_size == "1B"
        assert shown.template and shown.modelfile and "PARAMETER stop" in shown.modelfile
        assert shown.modified_at is not None
        vision = await client.show("llava:7b")
        assert vision.capabilities == ["completion", "vision"]
        assert vision.modelinfo is not None and vision.modelinfo["llama.context_length"] == 32768

        # Old clients send `name` instead of `model`.
        async with httpx.AsyncClient(base_url=server.url) as http:
            legacy = await http.post("/api/show", json={"name": "tiny:ctx"})
            assert legacy.status_code == 200 and legacy.json()["model_info"]["qwen2.context_length"] == 2048

        with pytest.raises(ollama.ResponseError) as err:
            await client.show("nope:1b")
        assert (err.value.status_code, err.value.error) == (404, "model 'nope:1b' not found")
        await client.close()


async def test_delete_removes_manifest_and_unshared_blobs(fake: FakeOllama, client: ollama.AsyncClient) -> None:
    fake.install("qwen2.5:0.5b")
    llama = {layer.digest for layer in fake.layers("llama3.2:1b")}
    qwen = {layer.digest for layer in fake.layers("qwen2.5:0.5b")}
    shared = llama & qwen  # e.g. the license text
    assert shared

    result = await client.delete("llama3.2:1b")
    assert result.status == "success"
    assert [m.model for m in (await client.list()).models] == ["qwen2.5:0.5b"]
    assert not (fake.models_dir / "manifests/registry.ollama.ai/library/llama3.2").exists()
    assert all(fake.blob_path(d).exists() == (d in shared) for d in llama)

    with pytest.raises(ollama.ResponseError) as err:
        await client.delete("llama3.2:1b")
    assert (err.value.status_code, err.value.error) == (404, "model 'llama3.2:1b' not found")
    async with httpx.AsyncClient(base_url=fake.url) as http:
        assert (await http.request("DELETE", "/api/delete", json={"model": "qwen2.5:0.5b"})).content == b""


# -- pull ----------------------------------------------------------------------------------------------------


async def test_pull_streams_timed_progress_per_layer(fake: FakeOllama, client: ollama.AsyncClient) -> None:
    # llava:7b is 4.1 GB weights + 0.6 GB projector: ~19 + 3 ticks of 50 ms, about 1.2 s in all.
    fake.bytes_per_tick, fake.tick_s = 250_000_000, 0.05
    timed = await collect_pull(client, "llava:7b")
    events = [p for _, p in timed]
    statuses = [p.status for p in events]

    assert statuses[0] == "pulling manifest"
    assert statuses[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    assert "removing unused layers" not in statuses
    assert timed[-1][0] > 0.8  # progress really is spread over time

    layers = fake.layers("llava:7b")
    lines = by_digest(events)
    assert list(lines) == [layer.digest for layer in layers]  # manifest order, config last
    for layer in layers:
        progress = lines[layer.digest]
        assert all(p.status == f"pulling {layer.digest[7:19]}" and p.total == layer.size for p in progress)
        completed = [p.completed or 0 for p in progress]
        assert completed == sorted(completed) and completed[-1] == layer.size
    weights, projector = lines[layers[0].digest], lines[layers[1].digest]
    assert len(weights) >= 15 and len(projector) >= 3
    assert weights[0].completed == 250_000_000
    assert weights[-1].total == 4_113_289_024
    # Timed: the weights layer's progress lines arrive over most of a second.
    weight_times = [t for t, p in timed if p.digest == layers[0].digest]
    assert weight_times[-1] - weight_times[0] > 0.6
    # The template/license/params blobs are shared with the installed llama3.2:1b: reported once, complete.
    shared = {layer.digest for layer in fake.layers("llama3.2:1b")}
    for layer in layers:
        if layer.digest in shared:
            assert [(p.completed, p.total) for p in lines[layer.digest]] == [(layer.size, layer.size)]

    # Ollama's disk layout: whole blobs named by digest, the registry manifest bytes, no partials.
    for layer in layers:
        assert hashlib.sha256(fake.blob_path(layer.digest).read_bytes()).hexdigest() == layer.digest[7:]
    manifest_file = fake.models_dir / "manifests/registry.ollama.ai/library/llava/7b"
    assert manifest_file.read_bytes() == fake.manifest_bytes("llava:7b")
    assert fake.partial_files() == []
    assert {m.model for m in (await client.list()).models} == {"llava:7b", "llama3.2:1b"}


async def test_pull_of_unknown_model_fails_mid_stream(client: ollama.AsyncClient) -> None:
    seen = []
    with pytest.raises(ollama.ResponseError) as err:
        async for p in await client.pull("nosuchmodel:7b", stream=True):
            seen.append(p.status)
    assert seen == ["pulling manifest"]  # HTTP 200, then an error line
    assert (err.value.status_code, err.value.error) == (-1, "pull model manifest: file does not exist")


async def test_pull_without_streaming(fake: FakeOllama, client: ollama.AsyncClient) -> None:
    done = await client.pull("qwen2.5:0.5b", stream=False)
    assert done.status == "success"
    assert "qwen2.5:0.5b" in {m.model for m in (await client.list()).models}
    with pytest.raises(ollama.ResponseError) as err:
        await client.pull("nosuchmodel:7b", stream=False)
    assert (err.value.status_code, err.value.error) == (500, "pull model manifest: file does not exist")


@pytest.mark.parametrize("name", ["bad name", "llama3.2:1b!", "-x", "a/b/c/d:e:f"])
async def test_pull_rejects_invalid_names(client: ollama.AsyncClient, name: str) -> None:
    with pytest.raises(ollama.ResponseError) as err:
        await client.pull(name, stream=True).__anext__() if False else await anext(await client.pull(name, stream=True))
    assert (err.value.status_code, err.value.error) == (400, "invalid model name")
    with pytest.raises(ollama.ResponseError) as err:
        await client.pull(name, stream=False)
    assert (err.value.status_code, err.value.error) == (400, "invalid model name")


async def test_cancelled_pull_keeps_partial_file_and_next_pull_resumes(
    fake: FakeOllama, client: ollama.AsyncClient
) -> None:
    fake.bytes_per_tick, fake.tick_s = 100_000_000, 0.03
    weights = fake.layers("llama3.2:3b")[0]
    last_seen = 0
    stream = await client.pull("llama3.2:3b", stream=True)
    async for p in stream:
        if p.digest == weights.digest and p.completed:
            last_seen = p.completed
            if last_seen >= 500_000_000:
                break
    assert isinstance(stream, AsyncGenerator)
    await stream.aclose()  # closes the HTTP connection, as a UI's cancel button would

    part_file = Path(f"{fake.blob_path(weights.digest)}-partial-0")

    def saved_progress() -> int:  # the `-partial-N` file real Ollama resumes from
        try:
            return int(json.loads(part_file.read_text())["Completed"])
        except ValueError:  # caught mid-write
            return 0

    deadline = time.monotonic() + 3
    while saved_progress() == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    saved = saved_progress()
    assert 0 < saved < len(weights.data)
    assert Path(f"{fake.blob_path(weights.digest)}-partial").exists()
    assert not fake.blob_path(weights.digest).exists()
    assert "llama3.2:3b" not in {m.model for m in (await client.list()).models}
    await asyncio.sleep(0.15)  # the server stopped: progress does not move any more
    assert saved_progress() == saved

    events = [p for _, p in await collect_pull(client, "llama3.2:3b")]
    resumed = by_digest(events)[weights.digest]
    assert resumed[0].completed is not None and resumed[0].completed > last_seen  # did not start from zero
    assert resumed[-1].completed == weights.size
    assert events[-1].status == "success"
    assert fake.partial_files() == []
    blob = fake.blob_path(weights.digest).read_bytes()
    assert hashlib.sha256(blob).hexdigest() == weights.digest[7:]  # resumed bytes are the right bytes


async def test_full_disk_fails_mid_pull_with_enospc_text(fake: FakeOllama, client: ollama.AsyncClient) -> None:
    weights = fake.layers("llama3.2:3b")[0]
    fake.disk_free_bytes = 600_000_000
    progress = []
    with pytest.raises(ollama.ResponseError) as err:
        async for p in await client.pull("llama3.2:3b", stream=True):
            progress.append(p)
    partial = f"{fake.blob_path(weights.digest)}-partial"
    assert err.value.status_code == -1
    assert err.value.error == f"write {partial}: no space left on device"
    assert [p.completed for p in progress if p.digest] == [250_000_000, 500_000_000]
    assert Path(partial).exists()

    with pytest.raises(ollama.ResponseError) as err:
        await client.pull("llama3.2:3b", stream=False)
    assert (err.value.status_code, err.value.error) == (500, f"write {partial}: no space left on device")

    fake.disk_free_bytes = None  # the user freed some space
    assert (await client.pull("llama3.2:3b", stream=False)).status == "success"


async def test_offline_server_cannot_fetch_manifest(fake: FakeOllama, client: ollama.AsyncClient) -> None:
    fake.offline = True
    with pytest.raises(ollama.ResponseError) as err:
        async for _ in await client.pull("qwen2.5:0.5b", stream=True):
            pass
    assert err.value.error.startswith('pull model manifest: Get "https://registry.ollama.ai/v2/library/qwen2.5/')
    assert err.value.error.endswith("no such host")


# -- update via the registry ---------------------------------------------------------------------------------


async def test_update_flow_via_registry_manifest(fake: FakeOllama, client: ollama.AsyncClient) -> None:
    async def registry_digest() -> str:
        async with httpx.AsyncClient(base_url=fake.registry_url) as http:
            resp = await http.get(
                "/v2/library/llama3.2/manifests/1b",
                headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
            )
        assert resp.status_code == 200
        assert resp.headers["content-type"] == "application/vnd.docker.distribution.manifest.v2+json"
        return hashlib.sha256(resp.content).hexdigest()

    def local_digest(models: Sequence[ollama.ListResponse.Model]) -> str | None:
        return next(m.digest for m in models if m.model == "llama3.2:1b")

    assert local_digest((await client.list()).models) == await registry_digest()  # up to date

    old = {layer.digest for layer in fake.layers("llama3.2:1b")}
    fake.publish_update("llama3.2:1b")
    new_layers = fake.layers("llama3.2:1b")
    assert local_digest((await client.list()).models) != await registry_digest()  # update available

    events = [p for _, p in await collect_pull(client, "llama3.2:1b")]
    lines = by_digest(events)
    changed = [layer for layer in new_layers if layer.digest not in old]
    unchanged = [layer for layer in new_layers if layer.digest in old]
    assert {layer.media_type for layer in changed} == {
        "application/vnd.ollama.image.model",
        "application/vnd.docker.container.image.v1+json",  # the config lists layer digests, so it changes too
    }
    assert len(lines[new_layers[0].digest]) > 1  # the new weights really download
    for layer in unchanged:
        assert [(p.completed, p.total) for p in lines[layer.digest]] == [(layer.size, layer.size)]
    assert [p.status for p in events][-4:] == [
        "verifying sha256 digest",
        "writing manifest",
        "removing unused layers",
        "success",
    ]
    assert local_digest((await client.list()).models) == await registry_digest()
    assert not any(fake.blob_path(d).exists() for d in old - {layer.digest for layer in new_layers})

    async with httpx.AsyncClient(base_url=fake.registry_url) as http:
        missing = await http.get("/v2/library/nosuchmodel/manifests/latest")
    assert missing.status_code == 404


# -- inference -----------------------------------------------------------------------------------------------


async def test_chat_streams_chunks_and_final_metrics(fake: FakeOllama, client: ollama.AsyncClient) -> None:
    chunks = [
        c
        async for c in await client.chat(
            "llama3.2:1b", messages=[{"role": "user", "content": "ping pong"}], stream=True
        )
    ]
    assert all(not c.done for c in chunks[:-1]) and chunks[-1].done
    text = "".join(c.message.content or "" for c in chunks)
    assert text == "[llama3.2:1b] You said: ping pong"
    final = chunks[-1]
    assert final.done_reason == "stop"
    assert final.eval_count == len(chunks) - 1
    assert final.prompt_eval_count and final.prompt_eval_count > 0
    for duration in (
        final.total_duration,
        final.load_duration,
        final.prompt_eval_duration,
        final.eval_duration,
    ):
        assert duration is not None and duration > 0

    fake.reply, fake.token_delay_s = "one two three four five", 0.05
    t0 = time.monotonic()
    whole = await client.chat("llama3.2:1b", messages=[{"role": "user", "content": "x"}], stream=False)
    assert time.monotonic() - t0 >= 0.2
    assert whole.message.content == "one two three four five" and whole.done and whole.eval_count == 5

    with pytest.raises(ollama.ResponseError) as err:
        await client.chat("nosuchmodel", messages=[{"role": "user", "content": "x"}])
    assert (err.value.status_code, err.value.error) == (404, "model 'nosuchmodel' not found")


async def test_chat_with_tools_needs_the_tools_capability(fake: FakeOllama, client: ollama.AsyncClient) -> None:
    fake.install("llava:7b")
    tool = {"type": "function", "function": {"name": "now", "description": "time", "parameters": {}}}
    with pytest.raises(ollama.ResponseError) as err:
        await client.chat("llava:7b", messages=[{"role": "user", "content": "x"}], tools=[tool])
    assert (err.value.status_code, err.value.error) == (
        400,
        "registry.ollama.ai/library/llava:7b does not support tools",
    )
    fake.reply = lambda body: {"tool_calls": [{"function": {"name": "now", "arguments": {}}}]}
    resp = await client.chat("llama3.2:1b", messages=[{"role": "user", "content": "x"}], tools=[tool])
    assert resp.message.tool_calls and resp.message.tool_calls[0].function.name == "now"


async def test_chat_error_after_the_stream_started(fake: FakeOllama, client: ollama.AsyncClient) -> None:
    fake.fail_after_chunks = 2
    seen = []
    with pytest.raises(ollama.ResponseError) as err:
        async for chunk in await client.chat("llama3.2:1b", messages=[{"role": "user", "content": "a"}], stream=True):
            seen.append(chunk.message.content)
    assert seen == ["[llama3.2:1b]", " You"]
    assert (err.value.status_code, err.value.error) == (-1, fake.fail_message)
    with pytest.raises(ollama.ResponseError) as err:
        await client.chat("llama3.2:1b", messages=[{"role": "user", "content": "a"}], stream=False)
    assert (err.value.status_code, err.value.error) == (500, fake.fail_message)


async def test_generate_streams_response_text(client: ollama.AsyncClient) -> None:
    parts = [p async for p in await client.generate("llama3.2:1b", prompt="hello there", stream=True)]
    assert "".join(p.response or "" for p in parts) == "[llama3.2:1b] You said: hello there"
    assert parts[-1].done and parts[-1].eval_count and parts[-1].prompt_eval_count
    with pytest.raises(ollama.ResponseError) as err:
        await client.generate("nosuchmodel:1b", prompt="x")
    assert (err.value.status_code, err.value.error) == (404, "model 'nosuchmodel:1b' not found")


async def test_ps_lists_models_loaded_by_chat(fake: FakeOllama, client: ollama.AsyncClient) -> None:
    assert (await client.ps()).models == []
    await client.chat(
        "llama3.2:1b",
        messages=[{"role": "user", "content": "hi"}],
        options={"num_ctx": 8192},
        keep_alive="10m",
    )
    loaded = (await client.ps()).models
    assert [m.model for m in loaded] == ["llama3.2:1b"]
    entry = loaded[0]
    assert entry.context_length == 8192
    assert entry.size_vram == entry.size and entry.size and entry.size > 1_000_000_000
    assert entry.expires_at is not None
    remaining = entry.expires_at - datetime.now(entry.expires_at.tzinfo)
    assert timedelta(minutes=9) < remaining <= timedelta(minutes=10)
    assert entry.digest == fake.installed_digest("llama3.2:1b")

    # keep_alive=0 with no messages unloads, as `ollama stop` does.
    unloaded = await client.chat("llama3.2:1b", messages=[], keep_alive=0)
    assert unloaded.done_reason == "unload"
    assert (await client.ps()).models == []


# -- server down ---------------------------------------------------------------------------------------------


async def test_server_down_then_back_on_the_same_port(fake: FakeOllama, client: ollama.AsyncClient) -> None:
    url = fake.url
    with fake.down():
        with pytest.raises(ConnectionError, match="Failed to connect to Ollama"):
            await client.list()
        # Streaming calls in ollama 0.6.x do not translate the connect error.
        with pytest.raises(httpx.ConnectError):
            async for _ in await client.pull("qwen2.5:0.5b", stream=True):
                pass
    assert fake.url == url
    assert [m.model for m in (await client.list()).models] == ["llama3.2:1b"]


def test_fixed_port_is_kept_across_restarts(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with FakeOllama(tmp_path / "m", port=port, installed=()) as server:
        assert server.url == f"http://127.0.0.1:{port}"
        server.stop()
        with pytest.raises(httpx.ConnectError):
            httpx.get(server.url)
        server.start()
        assert httpx.get(server.url).text == "Ollama is running"


async def test_server_dying_mid_pull_breaks_the_stream(fake: FakeOllama, client: ollama.AsyncClient) -> None:
    fake.bytes_per_tick, fake.tick_s = 100_000_000, 0.03
    with pytest.raises(httpx.RemoteProtocolError):
        async for p in await client.pull("llama3.2:3b", stream=True):
            if p.completed and p.completed >= 300_000_000:
                await asyncio.to_thread(fake.stop)
    assert len(fake.partial_files()) == 2  # data file + progress file survive the crash
    fake.start()
    assert (await client.pull("llama3.2:3b", stream=False)).status == "success"


# -- litellm -------------------------------------------------------------------------------------------------


async def test_litellm_streams_a_chat_turn(fake: FakeOllama) -> None:
    import litellm

    stream = await litellm.acompletion(
        model="ollama_chat/llama3.2:1b",
        api_base=fake.url,
        messages=[{"role": "user", "content": "hello from litellm"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage = "", None
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
        usage = getattr(chunk, "usage", None) or usage
    assert text == "[llama3.2:1b] You said: hello from litellm"
    assert usage is not None and usage.completion_tokens == 6 and usage.prompt_tokens > 0
    sent = fake.calls("/api/chat", "POST")[-1].json()
    assert sent["model"] == "llama3.2:1b" and sent["stream"] is True


async def test_litellm_sees_failures_as_its_exception_types(fake: FakeOllama) -> None:
    import litellm

    async def chat(model: str) -> str:
        stream = await litellm.acompletion(
            model=model, api_base=fake.url, messages=[{"role": "user", "content": "hi"}], stream=True
        )
        return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

    with pytest.raises(litellm.exceptions.NotFoundError, match="model 'nosuchmodel:1b' not found"):
        await chat("ollama_chat/nosuchmodel:1b")
    fake.fail_after_chunks = 1
    with pytest.raises(litellm.exceptions.BadRequestError, match="model runner has unexpectedly stopped"):
        await chat("ollama_chat/llama3.2:1b")  # litellm 1.x cannot parse the error line
    fake.fail_after_chunks = None
    with fake.down(), pytest.raises(litellm.exceptions.APIConnectionError):
        await chat("ollama_chat/llama3.2:1b")
