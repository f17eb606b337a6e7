"""DICOM datasets as text: DCMTK's dump format (``dcmdump`` / ``dump2dcm``) and the DICOM JSON model.

Dump format, one element per line (what ``dump2dcm`` reads)::

    (0010,0010) PN [DOE^JOHN]                               #   8, 1 PatientName
    (0040,0100) SQ (Sequence with undefined length #=1)     # u/l, 1 ScheduledProcedureStepSequence
      (fffe,e000) na (Item with undefined length #=2)         # u/l, 1 Item
        (0008,0060) CS [CT]                                     #   2, 1 Modality
      (fffe,e00d) na (ItemDelimitationItem)                   #   0, 0 ItemDelimitationItem
    (fffe,e0dd) na (SequenceDelimitationItem)               #   0, 0 SequenceDelimitationItem

Reading follows dump2dcm (DCMTK 3.6.7): ``#`` starts a comment line; the VR is optional (the
dictionary's is used); a value in ``[...]`` ends at the last ``]`` of the line and ``\\n`` in it
becomes CR LF; a value without brackets ends at ``#`` or the end of the line; ``(...)`` after the
VR is a description (``(no value available)``: an empty value) except for AT values; trailing
spaces of a value are dropped; UI values may be ``=Name`` (DCMTK's UID names, e.g.
``=LittleEndianExplicit``); binary values are hexadecimal separated by backslashes (OB/UN bytes,
OW words); several values are separated by backslashes; group 0002 lines form the file meta
information; group lengths are dropped (pydicom recomputes the meta's; others are retired); when
an element appears twice in one dataset the first is kept, as dump2dcm does. Unlike dump2dcm,
item and sequence delimiters may be left out: the structure is then taken from the indentation
(dcmdump indents nested elements by two spaces), a new item line ends the previous item, an
element line ends a sequence that has no open item, and the end of the text ends everything.

Character sets: a dump is text in the encoding of its dataset (dcmdump writes the value bytes as
they are in the file; dump2dcm copies them back). Bytes given to :func:`load_text` are therefore
decoded with the dump's own Specific Character Set (0008,0005); a dump without one is read as
UTF-8 (Latin-1 when it is not valid UTF-8), and (0008,0005) is then added to the dataset
(ISO_IR 192, or ISO_IR 100) when the text is not plain ASCII, which :class:`ParsedDump` notes say.
A ``str`` given to :func:`load_text` is already decoded. :func:`dump_bytes` writes the values in
the dataset's character set (UTF-8 when it has none), so that ``dump2dcm`` and :func:`load_text`
read them back; :func:`dump_text` gives the same lines as a ``str`` for display and editing.

What the dump format cannot carry (:func:`dump_limitations` lists it for a dataset): trailing
spaces of a value (insignificant in DICOM), a lone CR or LF (written as ``\\n``, read back as
CR LF), a backslash followed by ``n`` inside a value that needs brackets, and lines longer than
4094 bytes unless dump2dcm is given ``+l``.
"""

from __future__ import annotations

import json as _json
import re
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydicom import config as pydicom_config
from pydicom._uid_dict import UID_dictionary
from pydicom.charset import convert_encodings, decode_bytes
from pydicom.datadict import dictionary_VR, get_private_entry, keyword_for_tag
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import BaseTag, Tag
from pydicom.uid import ExplicitVRLittleEndian
from pydicom.valuerep import PN_DELIMS, TEXT_VR_DELIMS

from wldesk.core.charsets import charset_terms, is_default
from wldesk.core.editing import (
    KNOWN_VRS,
    EditError,
    element_text,
    encode_document,
    load_document,
    new_document,
    save_document,
    value_from_text,
    worklist_problems,
)
from wldesk.core.wlfile import TEXT_VRS

__all__ = [
    "DumpError",
    "ParsedDump",
    "dump_bytes",
    "dump_command",
    "dump_limitations",
    "dump_text",
    "from_json",
    "load_command",
    "load_text",
    "parse_dump",
    "to_json",
    "uid_for_name",
]

EXIT_OK, EXIT_WRITE_FAILED, EXIT_BAD_INPUT = 0, 1, 2
_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_PIXEL_DATA = 0x7FE00010
_SPECIFIC_CHARACTER_SET = 0x00080005
_STRING_VRS = TEXT_VRS | {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "TM", "UI", "UR"}
_SINGLE_VALUED_VRS = frozenset({"LT", "ST", "UT", "UR"})
_LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})
_INTERNAL_VRS = ("na", "ox", "xs", "up")  # dcmdump's pseudo VRs: the dictionary's VR is used
_TAG = re.compile(r"\(([0-9A-Fa-f]{1,4}),([0-9A-Fa-f]{1,4})\)")
_VALUE_COLUMN = 40
_DUMP2DCM_LINE_LIMIT = 4095  # dump2dcm (+l 4096 by default) reads lines of up to 4094 bytes
_SYNTAX_NAMES = {"1.2.840.10008.1.2": "Little Endian Implicit",
                 "1.2.840.10008.1.2.1": "Little Endian Explicit",
                 "1.2.840.10008.1.2.2": "Big Endian Explicit",
                 "1.2.840.10008.1.2.1.99": "Deflated Explicit VR Little Endian"}


class DumpError(EditError):
    """A dump (or DICOM JSON) text cannot be read, or a dataset cannot be written as one; the
    message says why and, for dumps, on which line."""


# ----------------------------------------------------------------------------------------------
# UID names (dcmdump writes well-known UIDs as =Name)

