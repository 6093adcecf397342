"""The Ollama page against a loopback fake Ollama: installed models and free disk, the library with search,
installs that run as background jobs with progress read from the database, cancel, updates and removal."""

from __future__ import annotations

from core.models.registry import get_model
from core.ollama import JobView, dismiss_job, get_job, list_jobs, without_cli_advice
from core.ollama.catalog import unknown_model_text
from core.ollama.pull_jobs import create_job, finish
from tests.adminkit import AdminApp
from tests.fakes.ollama import FakeOllama
from tests.ollamakit import local_ollama, slow_pulls, wait_for

__all__ = ["local_ollama"]  # the fixture, imported for pytest


def install_option(admin: AdminApp, model: str) -> str:
    return next(o for o in admin.selectbox_options("Model to install") if o.startswith(f"{model} ("))


def finished(job_id: int) -> JobView | None:
    job = get_job(job_id)
    return job if job is not None and not job.active else None


def test_installed_models_and_free_disk(local_ollama: FakeOllama) -> None:
    admin = AdminApp.signed_in().open("ollama")
    installed = admin.table_with("quantization")
    assert installed["model"].tolist() == ["llama3.2:1b"]
    assert installed.loc[0, "size"] == "1.3 GB" and installed.loc[0, "parameters"] == "1.2B"
    assert admin.metric("Installed models") == "1"
    assert admin.metric("Free disk").endswith("GB")


def test_search_the_library_and_install_with_progress_to_100_percent(local_ollama: FakeOllama) -> None:
    admin = AdminApp.signed_in().open("ollama")
    admin.fill("Search the library", "qwen").run()
    library = admin.table_with("capabilities")
    assert "qwen2.5" in library["model"].tolist() and all("qwen" in m for m in library["model"])

    admin.choose("Model to install", install_option(admin, "qwen2.5:0.5b")).run()
    admin.click("Install")
    (job,) = list_jobs()
    assert job.model == "qwen2.5:0.5b" and job.requested_by == "admin:admin"
    done = wait_for(lambda: finished(job.id))
    assert isinstance(done, JobView) and done.status == "done"

    admin.run()
    assert (100, f"qwen2.5:0.5b: 100% · {done.detail}") in admin.progress()
    assert "qwen2.5:0.5b" in admin.table_with("quantization")["model"].tolist()
    assert get_model("local/qwen2.5:0.5b") is not None


def test_a_running_download_shows_bytes_percent_and_can_be_cancelled(local_ollama: FakeOllama) -> None:
    slow_pulls(local_ollama, seconds_per_gb=20)
    admin = AdminApp.signed_in().open("ollama")
    admin.choose("Model to install", install_option(admin, "llama3.2:3b")).run()
    admin.click("Install")
    (job,) = list_jobs()
    wait_for(lambda: (get_job(job.id) or job).completed_bytes > 0)

    admin.run()
    ((percent, text),) = admin.progress()
    assert text.startswith("llama3.2:3b: downloading") and " of 2.0 GB (" in text and "%)" in text
    assert 0 <= percent < 100

    admin.click("Cancel")
    cancelled = get_job(job.id)
    assert cancelled is not None and cancelled.status == "cancelled"
    admin.run()
    assert any(i.startswith("**llama3.2:3b**: cancelled ") and "Cancelled" in i for i in admin.infos)
    assert local_ollama.partial_files() == []

    admin.click("Dismiss")  # a finished download can be cleared from the list
    assert get_job(job.id) is None
    admin.run()
    assert not any("llama3.2:3b" in i for i in admin.infos)


def test_remove_needs_confirmation_and_updates_the_registry(local_ollama: FakeOllama) -> None:
    admin = AdminApp.signed_in().open("ollama")
    assert admin.button("Remove model").disabled
    admin.tick("Yes, delete llama3.2:1b from 'local'").run()
    admin.click("Remove model")
    assert admin.successes and admin.successes[0].startswith("Removed llama3.2:1b from 'local'")
    assert local_ollama.installed_digest("llama3.2:1b") is None
    assert get_model("local/llama3.2:1b") is None
    assert "Nothing installed yet." in admin.text()


def test_update_check_offline_says_unknown_and_update_all_repulls(local_ollama: FakeOllama) -> None:
    admin = AdminApp.signed_in().open("ollama")
    admin.click("Check for updates")
    checks = admin.table_with("update")
    assert checks.loc[0, "model"] == "llama3.2:1b"
    assert checks.loc[0, "update"].startswith("unknown (offline: network checks are off")

    admin.click("Update all")
    (job,) = list_jobs()
    assert job.action == "update" and job.model == "llama3.2:1b"
    done = wait_for(lambda: finished(job.id))
    assert isinstance(done, JobView) and done.status == "done"


def test_a_bad_size_filter_is_explained(local_ollama: FakeOllama) -> None:
    admin = AdminApp.signed_in().open("ollama")
    admin.fill("Max size", "lots").run()
    assert admin.errors == ["'lots' is not a size: use e.g. 4GB or 500MB."]


def test_messages_for_the_web_page_do_not_contradict_or_give_cli_advice() -> None:
    listed_but_gone = unknown_model_text("llama3.2:1b")  # the catalog lists it; the registry said "unknown"
    assert "has no tag" not in listed_but_gone and "does not serve `llama3.2:1b`" in listed_but_gone
    assert "`llama3.2:1b`" not in listed_but_gone.split("Other tags it lists:")[-1]
    assert "`llama3.2:3b`" in listed_but_gone
    typo = unknown_model_text("lama3.2")
    assert "`switchboard ollama library TEXT`" in typo  # the CLI and chat keep their advice...
    web = without_cli_advice(typo)  # ...the web page does not
    assert "switchboard" not in web and web.startswith("There is no model called 'lama3.2'") and web.endswith("?")
    disk = "Free some space (`switchboard ollama rm NAME` removes a model), then pull again. Pass --force to try."
    assert without_cli_advice(disk) == "Free some space, then pull again."


def test_dismissing_keeps_running_jobs_on_sqlite_and_postgresql(any_db: str) -> None:
    queued = {"action": "pull", "requested_by": "admin:admin", "detail": "queued", "total_bytes": 0}
    done = create_job("local", "qwen2.5:0.5b", **queued)[0]  # type: ignore[arg-type]
    finish(done.id, "failed", "failed", error="boom")
    running = create_job("local", "llama3.2:3b", **queued)[0]  # type: ignore[arg-type]
    assert dismiss_job(running.id) is False and get_job(running.id) is not None
    assert dismiss_job(done.id) is True and get_job(done.id) is None
    assert dismiss_job(done.id) is False
