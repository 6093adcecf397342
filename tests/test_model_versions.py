"""Version tracking for cloud models in use: a model that nears a retirement date litellm knows, or that is gone
from its provider's list, raises one alert for the admins; a thread on a gone model is told what to switch to."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from core import jobs
from core.config.people import Person, set_default
from core.config.prompts import save_preset
from core.config.scopes import ScopeKey, update_scope
from core.models.versions import check_model_versions
from core.snapshot import invalidate
from core.storage.db import session
from core.storage.tables import Alert
from tests.chatkit import CLOUD_KEY, Thread, World, make_world
from tests.fakes.openai import FakeOpenAI

# gpt-5-2025-08-07 retires on 2026-12-11 by litellm's bundled model list; o3-mini retired on 2026-10-23
CLOUD = ["gpt-4o", "gpt-4o-mini", "gpt-5", "gpt-5-2025-08-07", "o3-mini"]


@pytest.fixture
async def world():  # type: ignore[no-untyped-def]
    with (
        FakeOpenAI(models=CLOUD, api_key=CLOUD_KEY) as cloud,
        FakeOpenAI(models=["llama-big"], api_key=None) as local,
    ):
        yield await make_world(cloud, local)


def model_alerts() -> list[Alert]:
    with session() as s:
        return list(s.exec(select(Alert).where(Alert.kind == "model")).all())


async def test_a_model_nearing_its_retirement_date_raises_one_alert(world: World) -> None:
    update_scope(ScopeKey("console", "W1", "C1"), default_model="oa/gpt-5-2025-08-07")
    assert check_model_versions(today=date(2026, 6, 1)) == []  # months away: nothing yet
    assert model_alerts() == []

    (raised,) = check_model_versions(today=date(2026, 11, 20))
    assert raised.model == "oa/gpt-5-2025-08-07" and raised.reason == "retiring"
    (alert,) = model_alerts()
    assert "oa/gpt-5-2025-08-07 is due to be retired on 2026-12-11 (in 21 days)" in alert.text
    assert "used by the default of channel C1" in alert.text
    assert "A close replacement: oa/gpt-5." in alert.text  # not itself, and not a model retiring too
    assert alert.provider == "oa"  # closed with its provider if the provider is removed

    assert check_model_versions(today=date(2026, 11, 25)) == []  # once
    await jobs.refresh_registry()  # the scheduler's run (today's date): still the same one alert
    assert len(model_alerts()) == 1  # o3-mini retired too, but nothing uses it: no alert


async def test_a_model_gone_from_its_provider_raises_one_alert_and_its_thread_is_told(world: World) -> None:
    update_scope(ScopeKey("console", "W1", ""), default_model="oa/gpt-4o-mini")
    save_preset("terse", "oa/gpt-4o-mini", "Answer in one line.")
    set_default(Person("console", "W2", "U9"), "oa/gpt-4o-mini")
    thread = Thread()
    first = await thread.say("hello")
    assert first.footer.startswith("oa/gpt-4o-mini · ")  # the thread now keeps this model

    world.cloud.models_status = 500  # an outage is not a removal
    await world.refresh()
    assert check_model_versions() == []
    world.cloud.models_status = 200

    world.cloud.models = [m for m in CLOUD if m != "gpt-4o-mini"]
    await world.refresh()
    (raised,) = check_model_versions()
    assert raised.reason == "gone"
    (alert,) = model_alerts()
    assert "oa/gpt-4o-mini is gone from the list of provider 'oa'" in alert.text
    assert "the default of workspace W1" in alert.text and "preset 'terse'" in alert.text
    assert "the personal default of 1 person" in alert.text
    assert "A close replacement: oa/gpt-4o." in alert.text
    assert check_model_versions() == [] and len(model_alerts()) == 1

    invalidate()
    said = await thread.say("are you there?")
    assert said.replies and said.replies[0].kind == "refusal"
    assert "This thread's model, oa/gpt-4o-mini, can't be used" in said.text
    assert "it is gone from the provider's list" in said.text
    assert "`oa/gpt-4o`" in said.text  # a replacement the user can pick