# DCMTK's names that are not pydicom's keyword (nor the keyword with "SOPClass" added or
# "RETIRED_" before it); ~ stands for 1.2.840.10008. Made from dcmdump 3.6.7's output.
_DCMTK_UID_NAMES = """
BigEndianExplicit ~1.2.2 Colin27FrameOfReference ~1.4.5.1
DICOMControlledTerminologyCodingScheme ~2.16.4 DICOMUIDRegistryCodingScheme ~2.6.1
DICONDE_EddyCurrentImageStorage ~5.1.4.1.1.601.1
DICONDE_EddyCurrentMultiframeImageStorage ~5.1.4.1.1.601.2 DICOS_2DAITStorage ~5.1.4.1.1.501.4
DICOS_3DAITStorage ~5.1.4.1.1.501.5 DICOS_CTImageStorage ~5.1.4.1.1.501.1
DICOS_DigitalXRayImageStorageForPresentation ~5.1.4.1.1.501.2.1
DICOS_DigitalXRayImageStorageForProcessing ~5.1.4.1.1.501.2.2
DICOS_QuadrupoleResonanceStorage ~5.1.4.1.1.501.6 DICOS_ThreatDetectionReportStorage ~5.1.4.1.1.501.3
DRAFT_RTBeamsDeliveryInstructionStorage ~5.1.4.34.1
DRAFT_RTConventionalMachineVerification ~5.1.4.34.2 DRAFT_RTIonMachineVerification ~5.1.4.34.3
DRAFT_SRAudioStorage ~5.1.4.1.1.88.2 DRAFT_SRComprehensiveStorage ~5.1.4.1.1.88.4
DRAFT_SRDetailStorage ~5.1.4.1.1.88.3 DRAFT_SRTextStorage ~5.1.4.1.1.88.1
DRAFT_UnifiedProcedureStepEventSOPClass ~5.1.4.34.4.4
DRAFT_UnifiedProcedureStepPullSOPClass ~5.1.4.34.4.3
DRAFT_UnifiedProcedureStepPushSOPClass ~5.1.4.34.4.1
DRAFT_UnifiedProcedureStepWatchSOPClass ~5.1.4.34.4.2
DRAFT_UnifiedWorklistAndProcedureStepServiceClass ~5.1.4.34.4 DRAFT_WaveformStorage ~5.1.4.1.1.9.1
DeflatedLittleEndianExplicit ~1.2.1.99 DisplaySystemSOPInstance ~5.1.1.40.1
FINDColorPaletteInformationModel ~5.1.4.39.2 FINDDefinedProcedureProtocolInformationModel ~5.1.4.20.1
FINDGenericImplantTemplateInformationModel ~5.1.4.43.2
FINDHangingProtocolInformationModel ~5.1.4.38.2
FINDImplantAssemblyTemplateInformationModel ~5.1.4.44.2
FINDImplantTemplateGroupInformationModel ~5.1.4.45.2 FINDModalityWorklistInformationModel ~5.1.4.31
FINDPatientRootQueryRetrieveInformationModel ~5.1.4.1.2.1.1
FINDProtocolApprovalInformationModel ~5.1.4.1.1.200.4
FINDStudyRootQueryRetrieveInformationModel ~5.1.4.1.2.2.1 FallColorPaletteSOPInstance ~1.5.7
GETColorPaletteInformationModel ~5.1.4.39.4 GETCompositeInstanceRetrieveWithoutBulkData ~5.1.4.1.2.5.3
GETCompositeInstanceRootRetrieve ~5.1.4.1.2.4.3 GETDefinedProcedureProtocolInformationModel ~5.1.4.20.3
GETGenericImplantTemplateInformationModel ~5.1.4.43.4
GETImplantAssemblyTemplateInformationModel ~5.1.4.44.4
GETImplantTemplateGroupInformationModel ~5.1.4.45.4
GETPatientRootQueryRetrieveInformationModel ~5.1.4.1.2.1.3
GETProtocolApprovalInformationModel ~5.1.4.1.1.200.6
GETStudyRootQueryRetrieveInformationModel ~5.1.4.1.2.2.3 HEVCMain10Profile/Level5.1 ~1.2.4.108
HEVCMainProfile/Level5.1 ~1.2.4.107 HotIronColorPaletteSOPInstance ~1.5.1
HotMetalBlueColorPaletteSOPInstance ~1.5.3 ICBM452T1FrameOfReference ~1.4.2.1
ICBMSingleSubjectMRIFrameOfReference ~1.4.2.2 IEC61217FixedCoordinateSystemFrameOfReference ~1.4.3.1
IEC61217TableTopCoordinateSystemFrameOfReference ~1.4.3.3
ImplantationPlanSRDocumentStorage ~5.1.4.1.1.88.70 JPEG2000LosslessOnly ~1.2.4.90
JPEG2000Multicomponent ~1.2.4.93 JPEG2000MulticomponentLosslessOnly ~1.2.4.92 JPEGBaseline ~1.2.4.50
JPEGExtended:Hierarchical:Process16+18 ~1.2.4.59 JPEGExtended:Hierarchical:Process17+19 ~1.2.4.60
JPEGExtended:Process2+4 ~1.2.4.51 JPEGExtended:Process3+5 ~1.2.4.52
JPEGFullProgression:Hierarchical:Process24+26 ~1.2.4.63
JPEGFullProgression:Hierarchical:Process25+27 ~1.2.4.64
JPEGFullProgression:Non-hierarchical:Process10+12 ~1.2.4.55
JPEGFullProgression:Non-hierarchical:Process11+13 ~1.2.4.56 JPEGLSLossy ~1.2.4.81
JPEGLossless:Hierarchical:Process28 ~1.2.4.65 JPEGLossless:Hierarchical:Process29 ~1.2.4.66
JPEGLossless:Non-hierarchical-1stOrderPrediction ~1.2.4.70
JPEGLossless:Non-hierarchical:Process14 ~1.2.4.57 JPEGLossless:Non-hierarchical:Process15 ~1.2.4.58
JPEGSpectralSelection:Hierarchical:Process20+22 ~1.2.4.61
JPEGSpectralSelection:Hierarchical:Process21+23 ~1.2.4.62
JPEGSpectralSelection:Non-hierarchical:Process6+8 ~1.2.4.53
JPEGSpectralSelection:Non-hierarchical:Process7+9 ~1.2.4.54 LDAP_dicomAETitle ~15.0.3.7
LDAP_dicomApplicationCluster ~15.0.3.9 LDAP_dicomAssociationAcceptor ~15.0.3.11
LDAP_dicomAssociationInitiator ~15.0.3.10 LDAP_dicomAuthorizedNodeCertificateReference ~15.0.3.21
LDAP_dicomConfigurationRoot ~15.0.4.1 LDAP_dicomDescription ~15.0.3.2 LDAP_dicomDevice ~15.0.4.4
LDAP_dicomDeviceName ~15.0.3.1 LDAP_dicomDeviceSerialNumber ~15.0.3.25 LDAP_dicomDevicesRoot ~15.0.4.2
LDAP_dicomHostname ~15.0.3.12 LDAP_dicomInstalled ~15.0.3.23 LDAP_dicomInstitutionAddress ~15.0.3.27
LDAP_dicomInstitutionDepartmentName ~15.0.3.28 LDAP_dicomInstitutionName ~15.0.3.26
LDAP_dicomIssuerOfPatientID ~15.0.3.29 LDAP_dicomManufacturer ~15.0.3.3
LDAP_dicomManufacturerModelName ~15.0.3.4 LDAP_dicomNetworkAE ~15.0.4.5
LDAP_dicomNetworkConnection ~15.0.4.6 LDAP_dicomNetworkConnectionReference ~15.0.3.8
LDAP_dicomPort ~15.0.3.13 LDAP_dicomPreferredCalledAETitle ~15.0.3.19
LDAP_dicomPreferredCallingAETitle ~15.0.3.30 LDAP_dicomPrimaryDeviceType ~15.0.3.17
LDAP_dicomRelatedDeviceReference ~15.0.3.18 LDAP_dicomSOPClass ~15.0.3.14
LDAP_dicomSoftwareVersion ~15.0.3.5 LDAP_dicomStationName ~15.0.3.24
LDAP_dicomSupportedCharacterSet ~15.0.3.31 LDAP_dicomTLSCyphersuite ~15.0.3.20
LDAP_dicomThisNodeCertificateReference ~15.0.3.22 LDAP_dicomTransferCapability ~15.0.4.8
LDAP_dicomTransferRole ~15.0.3.15 LDAP_dicomTransferSyntax ~15.0.3.16
LDAP_dicomUniqueAETitle ~15.0.4.7 LDAP_dicomUniqueAETitlesRegistryRoot ~15.0.4.3
LDAP_dicomVendorData ~15.0.3.6 LPBA40AIRFrameOfReference ~1.4.6.1 LPBA40FLIRTFrameOfReference ~1.4.6.2
LPBA40SPM5FrameOfReference ~1.4.6.3 LittleEndianExplicit ~1.2.1 LittleEndianImplicit ~1.2
MOVEColorPaletteInformationModel ~5.1.4.39.3 MOVECompositeInstanceRootRetrieve ~5.1.4.1.2.4.2
MOVEDefinedProcedureProtocolInformationModel ~5.1.4.20.2
MOVEGenericImplantTemplateInformationModel ~5.1.4.43.3
MOVEHangingProtocolInformationModel ~5.1.4.38.3
MOVEImplantAssemblyTemplateInformationModel ~5.1.4.44.3
MOVEImplantTemplateGroupInformationModel ~5.1.4.45.3
MOVEPatientRootQueryRetrieveInformationModel ~5.1.4.1.2.1.2
MOVEProtocolApprovalInformationModel ~5.1.4.1.1.200.5
MOVEStudyRootQueryRetrieveInformationModel ~5.1.4.1.2.2.2 MPEG2MainProfile@HighLevel ~1.2.4.101
MPEG2MainProfile@MainLevel ~1.2.4.100 MPEG4BDcompatibleHighProfile/Level4.1 ~1.2.4.103
MPEG4HighProfile/Level4.1 ~1.2.4.102 MPEG4HighProfile/Level4.2For2DVideo ~1.2.4.104
MPEG4HighProfile/Level4.2For3DVideo ~1.2.4.105 MPEG4StereoHighProfile/Level4.2 ~1.2.4.106
MultiframeGrayscaleByteSecondaryCaptureImageStorage ~5.1.4.1.1.7.2
MultiframeGrayscaleWordSecondaryCaptureImageStorage ~5.1.4.1.1.7.3
MultiframeSingleBitSecondaryCaptureImageStorage ~5.1.4.1.1.7.1
MultiframeTrueColorSecondaryCaptureImageStorage ~5.1.4.1.1.7.4 PET20StepColorPaletteSOPInstance ~1.5.4
PETColorPaletteSOPInstance ~1.5.2 PrinterConfigurationRetrievalSOPInstance ~5.1.1.17.376
PrinterSOPInstance ~5.1.1.17 PrivateGELittleEndianImplicitWithBigEndianPixelData 1.2.840.113619.5.2
ProceduralEventLoggingSOPInstance ~1.40.1 RETIRED_FINDGeneralPurposeWorklistInformationModel ~5.1.4.32.1
RETIRED_FINDPatientStudyOnlyQueryRetrieveInformationModel ~5.1.4.1.2.3.1
RETIRED_GETPatientStudyOnlyQueryRetrieveInformationModel ~5.1.4.1.2.3.3
RETIRED_MOVEPatientStudyOnlyQueryRetrieveInformationModel ~5.1.4.1.2.3.2
RETIRED_NuclearMedicineImageStorage ~5.1.4.1.1.5 RETIRED_PrintQueueSOPInstance ~5.1.1.25
RETIRED_StorageCommitmentPullModelSOPInstance ~1.20.2.1 RETIRED_UltrasoundImageStorage ~5.1.4.1.1.6
RETIRED_UltrasoundMultiframeImageStorage ~5.1.4.1.1.3 RETIRED_VLImageStorage ~5.1.4.1.1.77.1
RETIRED_VLMultiframeImageStorage ~5.1.4.1.1.77.2
SMPTEST2110-20:UncompressedInterlacedActiveVideo ~1.2.7.2
SMPTEST2110-20:UncompressedProgressiveActiveVideo ~1.2.7.1 SMPTEST2110-30:PCMDigitalAudio ~1.2.7.3
SPM2AVG152PDFrameOfReference ~1.4.1.17 SPM2AVG152T1FrameOfReference ~1.4.1.15
SPM2AVG152T2FrameOfReference ~1.4.1.16 SPM2AVG305T1FrameOfReference ~1.4.1.14
SPM2BRAINMASKFrameOfReference ~1.4.1.13 SPM2CSFFrameOfReference ~1.4.1.12
SPM2EPIFrameOfReference ~1.4.1.5 SPM2FILT1FrameOfReference ~1.4.1.6 SPM2GRAYFrameOfReference ~1.4.1.10
SPM2PDFrameOfReference ~1.4.1.4 SPM2PETFrameOfReference ~1.4.1.7
SPM2SINGLESUBJT1FrameOfReference ~1.4.1.18 SPM2SPECTFrameOfReference ~1.4.1.9
SPM2T1FrameOfReference ~1.4.1.2 SPM2T2FrameOfReference ~1.4.1.3 SPM2TRANSMFrameOfReference ~1.4.1.8
SPM2WHITEFrameOfReference ~1.4.1.11 SRI24FrameOfReferenc ~1.4.4.1 SpringColorPaletteSOPInstance ~1.5.5
StandardApplicationContext ~3.1.1.1 StandardRoboticCoordinateSystemFrameOfReference ~1.4.3.2
StorageCommitmentPushModelSOPInstance ~1.20.1.1 StorageServiceClass ~4.2
SubstanceAdministrationLoggingSOPInstance ~1.42.1 SummerColorPaletteSOPInstance ~1.5.6
TalairachBrainAtlasFrameOfReference ~1.4.1.1 UPSFilteredGlobalSubscriptionSOPInstance ~5.1.4.34.5.1
UPSGlobalSubscriptionSOPInstance ~5.1.4.34.5 UltrasoundMultiframeImageStorage ~5.1.4.1.1.3.1
UnifiedWorklistAndProcedureStepServiceClass ~5.1.4.34.6
UniversalCoordinatedTimeSynchronizationFrameOfReference ~15.1.1 WinterColorPaletteSOPInstance ~1.5.8
"""


