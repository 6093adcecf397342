"""Summarise a bot profile written by `python -m bench --profile-bots DIR`.

    python -m bench.profiles DIR/slack.prof          # cProfile: the event loop's thread, by function
    python -m bench.profiles DIR/slack.txt           # py-spy raw samples: every thread, by package and function

For py-spy samples (imports left out), a package is the top directory of the file a frame runs in (litellm,
openai, httpx, slack_sdk, core, bot, asyncio...); "self" counts the samples in which that package or function was
running, "inclusive" those in which it was anywhere on the stack.
"""

from __future__ import annotations

import argparse
import pstats
import re
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<name>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def _parse(frame: str) -> tuple[str, str]:
    """(function, file) of a py-spy frame `name (path/file.py:123)`."""
    found = _FRAME.match(frame.strip())
    return (found["name"], found["file"]) if found else (frame.strip(), "")


def package(file: str) -> str:
    """The package a file belongs to: the installed distribution's, the standard library module's, or ours."""
    parts = [p for p in file.replace("\\", "/").split("/") if p]
    for marker in ("site-packages", "python3.11", "python3.12", "python3.13"):
        if marker in parts:
            parts = parts[parts.index(marker) + 1 :]
            break
    else:
        ours = [i for i, p in enumerate(parts) if p in ("core", "bot", "admin", "bench", "tests")]
        parts = parts[ours[0] :] if ours else parts
    if not parts:
        return "?"
    if parts[0] in ("core", "bot") and len(parts) > 2:
        return "/".join(parts[:2])  # core/delivery, bot/slack...
    return parts[0].removesuffix(".py")


def py_spy(path: Path, top: int) -> str:
    """Where the sampled time went, leaving out imports (startup's, mostly)."""
    selves: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages_self: Counter[str] = Counter()
    packages_inclusive: Counter[str] = Counter()
    total = importing = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        if "importlib._bootstrap" in stack:
            importing += count
            continue
        total += count
        frames = [_parse(f) for f in stack.split(";") if f]
        if not frames:
            continue
        name, file = frames[-1]
        selves[f"{name} ({file})"] += count
        packages_self[package(file)] += count
        for key in {f"{n} ({f})" for n, f in frames}:
            inclusive[key] += count
        for key in {package(f) for _, f in frames}:
            packages_inclusive[key] += count
    if not total:
        return "no samples"

    def table(title: str, counter: Counter[str]) -> list[str]:
        rows = [f"{title}:"]
        rows += [f"  {n / total:6.1%}  {key}" for key, n in counter.most_common(top)]
        return rows

    lines = [f"{total} samples of threads that were not idle, and {importing} more while importing (not counted)"]
    lines += table("packages, self", packages_self)
    lines += table("packages, inclusive", packages_inclusive)
    lines += table("functions, self", selves)
    lines += table("functions, inclusive", inclusive)
    return "\n".join(lines)


def cprofile(path: Path, top: int) -> str:
    import io

    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    if args.profile.suffix == ".prof":
        print(cprofile(args.profile, args.top))
    else:
        print(py_spy(args.profile, args.top))


if __name__ == "__main__":
    main()
