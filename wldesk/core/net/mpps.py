"""The MPPS side of the SCP: Modality Performed Procedure Step N-CREATE and N-SET.

The server decodes each message and hands it to a :class:`PerformedSteps` it was given (the flow
layer's, which keeps the record and changes the entries); what that answers goes back to the
modality as the response's status. ``core/net`` does not know what the entries become.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from pynetdicom import evt
from pynetdicom.sop_class import ModalityPerformedProcedureStep  # type: ignore[attr-defined]

MPPS = ModalityPerformedProcedureStep
"""Modality Performed Procedure Step SOP Class (1.2.840.10008.3.1.2.3.3)."""

UNDECODABLE = "cannot decode the attribute list"


@dataclass(frozen=True)
class MppsReply:
    """The response's status (PS3.4 F.7.2, PS3.7 C): ``comment`` becomes its Error Comment,
    ``attributes`` the N-SET response's Attribute Identifier List (the offending tags)."""

    status: int = 0x0000
    comment: str = ""
    attributes: tuple[int, ...] = ()


class PerformedSteps(Protocol):
    """What the server does with MPPS messages (``source``: the calling AE title and address)."""

    def create(self, uid: str, attributes: Dataset, source: str) -> MppsReply:
        """N-CREATE of the instance ``uid`` with its attribute list."""

    def set(self, uid: str, modifications: Dataset, source: str) -> MppsReply:
        """N-SET of the instance ``uid`` with its modification list."""


def _response(reply: MppsReply, n_set: bool) -> Dataset:
    ds = Dataset()
    ds.Status = reply.status
    if reply.comment:
        ds.ErrorComment = reply.comment.replace("\\", "/")[:64]  # LO
    if n_set and reply.attributes:
        ds.AttributeIdentifierList = list(reply.attributes)
    return ds


def _decoded(dataset: Callable[[], Dataset]) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a malformed list is the message's fault: its status
        ds = dataset()
        for _elem in ds.iterall():
            pass  # pydicom decodes lazily: decode every element now
    return ds


def handlers(steps: PerformedSteps, source: Callable[[evt.Event], str]
             ) -> list[evt.EventHandlerType]:
    """pynetdicom's EVT_N_CREATE and EVT_N_SET handlers giving the messages to ``steps``."""

    def on_create(event: evt.Event) -> tuple[Dataset, Dataset | None]:
        uid = str(getattr(event.request, "AffectedSOPInstanceUID", None) or "").strip()
        answer = Dataset()
        if not uid:  # the SCU may leave the UID to the SCP (PS3.7 10.1.5.1.4)
            uid = generate_uid()
            answer.AffectedSOPInstanceUID = uid
        try:
            attributes = _decoded(lambda: event.attribute_list)
        except Exception:
            return _response(MppsReply(0x0110, UNDECODABLE), False), None
        reply = steps.create(uid, attributes, source(event))
        return _response(reply, False), answer if reply.status == 0 else None

    def on_set(event: evt.Event) -> tuple[Dataset, Dataset | None]:
        uid = str(getattr(event.request, "RequestedSOPInstanceUID", None) or "").strip()
        try:
            modifications = _decoded(lambda: event.modification_list)
        except Exception:
            return _response(MppsReply(0x0110, UNDECODABLE), True), None
        reply = steps.set(uid, modifications, source(event))
        return _response(reply, True), None

    return [(evt.EVT_N_CREATE, on_create), (evt.EVT_N_SET, on_set)]
