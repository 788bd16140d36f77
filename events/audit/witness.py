"""Witnesses: checkpoints (and exports) an auditor keeps outside the database, checked
against today's chain, as Certificate Transparency's monitors keep signed tree heads.

Whoever can rewrite the database can also drop its checkpoints and keys, rewrite a log's
suffix with every hash recomputed and have the services sign the forged head. What they
cannot change is what an auditor already holds: an earlier export, the checkpoints the
public page or ``records.json`` showed, a file of checkpoints. Every held hash must still be
on today's chain, at its position; every held signed checkpoint must still be among
today's checkpoints.

A held file is any of: an export's folder (its events and its checkpoints), ``records.json``
(its ``integrity.checkpoints``), a JSON list of checkpoints, or JSON Lines of checkpoints
(``checkpoints.jsonl`` of an export). A checkpoint needs ``log``, ``position`` and ``hash``;
its ``signature``, ``key_id`` and ``signed_at`` are reported when present.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class HeldProblem(Exception):
    """The held file cannot be read as checkpoints or an export."""


@dataclass
class Held:
    description: str
    checkpoints: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    export: Path | None = None
    export_logs: dict[str, str] = field(default_factory=dict)  # log → file in the export

    @property
    def logs(self) -> set[str]:
        return set(self.checkpoints) | set(self.export_logs)

    def check(self, log: str, chain: str = "today's chain") -> WitnessCheck:
        """A walk of what this holds of ``log`` beside ``chain`` (how messages name the
        chain checked: today's, or an export's)."""
        lines = None
        if log in self.export_logs and self.export is not None:
            lines = _export_hashes(self.export / self.export_logs[log])
        held = sorted(self.checkpoints.get(log, []), key=lambda c: c["position"])
        return WitnessCheck(self.description, held, lines, chain)


def _export_hashes(path: Path) -> Iterator[tuple[int, str]]:
    with path.open("rb") as file:
        for line in file:
            event = json.loads(line)
            yield event["position"], event["hash"]


def _checkpoint(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise HeldProblem(f"{where}: a checkpoint must be an object")
    for name, kind in (("log", str), ("position", int), ("hash", str)):
        if not isinstance(value.get(name), kind) or isinstance(value.get(name), bool):
            raise HeldProblem(f"{where}: field {name} must be a {kind.__name__}")
    return value


def load_held(path: Path) -> Held:
    """What ``path`` holds: an export's folder or a file of checkpoints."""
    checkpoints: list[Any]
    if path.is_dir():
        try:
            manifest = json.loads((path / "manifest.json").read_text())
            logs = {log: entry["file"] for log, entry in manifest["logs"].items()}
            lines = (path / "checkpoints.jsonl").read_text().splitlines()
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise HeldProblem(f"{path} is not a readable export: {error}") from None
        for name in logs.values():
            if not (path / name).resolve().is_relative_to(path.resolve()):
                raise HeldProblem(f"{path}: the manifest names {name!r}, outside the export")
        held = Held(f"the export {path} (exported {manifest.get('exported_at')})",
                    export=path, export_logs=logs)  # fmt: skip
        checkpoints = [json.loads(line) for line in lines if line.strip()]
    else:
        try:
            text = path.read_text()
        except OSError as error:
            raise HeldProblem(f"cannot read {path}: {error.strerror}") from None
        try:
            document = json.loads(text)
        except ValueError:
            try:
                document = [json.loads(line) for line in text.splitlines() if line.strip()]
            except ValueError as error:
                raise HeldProblem(f"{path} is neither JSON nor JSON Lines: {error}") from None
        if isinstance(document, dict) and "integrity" in document:  # records.json
            # saved before the first checkpoint: it holds nothing, which the verdict says
            document = (document["integrity"] or {}).get("checkpoints") or []
        elif isinstance(document, dict) and document.get("log") is not None:
            document = [document]
        elif isinstance(document, dict):
            document = document.get("checkpoints")
        if not isinstance(document, list):
            raise HeldProblem(f"{path}: no list of checkpoints in it")
        held, checkpoints = Held(f"the checkpoints held in {path}"), document
    for number, value in enumerate(checkpoints, start=1):
        checkpoint = _checkpoint(value, f"{path}: checkpoint {number}")
        held.checkpoints.setdefault(checkpoint["log"], []).append(checkpoint)
    return held