def _uid_names() -> dict[str, str]:
    words = _DCMTK_UID_NAMES.split()
    names = {name: uid.replace("~", "1.2.840.10008.", 1) for name, uid in zip(words[::2], words[1::2],
                                                                              strict=True)}
    for uid, entry in UID_dictionary.items():
        keyword = entry[4]
        if keyword:
            for name in (keyword, f"{keyword}SOPClass", f"RETIRED_{keyword}",
                         f"RETIRED_{keyword}SOPClass"):
                names.setdefault(name, uid)
    return names


_UID_NAMES: dict[str, str] = {}


def uid_for_name(name: str) -> str | None:
    """The UID that DCMTK (or pydicom) names ``name``, e.g. ``LittleEndianExplicit``."""
    if not _UID_NAMES:
        _UID_NAMES.update(_uid_names())
    return _UID_NAMES.get(name.strip())


# ----------------------------------------------------------------------------------------------
# Reading


@dataclass
class ParsedDump:
    """What :func:`parse_dump` read: the dataset (with ``file_meta`` when the dump has group 0002
    lines) and notes on what was assumed or fixed, in plain words."""

    dataset: Dataset
    notes: list[str] = field(default_factory=list)


@dataclass
class _Line:
    number: int
    indent: int
    tag: int
    vr: str | None
    value: str | None


