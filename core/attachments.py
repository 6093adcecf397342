"""Files posted in threads: taken in with their message, kept, and given to models as the history is built.

A turn's files are fetched when it is answered (the adapter's `fetch`, with the platform's credentials: a file
reaches us only from a message the bot was shown, downloaded as the bot), checked against the limits
(SWITCHBOARD_FILE_MAX_MB, _FILES_PER_MESSAGE, _PDF_MAX_PAGES), read by what their bytes are rather than by what
their name says, and kept all together or not at all:
- **images** (PNG, JPEG, GIF, WebP) go to vision models as image parts; a model without vision gets a line saying
  an image was there (the turn that posts one is never sent to it: core.chat refuses and names vision models);
- **text files** (text, Markdown, code, CSV, JSON, logs) and **PDFs** (their text, with pypdf) go into the
  message's text with their file name, so the window trimming counts them like any text.
The bytes are kept in the blob store (core.storage.blobs), the rows in `attachment`; history carries them, so a
later turn, after a restart or on another worker, still sees the screenshot posted three turns ago. Retention
(SWITCHBOARD_FILE_RETENTION_DAYS) forgets the bytes and the text and keeps the name.
"""

from __future__ import annotations

import asyncio
import base64
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import PurePath
from typing import Any

from sqlalchemy import func, select, update

from core.formatting import size as fmt_size
from core.settings import get_settings
from core.storage import blobs
from core.storage.db import connection, insert_ignoring_conflicts
from core.storage.storable import storable_text
from core.storage.tables import Attachment, utcnow
from core.types import FileKind, FileUnavailable, HistoryTurn, IncomingFile, StoredFile

