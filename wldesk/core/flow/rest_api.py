"""The REST API's requests and answers: Orthanc's Worklists plugin API on the ledger.

``POST /worklists/create``, ``GET /worklists``, ``GET|PUT|DELETE /worklists/{id}`` and
``GET /system`` (see ``docs/integration.md``). An entry's id is its file name without ``.wl``, so
files written by other programs are addressable too. Every request that changes something (or
is refused) is an ``InputEvent`` of the channel ``REST``; reads are not. Who may call is decided
by :mod:`wldesk.core.flow.rest` before a request gets here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

import wldesk
from wldesk.core.editing.document import load_document
from wldesk.core.editing.entries import safe_stem
from wldesk.core.editing.errors import EditError
from wldesk.core.editing.tags_json import FORMATS, TagsError, dataset_from_tags, tags_from_dataset
from wldesk.core.editing.values import element_text, parse_key
from wldesk.core.events import EventBus, InputEvent
from wldesk.core.flow.ledger import SUFFIX, Ledger, LedgerError, Written, dataset_key

CHANNEL = "REST"
MAX_BODY = 4 * 1024 * 1024
"""The largest request body taken (bytes); a worklist entry is a few kilobytes."""
_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._ -]{0,127}")


class Refused(Exception):
    """A request that is answered with ``status`` and ``message``; nothing was written."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """An error answer in Orthanc's shape: the reason in ``Message`` and, where Orthanc puts
    its specific text, ``Details``."""
    return JSONResponse({"HttpError": HTTPStatus(status).phrase, "HttpStatus": status,
                         "Message": message, "Details": message}, status, headers=headers)


def client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class WorklistApi:
    """The endpoints of one worklist folder (its ledger), reporting on ``bus``."""

    def __init__(self, ledger: Ledger, bus: EventBus) -> None:
        self.ledger = ledger
        self.bus = bus

    # --- helpers -----------------------------------------------------------------------------

    def _path(self, entry_id: str, *, existing: bool = True) -> Path:
        """The file of ``entry_id``; with ``existing`` it must be there (else 404)."""
        if not _ID.fullmatch(entry_id) or entry_id.endswith((".", " ")):
            raise Refused(400, f"{entry_id!r} is not a worklist id (the file name without .wl)")
        path = self.ledger.folder / f"{entry_id}{SUFFIX}"
        if existing and not path.is_file():
            raise Refused(404, f"there is no worklist {entry_id}")
        return path

    @staticmethod
    async def _body(request: Request) -> dict[str, Any]:
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > MAX_BODY:
                raise Refused(413, f"the request is larger than {MAX_BODY // 1024 // 1024} MB")
        try:
            body = json.loads(bytes(data))
        except (ValueError, RecursionError) as exc:
            raise Refused(400, f"the body is not JSON ({str(exc)[:120]})") from None
        if not isinstance(body, dict) or not isinstance(body.get("Tags"), dict):
            raise Refused(400, 'the body is {"Tags": {...}, "Force": false}')
        for flag in ("Force", "Upsert"):
            if not isinstance(body.get(flag, False), bool):
                raise Refused(400, f"{flag} is true or false")
        return body

    @staticmethod
    def _dataset(body: dict[str, Any], *, force: bool = False) -> Dataset:
        """The entry of ``body``; unless its ``Force`` (default ``force``) is true, one whose
        first step lacks Modality or start date is refused, as Orthanc does."""
        try:
            ds = dataset_from_tags(body["Tags"], charset="ISO_IR 192")
        except TagsError as exc:
            raise Refused(400, str(exc)) from None
        except RecursionError:
            raise Refused(400, "the tags are nested too deeply") from None
        if not body.get("Force", force):
            steps = ds.get("ScheduledProcedureStepSequence") or ()
            first = steps[0] if steps else Dataset()
            missing = [k for k in ("Modality", "ScheduledProcedureStepStartDate")
                       if not str(first.get(k, "") or "").strip()]
            if missing:
                raise Refused(400, "ScheduledProcedureStepSequence item 1 needs "
                              f"{' and '.join(missing)}; send \"Force\": true to store the "
                              "worklist anyway")
        return ds

    @staticmethod
    def _study_uid(ds: Dataset, existing: Path | None) -> None:
        """Give ``ds`` a StudyInstanceUID when it has none: the entry's at ``existing`` (an
        update keeps its study), else a new one."""
        if str(ds.get("StudyInstanceUID", "") or "").strip():
            return
        if existing is not None:
            uid = str(load_document(existing).dataset.get("StudyInstanceUID", "") or "").strip()
            if uid:
                ds.StudyInstanceUID = uid
                return
        ds.StudyInstanceUID = generate_uid(prefix=None)

    @staticmethod
    def _answer(written: Written, status: int = 200) -> JSONResponse:
        entry_id = written.path.stem
        return JSONResponse({"ID": entry_id, "Path": f"/worklists/{entry_id}"}, status)

    def _report(self, request: Request, action: str, order: str = "", file: str = "",
                detail: str = "") -> None:
        self.bus.emit(InputEvent(CHANNEL, action, client(request), order, file, detail))

    async def _change(self, request: Request, work: Callable[[], tuple[Written, int]],
                      what: str) -> Response:
        """Run ``work`` (which writes) off the event loop; report what became of the request."""
        try:
            written, status = await run_in_threadpool(work)
        except Refused as exc:
            self._report(request, "refused", detail=f"{what}: {exc}")
            return error(exc.status, str(exc))
        except LedgerError as exc:
            self._report(request, "refused", detail=f"{what}: {exc}")
            return error(409, str(exc))
        except EditError as exc:
            self._report(request, "failed", detail=f"{what}: {exc}")
            return error(500, str(exc))
        self._report(request, written.action, str(written.key), written.path.name, what)
        return self._answer(written, status)

    # --- endpoints ---------------------------------------------------------------------------

    async def create(self, request: Request) -> Response:
        try:
            body = await self._body(request)
        except Refused as exc:
            self._report(request, "refused", detail=f"create: {exc}")
            return error(exc.status, str(exc))

        def work() -> tuple[Written, int]:
            ds = self._dataset(body)
            upsert, key = body.get("Upsert", False), dataset_key(ds)
            with self.ledger.lock:
                found = self.ledger.find(key)
                if found and not upsert:
                    raise LedgerError(f"the order {key} exists already as the worklist "
                                      f"{found[0].stem}; send \"Upsert\": true to update it")
                self._study_uid(ds, found[0] if found else None)
                written = self.ledger.put(ds, update=upsert, found=found)
            return written, 200  # as Orthanc answers, created or not

        return await self._change(request, work, "create")

    async def replace(self, request: Request) -> Response:
        entry_id = request.path_params["id"]
        try:
            body = await self._body(request)
        except Refused as exc:
            self._report(request, "refused", detail=f"replace {entry_id}: {exc}")
            return error(exc.status, str(exc))

        def work() -> tuple[Written, int]:
            # as Orthanc: PUT checks the steps only when asked ("Force": false), and an id that
            # is not there yet becomes a new entry of that name
            path = self._path(entry_id, existing=False)
            if not path.is_file() and safe_stem(entry_id) != entry_id:
                raise Refused(400, f"{entry_id!r} cannot be a new worklist's id: use letters, "
                              "digits, '.', '_' and '-' (at most 64)")
            ds = self._dataset(body, force=True)
            with self.ledger.lock:
                self._study_uid(ds, path if path.is_file() else None)
                return self.ledger.replace(path, ds, create=True), 200

        return await self._change(request, work, f"replace {entry_id}")

    async def delete(self, request: Request) -> Response:
        entry_id = request.path_params["id"]

        def work() -> tuple[Written, int]:
            return self.ledger.archive_file(self._path(entry_id)), 200

        response = await self._change(request, work, f"delete {entry_id}")
        return JSONResponse({}) if response.status_code == 200 else response  # Orthanc's "{}"

    def _entry(self, path: Path, fmt: str) -> dict[str, Any] | None:
        try:
            doc = load_document(path)
            st = path.stat()
        except (EditError, OSError):
            return None  # a problem file, or gone meanwhile
        created = getattr(st, "st_birthtime", st.st_mtime)
        return {"ID": path.stem, "Tags": tags_from_dataset(doc.dataset, fmt),
                "CreationDate": datetime.fromtimestamp(created).strftime("%Y%m%dT%H%M%S"),
                "_dataset": doc.dataset}

    @staticmethod
    def _format(request: Request) -> str:
        fmt = request.query_params.get("format", FORMATS[0])
        fmt = "Human" if fmt == "Simplify" else fmt  # Orthanc's own name of it
        if fmt not in FORMATS:
            raise Refused(400, f"format is one of {', '.join(FORMATS)} (or Simplify)")
        return fmt

    async def list(self, request: Request) -> Response:
        try:
            fmt = self._format(request)
            filters = []
            for key, value in request.query_params.items():
                if key == "format":
                    continue
                try:
                    filters.append((parse_key(key), value))
                except EditError as exc:
                    raise Refused(400, f"filter {key}: {exc}") from None
        except Refused as exc:
            return error(exc.status, str(exc))

        def read() -> list[dict[str, Any]]:
            found = []
            for path in sorted(self.ledger.keys()):
                entry = self._entry(path, fmt)
                if entry is None:
                    continue
                ds = entry.pop("_dataset")
                if all(element_text(ds.get(tag)).strip() == value.strip()
                       for tag, value in filters):
                    found.append(entry)
            return found

        return JSONResponse(await run_in_threadpool(read))

    async def get(self, request: Request) -> Response:
        def read() -> dict[str, Any]:
            fmt = self._format(request)
            entry = self._entry(self._path(request.path_params["id"]), fmt)
            if entry is None:
                raise Refused(404, f"the worklist {request.path_params['id']} cannot be read")
            entry.pop("_dataset")
            return entry  # as Orthanc: {"ID": ..., "Tags": {...}}, and when it was made

        try:
            return JSONResponse(await run_in_threadpool(read))
        except Refused as exc:
            return error(exc.status, str(exc))

    async def system(self, request: Request) -> Response:
        def read() -> dict[str, Any]:
            return {"Name": "wldesk", "Version": wldesk.__version__, "ApiVersion": 1,
                    "Worklists": len(self.ledger.keys()),
                    "ProblemFiles": len(self.ledger.problem_files()),
                    "Folder": str(self.ledger.folder)}

        try:
            return JSONResponse(await run_in_threadpool(read))
        except LedgerError as exc:
            return error(500, str(exc))
