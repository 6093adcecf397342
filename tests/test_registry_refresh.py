"""A registry refresh of many providers: each provider's outcome is its own. One that hangs until its timeout, or
one the refresh cannot even start (a stored kind this version no longer has), holds up and spoils no other."""

from __future__ import annotations

import asyncio

from core.models.registry import get_model
from core.models.sync import refresh
from core.providers import llm
from core.providers.store import add_provider, get_provider
from core.storage.db import session
from core.storage.tables import Provider
from tests.fakes.openai import FakeOpenAI


async def test_a_hanging_provider_does_not_hold_up_the_others_models() -> None:
    # SWITCHBOARD_PROVIDER_TIMEOUT is 3 s in the tests; the hanging server answers its model list long after.
    # litellm (whose metadata fills the models in) is imported first, as a running bot or scheduler has it: its
    # first import alone can take longer than the timeout.
    await asyncio.to_thread(llm.litellm)
    with (
        FakeOpenAI(models=["never-listed"], api_key=None, delay_s=60) as hanging,
        FakeOpenAI(models=["gpt-4o"], api_key=None) as one,
        FakeOpenAI(models=["llama-3.2-3b"], api_key=None, delay_s=0.2) as two,
    ):
        add_provider("hangs", "openai_compatible", base_url=hanging.url + "/v1")
        add_provider("one", "openai_compatible", base_url=one.url + "/v1")
        add_provider("two", "openai_compatible", base_url=two.url + "/v1")
        running = asyncio.create_task(refresh())
        while not (get_model("one/gpt-4o") and get_model("two/llama-3.2-3b")):
            assert not running.done(), "the refresh ended before the other providers' models were stored"
            await asyncio.sleep(0.05)
        assert not running.done()  # both are stored while the hanging provider is still being waited for
        results = {r.provider: r for r in await running}
    assert results["one"].ok and results["two"].ok and results["one"].models == 1
    assert not results["hangs"].ok and results["hangs"].error_kind == "timeout"
    assert get_model("hangs/never-listed") is None
    hung = get_provider("hangs")
    assert hung is not None and hung.last_check_ok is False


def test_a_provider_that_cannot_be_refreshed_fails_alone() -> None:
    with FakeOpenAI(models=["gpt-4o"], api_key=None) as fake:
        add_provider("good", "openai_compatible", base_url=fake.url + "/v1")
        with session(write=True) as s:  # as an older version left it: a kind this version does not know
            s.add(Provider(name="retired", kind="retired-kind", base_url=fake.url + "/v1"))
        results = {r.provider: r for r in asyncio.run(refresh())}
    assert results["good"].ok and get_model("good/gpt-4o") is not None
    assert not results["retired"].ok and results["retired"].error_kind == "internal"
    assert "Unknown provider kind 'retired-kind'" in results["retired"].message