@dataclass
class _Node:
    line: _Line
    vr: str
    items: list[list[_Node]] | None = None


@dataclass
class _Open:
    kind: str  # "top", "seq" or "item"
    indent: int
    line: int
    children: list[_Node] = field(default_factory=list)
    node: _Node | None = None  # the sequence, for "seq"
    content_indent: int | None = None

    def indented(self) -> bool:
        return self.content_indent is not None and self.content_indent > self.indent


def _parse_line(number: int, text: str) -> _Line | None:
    line = text.rstrip()
    body = line.lstrip()
    if not body or body.startswith("#"):
        return None
    indent = len(line) - len(body)
    close = line.find(")")
    match = _TAG.fullmatch(re.sub(r"\s", "", line[:close + 1])) if close >= 0 else None
    if match is None:
        raise DumpError(f"line {number}: no tag (gggg,eeee) found")
    tag = int(match.group(1), 16) << 16 | int(match.group(2), 16)
    rest = line[close + 1:].lstrip()
    if tag == _PIXEL_DATA or rest[:2] == "pi":
        raise DumpError(f"line {number}: pixel data is not supported in worklist entries")
    vr: str | None = None
    if len(rest) >= 2 and "A" <= rest[0] <= "Z" and "A" <= rest[1] <= "Z":
        vr, rest = rest[:2], rest[2:]
        if vr not in KNOWN_VRS:
            raise DumpError(f"line {number}: unknown value representation {vr!r}")
    elif rest[:2] in _INTERNAL_VRS:
        rest = rest[2:]
    rest = rest.lstrip()
    value: str | None = None
    if rest.startswith("["):
        end = rest.rfind("]")
        if end < 0:
            raise DumpError(f"line {number}: the value opened with [ has no closing ] (a line "
                            "break inside a value is written \\n)")
        value = rest[1:end].replace("\\n", "\r\n") or None
    elif rest.startswith("("):
        if vr == "AT":
            value = re.sub(r"\s", "", rest[:rest.rfind(")") + 1])
    elif rest.startswith("<"):
        raise DumpError(f"line {number}: values read from other files (<...>) are not supported")
    elif rest and not rest.startswith("#"):
        hash_at = rest.find("#")
        value = (rest if hash_at < 0 else rest[:hash_at]).rstrip() or None
    return _Line(number, indent, tag, vr, value)


