"""Ollama: installed models and free disk, the library browser, installs with live progress (a background job
whose progress is read from the database), cancel, updates and removal."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from admin import auth, sync, ui
from core import formatting as fmt
from core.ollama import (
    JobView,
    LibraryEntry,
    OllamaError,
    PullStart,
    Server,
    ServerModels,
    browse_library,
    cancel_pull,
    check_updates,
    dismiss_job,
    list_installed,
    list_jobs,
    parse_size,
    remove_model,
    run_job,
    servers,
    start_pull,
    start_updates,
    without_cli_advice,
)
from core.ollama.catalog import CAPABILITIES
from core.ollama.servers import disk_note

REFRESH_EVERY = timedelta(seconds=1)
SEEN_ACTIVE = "_ollama_seen_active"


def start_jobs(starts: list[PullStart]) -> None:
    """Run the jobs just queued in the background; progress is read back from the database."""
    for start in starts:
        if start.created:
            sync.spawn(run_job(start.job.id))
        for warning in start.warnings:
            st.warning(without_cli_advice(warning))


def install(model: str, server: Server) -> bool:
    """Queue a pull of any `name[:tag]` (the library's own check refuses a name it does not have). True when a
    download is under way."""
    try:
        start = sync.run(start_pull(model, server.name, requested_by=auth.who()))
    except OllamaError as exc:
        st.error(without_cli_advice(str(exc)))
        return False
    start_jobs([start])
    if start.created:
        st.toast(f"Installing {start.job.model} on '{server.name}'…")
    else:
        st.info(f"{start.job.model} is already being downloaded (job {start.job.id}).")
    return True


# ---------------------------------------------------------------- downloads (refreshes on its own)


def active_job(job: JobView) -> None:
    c1, c2 = st.columns([6, 1])
    c1.progress(min(1.0, (job.percent or 0) / 100), text=f"{job.model}: {fmt.pull_progress(job)}")
    if c2.button("Cancel", key=f"cancel-{job.id}", disabled=job.cancel_requested):
        with ui.user_errors():
            final = sync.run(cancel_pull(job.id, wait_s=5.0))
            st.toast(final.detail or f"Cancelled {job.model}.")


RETRY_ERROR = "_ollama_retry_error"


def retry(job: JobView, server: Server) -> None:
    """Button callback: queue the same pull again; the failed entry goes once the new one is under way."""
    try:
        start = sync.run(start_pull(job.model, server.name, requested_by=auth.who()))
    except OllamaError as exc:
        st.session_state[RETRY_ERROR] = (job.id, without_cli_advice(str(exc)))
        return
    if start.created:
        sync.spawn(run_job(start.job.id))
    dismiss_job(job.id)


def dismiss(job_id: int) -> None:
    """Button callback: clear a finished download from the list."""
    dismiss_job(job_id)


def finished_job(job: JobView, server: Server) -> None:
    """A finished download: done reads as a full bar; a failed or cancelled one can be retried or dismissed."""
    if job.status == "done":
        c1, c2 = st.columns([3, 1], vertical_alignment="center")
        c1.progress(1.0, text=f"{job.model}: 100% · {job.detail}")
        c2.button("Dismiss", key=f"dismiss-{job.id}", icon=":material/close:", on_click=dismiss, args=(job.id,))
        return
    why = without_cli_advice(job.error or job.detail or "")
    what = "cancelled" if job.status == "cancelled" else f"{job.action} failed"
    text = f"**{job.model}**: {what} {fmt.ago(job.finished_at)}" + (f". {why}" if why and why != "cancelled" else "")
    c1, buttons = st.columns([3, 2], vertical_alignment="center")
    c2 = c3 = buttons.container(horizontal=True)
    if job.status == "cancelled":
        c1.info(text, icon=":material/stop_circle:")
    else:
        c1.error(text, icon=":material/error:")
    c2.button("Retry", key=f"retry-{job.id}", icon=":material/refresh:", on_click=retry, args=(job, server))
    c3.button("Dismiss", key=f"dismiss-{job.id}", icon=":material/close:", on_click=dismiss, args=(job.id,))
    failed_retry = st.session_state.get(RETRY_ERROR)
    if failed_retry is not None and failed_retry[0] == job.id:
        st.warning(f"Retry of {job.model} refused: {failed_retry[1]}")


@st.fragment(run_every=REFRESH_EVERY)
def downloads(server: Server) -> None:
    auth.require_fresh_login()
    jobs = list_jobs(provider=server.name, limit=8)
    active = [j for j in jobs if j.active]
    st.subheader("Downloads")
    if not jobs:
        st.caption("No downloads yet. Install a model from the library below.")
    for job in active:
        active_job(job)
    for job in [j for j in jobs if not j.active][:3]:
        finished_job(job, server)
    # When a download this page watched has finished, refresh the whole page: the installed list changed.
    seen: set[int] = st.session_state.get(SEEN_ACTIVE, set())
    now_active = {j.id for j in active}
    st.session_state[SEEN_ACTIVE] = now_active
    if seen - now_active:
        st.rerun(scope="app")


# ---------------------------------------------------------------- installed models


def installed_section(listing: ServerModels, server: Server) -> None:
    st.subheader("Installed")
    c1, c2 = st.columns(2)
    c1.metric("Installed models", len(listing.models), help=f"{fmt.size(listing.total_bytes)} in total")
    if listing.disk is not None:
        c2.metric("Free disk", fmt.size(listing.disk.free_bytes), help=disk_note(server, listing.disk))
    else:
        c2.metric("Free disk", "unknown", help=disk_note(server, None))
    if not listing.reachable:
        st.error(listing.error or f"The Ollama server at {server.host} is not reachable.")
        return
    if not listing.models:
        st.caption("Nothing installed yet.")
        return
    st.dataframe(
        [
            {
                "model": m.name,
                "size": fmt.size(m.size_bytes),
                "family": m.family or "",
                "parameters": m.parameter_size or "",
                "quantization": m.quantization or "",
                "modified": fmt.ago(m.modified_at),
                "last used": fmt.ago(m.last_used_at),
                "loaded": "yes" if m.loaded else "",
            }
            for m in listing.models
        ],
        hide_index=True,
        column_config={"model": st.column_config.TextColumn(pinned=True, width="medium")},
    )
    names = [m.name for m in listing.models]
    c1, buttons = st.columns([1, 1], vertical_alignment="bottom")
    c2 = c3 = buttons.container(horizontal=True)
    chosen = c1.selectbox("Installed model", names, key="ollama-installed-pick")
    if c2.button("Check for updates", key="ollama-check"):
        with ui.user_errors(), st.spinner("Comparing with the Ollama registry…"):
            checks = sync.run(check_updates(server.name))
            st.dataframe([{"model": c.model, "update": c.label} for c in checks], hide_index=True)
    if c3.button("Update all", key="ollama-update-all"):
        with ui.user_errors():
            start_jobs(sync.run(start_updates(None, server.name, requested_by=auth.who())))
            st.toast("Updating every installed model (only changed layers download).")
    c4, c5 = st.columns([1, 1])
    if c4.button(f"Update {chosen}", key="ollama-update-one"):
        with ui.user_errors():
            start_jobs(sync.run(start_updates([chosen], server.name, requested_by=auth.who())))
    with c5.expander(f"Remove {chosen}"):
        sure = st.checkbox(f"Yes, delete {chosen} from '{server.name}'", key=f"ollama-rm-sure-{chosen}")
        if st.button("Remove model", key=f"ollama-rm-{chosen}", disabled=not sure, type="primary"):
            with ui.user_errors():
                removal = sync.run(remove_model(chosen, server.name))
                ui.flash(removal.message)
                st.rerun()


# ---------------------------------------------------------------- the library


def library_section(server: Server) -> None:
    st.subheader("Library")
    c1, c2, c3, c4 = st.columns([3, 2, 1, 1])
    text = c1.text_input("Search the library", placeholder="e.g. llama, qwen, vision", key="library-search")
    caps = c2.multiselect("Capabilities", list(CAPABILITIES), key="library-caps")
    max_size = c3.text_input("Max size", placeholder="e.g. 5GB", key="library-max-size")
    which = c4.selectbox("Show", ["all", "not installed", "installed"], key="library-installed")
    try:
        limit = parse_size(max_size) if max_size.strip() else None
    except ValueError as exc:
        st.error(str(exc))
        return
    with ui.user_errors():
        view = sync.run(
            browse_library(
                text or None,
                capabilities=tuple(caps),
                max_size_bytes=limit,
                installed={"all": None, "installed": True, "not installed": False}[which],
                provider=server.name,
            )
        )
        for note in view.notes:
            st.caption(note)
        library_table(list(view.entries), server)


def library_table(entries: list[LibraryEntry], server: Server) -> None:
    if not entries:
        st.info("No library model matches. Try a shorter search or fewer filters, or install it by name below.")
    else:
        st.dataframe(
            [
                {
                    "model": e.name,
                    "sizes": ", ".join(f"{t.tag} {fmt.size(t.size_bytes)}" for t in e.tags),
                    "capabilities": ", ".join(e.capabilities),
                    "installed": {True: "yes", False: "", None: "?"}[e.installed],
                    "description": e.description,
                }
                for e in entries
            ],
            hide_index=True,
            column_config={
                "model": st.column_config.TextColumn(pinned=True),
                "sizes": st.column_config.TextColumn(width="large"),
                "description": st.column_config.TextColumn(width="large"),
            },
        )
        tags = [t for e in entries for t in e.tags]
        labels = {
            f"{t.name} ({fmt.size(t.size_bytes)})" + (" · installed" if t.installed else ""): t.name for t in tags
        }
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        chosen = c1.selectbox("Model to install", list(labels), key="library-pick")
        if c2.button("Install", key="library-install", type="primary", width="stretch"):
            install(labels[chosen], server)
    by_name(server)


def by_name(server: Server) -> None:
    """Any model the Ollama library (or another registry) has, by name, tag included: not only the catalog's."""
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    typed = c1.text_input(
        "Install any model by name",
        placeholder="NAME:TAG, e.g. llama3.2:1b, qwen2.5-coder:7b-instruct-q4_K_M",
        help="Any name and tag from ollama.com/library (or host/namespace/name:tag for another registry). "
        "Without a tag, Ollama takes :latest.",
        key="library-by-name",
    )
    if c2.button("Install by name", key="library-install-name", width="stretch"):
        if typed.strip():
            install(typed.strip(), server)
        else:
            st.error("Type a model name first, e.g. llama3.2:1b.")


def render() -> None:
    st.title("Ollama")
    known = servers()
    if not known:
        st.info("No Ollama server is configured. Add a provider of kind `ollama` on the Providers page.")
        return
    names = [s.name for s in known]
    name = st.selectbox("Ollama server", names, key="ollama-server") if len(names) > 1 else names[0]
    server = next(s for s in known if s.name == name)
    st.caption(f"{server.name} at {server.url}")
    downloads(server)
    with ui.user_errors():
        (listing,) = sync.run(list_installed(server.name))
        installed_section(listing, server)
    library_section(server)


render()