def _named(checkpoint: dict[str, Any]) -> str:
    signed = f" signed {checkpoint['signed_at']}" if checkpoint.get("signed_at") else ""
    key = f" by key {checkpoint['key_id']}" if checkpoint.get("key_id") else ""
    return f"the held checkpoint at position {checkpoint['position']}{signed}{key}"


class WitnessCheck:
    """Walks what is held of one log beside today's chain (both in position order)."""

    def __init__(
        self,
        description: str,
        checkpoints: list[dict[str, Any]],
        lines: Iterator[tuple[int, str]] | None,
        chain: str = "today's chain",
    ) -> None:
        self.description = description
        self.chain, self.whose = chain, chain.removesuffix(" chain")
        self.checkpoints = checkpoints
        self.lines = lines
        self.line = next(lines, None) if lines is not None else None
        self.index = 0
        self.agreed = 0  # the last position at which a held hash agreed
        self.held_count = 0  # held checkpoints met on today's chain
        self.lines_read = 0  # held event hashes read so far, agreeing or not
        self.parted_after: int | None = None  # set with a problem: the histories part after it

    def covered(self) -> str:
        """What this held (all of it, also past a break) and how far it agreed with the
        chain, for the report."""
        held, last = [], max([c["position"] for c in self.checkpoints] + [self.agreed])
        if self.lines is not None:
            count, self.lines_read = self.lines_read, 0
            while self.line is not None:  # the rest, unread after a break
                count, last = count + 1, max(last, self.line[0])
                self.line = next(self.lines, None)
            held.append(f"{count} event hashes")
        held.append(f"{len(self.checkpoints)} checkpoints")
        if self.lines is None and not self.checkpoints:
            return f"against {self.description}: holds nothing of this log"
        return (f"against {self.description}: held {' and '.join(held)} up to position "
                f"{last}; {self.chain} agrees up to position {self.agreed}")  # fmt: skip

    def at(self, position: int, stored_hash: str) -> str | None:
        while self.line is not None and self.line[0] <= position:
            held_position, held_hash = self.line
            self.line, self.lines_read = next(self.lines, None), self.lines_read + 1
            if held_position == position and held_hash != stored_hash:
                self.parted_after = position - 1
                return (f"{self.description} has hash {held_hash} here, {self.chain} has "
                        f"{stored_hash}: the histories part at position {position}")  # fmt: skip
            if held_position == position:
                self.agreed = position
        while self.index < len(self.checkpoints):
            checkpoint = self.checkpoints[self.index]
            if checkpoint["position"] > position:
                break
            self.index += 1
            if checkpoint["position"] == position and checkpoint["hash"] != stored_hash:
                self.parted_after = self.agreed
                return (
                    f"{_named(checkpoint)} in {self.description} says hash "
                    f"{checkpoint['hash']}, {self.chain} has {stored_hash}: the histories "
                    f"part after position {self.agreed}, at or before {position}"
                )
            self.agreed = position
            self.held_count += 1
        return None

    def beyond(self, last_position: int) -> tuple[int, str] | None:
        """Something held past the end of today's log: the log was cut short."""
        if self.line is not None:
            return last_position + 1, (
                f"{self.description} holds events up to at least position {self.line[0]}, "
                f"{self.whose} log ends at {last_position}: the histories part at position "
                f"{last_position + 1} (events removed)"
            )
        if self.index < len(self.checkpoints):
            checkpoint = self.checkpoints[self.index]
            return last_position + 1, (
                f"{_named(checkpoint)} in {self.description} covers position "
                f"{checkpoint['position']}, {self.whose} log ends at {last_position}: the "
                f"histories part after position {last_position} (events removed)"
            )
        return None

    def dropped(self, signatures: set[str]) -> tuple[int, str] | None:
        """A held signed checkpoint that is no longer among today's checkpoints."""
        for checkpoint in self.checkpoints:
            signature = checkpoint.get("signature")
            if signature and signature not in signatures:
                return checkpoint["position"], (
                    f"{_named(checkpoint)} in {self.description} is no longer among "
                    f"{self.whose} checkpoints: checkpoints were dropped"
                )
        return None