def _vr_of(tag: BaseTag, given: str | None) -> str:
    if given is not None:
        return given
    if tag.is_private:
        return "LO" if tag.is_private_creator else "UN"
    try:
        return dictionary_VR(tag).split(" or ")[0]
    except KeyError:
        return "UN"


class _Builder:
    """Builds the element tree from dump lines, closing items and sequences left open."""

    def __init__(self) -> None:
        self.stack = [_Open("top", -1, 0)]
        self.notes: list[str] = []

    def _pop(self, line: _Line | None, explicit: bool) -> None:
        closed = self.stack.pop()
        if not explicit and line is None and not closed.indented():
            what = "sequence" if closed.kind == "seq" else "item"
            self.notes.append(f"the {what} opened on line {closed.line} has no end delimiter; "
                              "it was ended at the end of the text")

    def _close_by_indent(self, line: _Line) -> None:
        while len(self.stack) > 1:
            top = self.stack[-1]
            if not top.indented() or line.indent >= (top.content_indent or 0):
                return
            if line.indent == top.indent and (
                    (line.tag == _ITEM_END and top.kind == "item")
                    or (line.tag == _SEQUENCE_END and top.kind == "seq")):
                return
            self._pop(line, explicit=False)

    def add(self, line: _Line) -> None:
        self._close_by_indent(line)
        top = self.stack[-1]
        if line.tag == _ITEM_END:
            if top.kind != "item":
                raise DumpError(f"line {line.number}: item end (fffe,e00d) without an open item")
            self._pop(line, explicit=True)
            return
        if line.tag == _SEQUENCE_END:
            if top.kind == "item":
                self._pop(line, explicit=False)
                top = self.stack[-1]
            if top.kind != "seq":
                raise DumpError(f"line {line.number}: sequence end (fffe,e0dd) without an open "
                                "sequence")
            self._pop(line, explicit=True)
            return
        if line.tag == _ITEM:
            if top.kind == "item":
                self._pop(line, explicit=False)
                top = self.stack[-1]
            if top.kind != "seq" or top.node is None or top.node.items is None:
                raise DumpError(f"line {line.number}: an item (fffe,e000) outside a sequence")
            if top.content_indent is None:
                top.content_indent = line.indent
            item: list[_Node] = []
            top.node.items.append(item)
            self.stack.append(_Open("item", line.indent, line.number, children=item))
            return
        if line.tag >> 16 == 0xFFFE:
            raise DumpError(f"line {line.number}: unexpected tag ({line.tag >> 16:04x},"
                            f"{line.tag & 0xFFFF:04x})")
        if top.kind == "seq":  # a sequence without items and without its end delimiter
            self._pop(line, explicit=False)
            top = self.stack[-1]
        if top.content_indent is None:
            top.content_indent = line.indent
        node = _Node(line, _vr_of(Tag(line.tag), line.vr))
        top.children.append(node)
        if node.vr == "SQ":
            node.items = []
            self.stack.append(_Open("seq", line.indent, line.number, node=node))

    def finish(self) -> list[_Node]:
        while len(self.stack) > 1:
            self._pop(None, explicit=False)
        return self.stack[0].children