SUPPORTED = "images (PNG, JPEG, GIF, WebP), text files (text, Markdown, code, CSV, JSON, logs) and PDFs"
TEXT_SUFFIXES = frozenset(
    (
        *(".txt", ".md", ".markdown", ".rst", ".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".yaml", ".yml"),
        *(".toml", ".ini", ".cfg", ".conf", ".env", ".log", ".xml", ".html", ".htm", ".css", ".js", ".mjs"),
        *(".ts", ".tsx", ".jsx", ".py", ".rb", ".go", ".rs", ".java", ".kt", ".kts", ".scala", ".c", ".h"),
        *(".cc", ".cpp", ".hpp", ".cs", ".swift", ".m", ".php", ".pl", ".lua", ".r", ".sql", ".sh", ".bash"),
        *(".zsh", ".ps1", ".bat", ".dockerfile", ".tf", ".hcl", ".proto", ".graphql", ".diff", ".patch"),
        *(".tex", ".srt", ".vtt"),
    )
)
TEXT_MIMES = frozenset(
    (
        *("application/json", "application/xml", "application/x-yaml", "application/yaml", "application/toml"),
        *("application/sql", "application/javascript", "application/x-sh", "application/x-ndjson"),
        *("application/csv", "application/x-log"),
    )
)
_IMAGE_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"))


class FileRefused(Exception):
    """A message's files cannot be taken: the text says which file, why, and what to do (nothing was sent)."""


@dataclass(frozen=True)
class _Read:
    name: str
    mime: str
    kind: FileKind
    data: bytes
    text: str | None = None
    pages: int | None = None


# ---------------------------------------------------------------- taking files in


async def take_in(files: Iterable[IncomingFile], message_id: int, conversation_id: int) -> list[StoredFile]:
    """Fetch, check and keep a message's files (all or none). Raises FileRefused, saying why, when one cannot be
    taken; nothing is kept then. Taking the same message's files again keeps nothing twice."""
    files = list(files)
    if not files:
        return []
    s = get_settings()
    if len(files) > s.files_per_message:
        raise FileRefused(
            f"That message has {len(files)} files; a message may bring at most {s.files_per_message}. "
            "Nothing was sent to a model: post fewer files at a time."
        )
    limit = int(s.file_max_mb * 1024 * 1024)
    read: list[_Read] = []
    for f in files:
        if f.size is not None and f.size > limit:
            raise FileRefused(_too_large(f.name, f.size, limit))
        try:
            data = f.data if f.data is not None else await f.fetch() if f.fetch is not None else None
        except FileUnavailable as why:
            raise FileRefused(f"{f.name} could not be downloaded: {why}. Nothing was sent to a model.") from None
        if data is None:
            raise FileRefused(f"{f.name} could not be downloaded. Nothing was sent to a model.")
        if len(data) > limit:
            raise FileRefused(_too_large(f.name, len(data), limit))
        read.append(await asyncio.to_thread(_read, f.name, f.mime, data))
    return await asyncio.to_thread(_keep, read, message_id, conversation_id)


def _too_large(name: str, size: int, limit: int) -> str:
    return (
        f"{name} is {fmt_size(size)}; files here may be at most {fmt_size(limit)} each. Nothing was sent to a "
        "model: post a smaller file, or the part of it that matters."
    )


def _read(name: str, mime: str, data: bytes) -> _Read:
    """What a file is, by its bytes: an image, a PDF's text, or text. Raises FileRefused for anything else."""
    name = storable_text(PurePath(name).name) or "file"
    image = _image_type(data)
    if image is not None:
        _check_image(name, data)
        return _Read(name, image, "image", data)
    if data.startswith(b"%PDF-"):
        text, pages = _pdf_text(name, data)
        return _Read(name, "application/pdf", "document", data, text, pages)
    suffix = PurePath(name).suffix.lower()
    base = mime.split(";")[0].strip().lower()
    if suffix in TEXT_SUFFIXES or base.startswith("text/") or base in TEXT_MIMES or not suffix:
        decoded = _as_text(data)
        if decoded is not None:
            mime = base if base.startswith("text/") or base in TEXT_MIMES else "text/plain"
            return _Read(name, mime, "text", data, decoded)
    what = base or (suffix[1:].upper() + " file" if suffix else "unknown type")
    raise FileRefused(f"{name} ({what}) is not a kind of file the models here can read: {SUPPORTED} are.")


def _image_type(data: bytes) -> str | None:
    for magic, mime in _IMAGE_MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _check_image(name: str, data: bytes) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.verify()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise FileRefused(f"{name} looks like an image but cannot be read (damaged or cut short).") from None


def _pdf_text(name: str, data: bytes) -> tuple[str, int]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    most = get_settings().pdf_max_pages
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise FileRefused(f"{name} is password-protected, so its text cannot be read. Post an unlocked copy.")
        pages = len(reader.pages)
        if pages > most:
            raise FileRefused(
                f"{name} has {pages:,} pages; PDFs here may have at most {most:,}. Nothing was sent to a model: "
                "post the pages that matter."
            )
        texts = [(page.extract_text() or "").strip() for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError, OSError):
        raise FileRefused(f"{name} could not be read as a PDF (damaged or not really a PDF).") from None
    if not any(texts):
        raise FileRefused(
            f"{name} has no text to read (a scan or images only). Post it as images, or a PDF with its text."
        )
    body = "\n\n".join(f"[page {n}]\n{t}" for n, t in enumerate(texts, 1) if t) if pages > 1 else texts[0]
    return storable_text(body) or "", pages


def _as_text(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    return None if "\x00" in text else text


def _keep(read: list[_Read], message_id: int, conversation_id: int) -> list[StoredFile]:
    shas = [blobs.put(r.data) for r in read]
    table = Attachment.__table__  # type: ignore[attr-defined]
    now = utcnow()
    with connection(write=True) as conn:
        for position, (r, sha) in enumerate(zip(read, shas, strict=True)):
            conn.execute(
                insert_ignoring_conflicts(table, conn).values(
                    message_id=message_id,
                    conversation_id=conversation_id,
                    position=position,
                    name=r.name[:300],
                    mime=r.mime[:120],
                    kind=r.kind,
                    size=len(r.data),
                    sha256=sha,
                    text=r.text,
                    pages=r.pages,
                    created_at=now,
                )
            )
    return list(files_of([message_id])[message_id])


# ---------------------------------------------------------------- reading them back


def files_of(message_ids: list[int]) -> dict[int, tuple[StoredFile, ...]]:
    """The files kept with each of `message_ids` (every id is a key; most have none)."""
    found: dict[int, list[StoredFile]] = {m: [] for m in message_ids}
    if not message_ids:
        return {}
    a = Attachment.__table__  # type: ignore[attr-defined]
    query = (
        select(a.c.message_id, a.c.id, a.c.name, a.c.mime, a.c.kind, a.c.size, a.c.sha256, a.c.text, a.c.pages)
        .where(a.c.message_id.in_(message_ids))
        .order_by(a.c.message_id, a.c.position)
    )
    with connection() as conn:
        for row in conn.execute(query):
            found[row[0]].append(StoredFile(*row[1:]))
    return {m: tuple(f) for m, f in found.items()}


@dataclass(frozen=True)
class ImagePart:
    """An image as a model is given it: a data URL, and what it adds to the prompt (an estimate, see tokens)."""

    url: str
    tokens: int


def image_tokens(width: int, height: int) -> int:
    """Prompt tokens of an image: OpenAI's published rule for detail "high" (fit in 2048 px, shortest side 768 px,
    85 tokens plus 170 per 512-px tile). Anthropic's (width x height / 750) and the others' come out lower for
    the sizes people post, so this reserves enough; the cost charged is what the provider's usage reports."""
    scale = min(1.0, 2048 / max(width, height, 1))
    w, h = width * scale, height * scale
    scale = min(1.0, 768 / max(min(w, h), 1))
    w, h = w * scale, h * scale
    return 85 + 170 * math.ceil(w / 512) * math.ceil(h / 512)


def load_images(history: list[HistoryTurn], newest: int | None = None) -> dict[int, ImagePart]:
    """The newest `newest` images of the history (SWITCHBOARD_IMAGES_PER_TURN), by file id, ready to send; an
    image whose bytes are no longer kept is left out."""
    from PIL import Image

    most = get_settings().images_per_turn if newest is None else newest
    wanted = [f for turn in reversed(history) for f in reversed(turn.files) if f.kind == "image" and f.sha256]
    parts: dict[int, ImagePart] = {}
    for f in wanted[: max(0, most)]:
        data = blobs.get(f.sha256 or "")
        if data is None:
            continue
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
        url = f"data:{f.mime};base64,{base64.b64encode(data).decode('ascii')}"
        parts[f.id] = ImagePart(url, image_tokens(width, height))
    return parts


def with_files(turn: HistoryTurn) -> str:
    """A turn's text with its text files and PDFs in it, each under its name (and a line for anything else)."""
    pieces = [turn.content] if turn.content else []
    for f in turn.files:
        if f.kind == "image":
            continue
        if f.sha256 is None and f.text is None:
            pieces.append(f"[{f.name} was attached here; it is no longer kept]")
        elif f.kind == "document":
            pages = f", {f.pages} pages" if f.pages else ""
            pieces.append(f"--- {f.name} (PDF{pages}, its text) ---\n{f.text}\n--- end of {f.name} ---")
        else:
            pieces.append(f"--- {f.name} ---\n{f.text}\n--- end of {f.name} ---")
    return "\n\n".join(pieces)


def content(turn: HistoryTurn, images: dict[int, ImagePart], vision: bool) -> tuple[str | list[dict[str, Any]], int]:
    """(what a model is given of `turn`, the prompt tokens its images add). Images become image parts for a vision
    model, within the images loaded for this request; otherwise a line says one was there."""
    text = with_files(turn)
    shown: list[ImagePart] = []
    for f in turn.files:
        if f.kind != "image":
            continue
        part = images.get(f.id) if vision else None
        if part is not None:
            shown.append(part)
            continue
        if not vision:
            why = "not shown to this model: it cannot see images"
        elif f.sha256 is None:
            why = "it is no longer kept"
        else:
            why = f"not sent again: only the {get_settings().images_per_turn} newest images of a thread are sent"
        text += f"\n\n[image {f.name} was attached here; {why}]"
    if not shown:
        return text.strip(), 0
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    parts += [{"type": "image_url", "image_url": {"url": p.url}} for p in shown]
    return parts, sum(p.tokens for p in shown)


def has_images(turn: HistoryTurn) -> bool:
    return any(f.kind == "image" for f in turn.files)


# ---------------------------------------------------------------- retention


def expire(older_than: timedelta | None = None) -> int:
    """Forget the bytes and text of files posted longer ago than SWITCHBOARD_FILE_RETENTION_DAYS (0: never);
    their names stay, so history can say a file was there. Returns how many files were forgotten."""
    days = get_settings().file_retention_days
    if older_than is None and days <= 0:
        return 0
    cutoff = utcnow() - (older_than if older_than is not None else timedelta(days=days))
    a = Attachment.__table__  # type: ignore[attr-defined]
    old = (a.c.created_at < cutoff) & a.c.expired_at.is_(None)
    with connection(write=True) as conn:
        shas = {r[0] for r in conn.execute(select(a.c.sha256).where(old, a.c.sha256.is_not(None)))}
        done = conn.execute(update(a).where(old).values(sha256=None, text=None, expired_at=utcnow())).rowcount
    for sha in shas:  # one blob may serve files posted later (the same bytes again): those keep it
        with connection() as conn:
            still = conn.execute(select(func.count()).select_from(a).where(a.c.sha256 == sha)).scalar()
        if not still:
            blobs.drop(sha)
    return int(done or 0)