class _Decoder:
    """Turns the element tree into pydicom elements, decoding text from the dump's bytes."""

    def __init__(self, from_bytes: bool, terms: list[str]) -> None:
        self.from_bytes = from_bytes
        self.terms = terms
        self.declared = bool(terms)
        self.encodings: list[str] | None = None
        self.notes: list[str] = []
        self.non_ascii = False
        self.invalid_utf8 = False
        if terms and not is_default(terms):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                encodings = convert_encodings(list(terms))
            self.encodings = None if caught else encodings

    def text(self, line: _Line, vr: str, value: str) -> str:
        if vr not in TEXT_VRS or (value.isascii() and not (self.from_bytes and "\x1b" in value)):
            return value
        self.non_ascii = True
        if not self.from_bytes:
            return value
        raw = value.encode("latin-1")
        if not self.declared:
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                self.invalid_utf8 = True
                return value  # Latin-1
        charset = "\\".join(self.terms)
        if self.encodings is None:
            raise DumpError(f"line {line.number}: the value is not plain ASCII, and "
                            f"SpecificCharacterSet {charset} does not say how to read it")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if vr == "PN":
                decoded = "\\".join("=".join(decode_bytes(group, self.encodings, PN_DELIMS)
                                             for group in person.split(b"="))
                                    for person in raw.split(b"\\"))
            elif vr in _SINGLE_VALUED_VRS:
                decoded = decode_bytes(raw, self.encodings, TEXT_VR_DELIMS)
            else:
                decoded = "\\".join(decode_bytes(part, self.encodings, TEXT_VR_DELIMS)
                                    for part in raw.split(b"\\"))
        if caught:
            raise DumpError(f"line {line.number}: the value is not valid {charset} text (a dump "
                            "is read in the character set its SpecificCharacterSet names)")
        return decoded

    def element(self, node: _Node) -> DataElement:
        line, vr = node.line, node.vr
        tag = Tag(line.tag)
        if vr == "SQ":
            items = [self.dataset(item) for item in node.items or ()]
            return DataElement(tag, "SQ", DicomSequence(items))
        text = line.value
        if text is None:
            return DataElement(tag, vr, "" if vr in _STRING_VRS else None,
                               validation_mode=pydicom_config.IGNORE)
        if vr in _STRING_VRS:
            text = text.rstrip(" ")
            if vr == "UI" and text.startswith("="):
                uid = uid_for_name(text[1:])
                if uid is None:
                    raise DumpError(f"line {line.number}: unknown UID name {text[1:]!r}")
                text = uid
            text = self.text(line, vr, text)
        elif text.startswith("="):
            raise DumpError(f"line {line.number}: values read from other files (={text[1:]}) "
                            "are not supported")
        try:
            value = value_from_text(vr, text)
            return DataElement(tag, vr, value, validation_mode=pydicom_config.IGNORE)
        except (ValueError, OverflowError) as exc:
            raise DumpError(f"line {line.number}: {text!r} is not a valid {vr} value ({exc})") \
                from None

    def dataset(self, nodes: list[_Node], meta: FileMetaDataset | None = None) -> Dataset:
        ds = Dataset()
        for node in nodes:
            tag = Tag(node.line.tag)
            if tag.element == 0 and tag.group != 0:
                continue  # group lengths: retired, or recomputed (file meta)
            if tag.group == 0:
                raise DumpError(f"line {node.line.number}: command elements (group 0000) cannot "
                                "be in a worklist entry")
            target: Dataset = ds
            if tag.group == 2:
                if meta is None:
                    raise DumpError(f"line {node.line.number}: file meta elements (group 0002) "
                                    "belong at the top level")
                target = meta
            if tag in target:
                self.notes.append(f"line {node.line.number}: ({tag.group:04x},{tag.element:04x}) "
                                  "appears again in the same dataset; the first value is kept "
                                  "(as dump2dcm does)")
                continue
            target[tag] = self.element(node)
        return ds


def parse_dump(text: str | bytes) -> ParsedDump:
    """Read a dump (dcmdump output, DCMTK's sample ``.dump`` files, or text written by hand in
    the format dump2dcm reads); raise :class:`DumpError` naming the line when it cannot be read.
    See the module documentation for the rules and for how bytes are decoded."""
    from_bytes = isinstance(text, bytes)
    source = text.decode("latin-1") if isinstance(text, bytes) else text
    if source.startswith("\ufeff"):
        source = source[1:]
    elif from_bytes and source.startswith("\xef\xbb\xbf"):  # a UTF-8 byte order mark
        source = source[3:]
    builder = _Builder()
    for number, raw_line in enumerate(source.split("\n"), start=1):
        line = _parse_line(number, raw_line)
        if line is not None:
            builder.add(line)
    nodes = builder.finish()
    charset = next((n for n in nodes if n.line.tag == _SPECIFIC_CHARACTER_SET), None)
    terms = [t.strip() for t in (charset.line.value or "").split("\\")] if charset else []
    decoder = _Decoder(from_bytes, terms if any(terms) else [])
    meta = FileMetaDataset()
    ds = decoder.dataset(nodes, meta)
    notes = builder.notes + decoder.notes
    if len(meta):
        ds.file_meta = meta
    if decoder.non_ascii and not decoder.declared:
        if decoder.invalid_utf8:
            ds.SpecificCharacterSet = "ISO_IR 100"
            notes.append("the dump has no SpecificCharacterSet (0008,0005) and its text is not "
                         "valid UTF-8: it was read as Latin-1 and (0008,0005) ISO_IR 100 was added")
        elif from_bytes:
            ds.SpecificCharacterSet = "ISO_IR 192"
            notes.append("the dump has no SpecificCharacterSet (0008,0005): its text was read as "
                         "UTF-8 and (0008,0005) ISO_IR 192 was added")
        else:
            ds.SpecificCharacterSet = "ISO_IR 192"
            notes.append("the dump has no SpecificCharacterSet (0008,0005) but non-ASCII text: "
                         "(0008,0005) ISO_IR 192 (UTF-8) was added")
    elif decoder.non_ascii and from_bytes and decoder.encodings \
            and decoder.encodings[0] not in ("UTF8", "utf_8") and _looks_utf8(nodes):
        notes.append("the text looks like UTF-8 but SpecificCharacterSet says "
                         + "\\".join(terms) + "; it was read as " + "\\".join(terms)
                         + " (as dump2dcm does). If the dump was saved as UTF-8, set "
                         "(0008,0005) to ISO_IR 192.")
    return ParsedDump(ds, notes)


def _looks_utf8(nodes: list[_Node]) -> bool:
    def values(level: list[_Node]) -> Iterator[str]:
        for node in level:
            if node.line.value is not None and node.vr in TEXT_VRS:
                yield node.line.value
            for item in node.items or ():
                yield from values(item)

    found = False
    for value in values(nodes):
        raw = value.encode("latin-1", "replace")
        if raw.isascii():
            continue
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return False
        found = True
    return found


def load_text(text: str | bytes) -> Dataset:
    """The dataset of a dump (see :func:`parse_dump`, which also returns notes)."""
    return parse_dump(text).dataset


# ----------------------------------------------------------------------------------------------
# Writing


def _keyword(elem: DataElement) -> str:
    tag = elem.tag
    if tag.is_private:
        if tag.is_private_creator:
            return "PrivateCreator"
        creator = getattr(elem, "private_creator", None)
        if creator:
            try:
                return re.sub(r"\W", "", get_private_entry(tag, creator)[2]) or "Unknown Tag & Data"
            except KeyError:
                pass
        return "Unknown Tag & Data"
    return keyword_for_tag(tag) or "Unknown Tag & Data"


def _encode(elem: DataElement, encodings: list[str]) -> bytes:
    """The value bytes of ``elem`` as pydicom writes them (padding included)."""
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        write_data_element(fp, elem, encodings)
    if any("replacement" in str(w.message) or "Unknown encoding" in str(w.message)
           for w in caught):
        raise DumpError(f"{_keyword(elem)}: its text cannot be written in "
                        + "\\".join(encodings))
    data = fp.getvalue()
    return data[12:] if elem.VR in _LONG_VRS else data[8:]


def _values(elem: DataElement) -> list[Any]:
    value = elem.value
    if value is None or (isinstance(value, (str, bytes)) and not value):
        return []
    if isinstance(value, (MultiValue, list, tuple)):
        return list(value)
    return [value]


def _vm(elem: DataElement) -> int:
    if elem.VR in ("OB", "OW", "UN", "OF", "OD", "OL", "OV", "LT", "ST", "UT", "UR"):
        return 1 if _values(elem) else 0
    return len(_values(elem))


def _escape(text: str) -> str:
    return text.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")


def _escape_bytes(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\\n").replace(b"\n", b"\\n").replace(b"\r", b"\\n")


_PLAIN = re.compile(r"[^\s()<>\[\]#=]+")


class _Writer:
    def __init__(self, as_bytes: bool, encodings: list[str]) -> None:
        self.as_bytes = as_bytes
        self.encodings = encodings
        self.lines: list[str | bytes] = []
        self.limitations: list[str] = []

    def emit(self, depth: int, head: str, value: str | bytes, comment: str) -> None:
        width = len(value)
        padding = " " * max(_VALUE_COLUMN - width, 0)
        prefix = "  " * depth + head
        if self.as_bytes:
            assert isinstance(value, bytes)
            self.lines.append(prefix.encode("ascii") + value
                              + f"{padding} # {comment}".encode("ascii", "replace"))
        else:
            assert isinstance(value, str)
            self.lines.append(f"{prefix}{value}{padding} # {comment}")

    def plain(self, text: str) -> str | bytes:
        return text.encode("ascii", "replace") if self.as_bytes else text

    def element(self, elem: DataElement, depth: int, where: str) -> None:
        tag = elem.tag
        vr = str(elem.VR).split(" or ")[0] if elem.VR else "UN"
        head = f"({tag.group:04x},{tag.element:04x}) {vr} "
        name = _keyword(elem)
        if vr == "SQ":
            items = list(elem.value or ())
            self.emit(depth, head, self.plain(f"(Sequence with undefined length #={len(items)})"),
                      f"u/l, 1 {name}")
            for number, item in enumerate(items, start=1):
                self.emit(depth + 1, "(fffe,e000) na ",
                          self.plain(f"(Item with undefined length #={len(item)})"), "u/l, 1 Item")
                for child in item:
                    self.element(child, depth + 2, f"{where}{name} item {number}: ")
                self.emit(depth + 1, "(fffe,e00d) na ", self.plain("(ItemDelimitationItem)"),
                          "  0, 0 ItemDelimitationItem")
            self.emit(depth, "(fffe,e0dd) na ", self.plain("(SequenceDelimitationItem)"),
                      "  0, 0 SequenceDelimitationItem")
            return
        if not _values(elem):
            self.emit(depth, head, self.plain("(no value available)"), f"  0, 0 {name}")
            return
        text = element_text(elem)
        try:
            encoded = _encode(elem, self.encodings)
        except DumpError:
            if self.as_bytes:
                raise
            encoded = text.encode("utf-8")
        length = len(encoded) + len(encoded) % 2
        comment = f"{length:3}, {_vm(elem)} {name}"
        if vr not in _STRING_VRS:
            self.emit(depth, head, self.plain(text), comment)
            return
        value_text = text.rstrip(" ")  # trailing spaces are insignificant; dump2dcm drops them
        if "\\n" in value_text:
            if _PLAIN.fullmatch(value_text) and not value_text.startswith("="):
                self.emit(depth, head, self.plain(value_text) if not self.as_bytes
                          else encoded.rstrip(b" \0"), comment)
                return
            self.limitations.append(f"{where}{name}: a backslash followed by n cannot be written "
                                    "inside [...] (dump2dcm reads it as a line break)")
        if re.search(r"[\r\n]", value_text) and not re.fullmatch(r"(?s)(?:[^\r\n]|\r\n)*",
                                                                  value_text):
            self.limitations.append(f"{where}{name}: a lone CR or LF is written as \\n, which "
                                    "dump2dcm reads as CR LF")
        if self.as_bytes:
            raw = encoded.rstrip(b"\0") if vr == "UI" else encoded.rstrip(b" ")
            self.emit(depth, head, b"[" + _escape_bytes(raw) + b"]", comment)
        else:
            self.emit(depth, head, f"[{_escape(value_text)}]", comment)


def _syntax_name(uid: Any) -> str:
    return _SYNTAX_NAMES.get(str(uid), str(uid))


def _write_dump(ds: Dataset, *, meta: bool, as_bytes: bool) -> _Writer:
    terms = charset_terms(ds.get("SpecificCharacterSet"))
    encodings = terms if any(terms) and not is_default(terms) else ["ISO_IR 192"]
    writer = _Writer(as_bytes, encodings)
    file_meta = getattr(ds, "file_meta", None) if meta else None
    syntax = file_meta.get("TransferSyntaxUID") if file_meta is not None else None
    if file_meta is not None and len(file_meta):
        writer.lines += [writer.plain(""), writer.plain("# Dicom-File-Format"), writer.plain(""),
                         writer.plain("# Dicom-Meta-Information-Header"),
                         writer.plain(f"# Used TransferSyntax: {_syntax_name(ExplicitVRLittleEndian)}")]
        writer.encodings = ["ISO_IR 6"]  # the file meta is always in the default repertoire
        for elem in file_meta:
            writer.element(elem, 0, "")
        writer.encodings = encodings
        writer.lines.append(writer.plain(""))
    writer.lines.append(writer.plain("# Dicom-Data-Set"))
    if syntax:
        writer.lines.append(writer.plain(f"# Used TransferSyntax: {_syntax_name(syntax)}"))
    for elem in ds:
        writer.element(elem, 0, "")
    longest = max((len(line if isinstance(line, bytes) else line.encode("utf-8"))
                   for line in writer.lines), default=0)
    if longest >= _DUMP2DCM_LINE_LIMIT:
        writer.limitations.append(f"a line is {longest} bytes long: dump2dcm needs "
                                  f"+l {longest + 2} to read it (its default allows 4094 characters)")
    return writer


def dump_text(ds: Dataset, *, meta: bool = True) -> str:
    """``ds`` as dcmdump-style lines (with its file meta information first, when it has one and
    ``meta``), values as text: for display and editing; read back with :func:`load_text`."""
    lines = _write_dump(ds, meta=meta, as_bytes=False).lines
    return "\n".join(str(line) for line in lines) + "\n"


def dump_bytes(ds: Dataset, *, meta: bool = True) -> bytes:
    """The lines of :func:`dump_text` with every value encoded in ``ds``'s Specific Character Set
    (UTF-8 when it has none), as dcmdump writes them: what ``dump2dcm`` reads back into ``ds``.
    Raises :class:`DumpError` when a text value cannot be written in that character set."""
    lines = _write_dump(ds, meta=meta, as_bytes=True).lines
    return b"\n".join(line if isinstance(line, bytes) else line.encode() for line in lines) + b"\n"


def dump_limitations(ds: Dataset) -> list[str]:
    """Values of ``ds`` that a dump cannot give back exactly (see the module documentation);
    trailing spaces, which DICOM says are insignificant, are not listed."""
    return _write_dump(ds, meta=True, as_bytes=False).limitations


# ----------------------------------------------------------------------------------------------
# DICOM JSON model


def to_json(ds: Dataset, *, indent: int | None = 2) -> str:
    """``ds`` in the DICOM JSON model (PS3.18 F.2; file meta information is not part of it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _json.dumps(ds.to_json_dict(), indent=indent, ensure_ascii=False)


def from_json(text: str | bytes) -> Dataset:
    """The dataset of a DICOM JSON text; raises :class:`DumpError` when it is not one."""
    try:
        document = _json.loads(text)
        if not isinstance(document, dict):
            raise DumpError("a DICOM JSON dataset is an object ({...})")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Dataset.from_json(document)
    except DumpError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise DumpError(f"not a DICOM JSON dataset ({exc})") from None


# ----------------------------------------------------------------------------------------------
# Command line


def _error(message: str) -> None:
    print(f"wldesk: error: {message}", file=sys.stderr)


def dump_command(path: Path, *, json: bool = False) -> int:
    """``wldesk dump FILE [--json]``: print the `.wl` file as a dump (in the file's character
    set, like dcmdump, so that ``dump2dcm`` and ``wldesk load`` read it back) or as DICOM JSON.
    Exit code 0, or 2 when the file cannot be read."""
    try:
        doc = load_document(path)
    except EditError as exc:
        _error(str(exc))
        return EXIT_BAD_INPUT
    for note in doc.notes:
        print(f"wldesk: note: {path}: {note}", file=sys.stderr)
    try:
        data = (to_json(doc.dataset) + "\n").encode("utf-8") if json else dump_bytes(doc.dataset)
    except EditError as exc:
        _error(f"{path}: {exc}")
        return EXIT_BAD_INPUT
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
    return EXIT_OK


def load_command(text_path: Path, out_path: Path) -> int:
    """``wldesk load TEXT OUT.wl``: make a `.wl` file from a dump or a DICOM JSON text, written
    atomically (explicit VR little endian with a new file meta, or the dump's own file meta and
    transfer syntax). Notes and the keys modalities need that are missing go to stderr. Exit code
    0; 2 when the text cannot be read or encoded; 1 when the file cannot be written."""
    try:
        data = Path(text_path).read_bytes()
    except OSError as exc:
        _error(f"cannot read {text_path}: {exc.strerror or exc}")
        return EXIT_BAD_INPUT
    try:
        if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{":
            parsed = ParsedDump(from_json(data.decode("utf-8")))
        else:
            parsed = parse_dump(data)
        doc = new_document(parsed.dataset)
        encode_document(doc)
    except (EditError, UnicodeDecodeError) as exc:
        _error(f"{text_path}: {exc}")
        return EXIT_BAD_INPUT
    for note in parsed.notes:
        print(f"wldesk: note: {text_path}: {note}", file=sys.stderr)
    try:
        save_document(doc, out_path, force=True)
    except EditError as exc:
        _error(str(exc))
        return EXIT_WRITE_FAILED
    for problem in worklist_problems(doc.dataset):
        print(f"wldesk: warning: {out_path}: {problem} (modalities may drop this entry)",
              file=sys.stderr)
    return EXIT_OK
