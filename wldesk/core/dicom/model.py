"""The Modality Worklist information model (PS3.4 Table K.6-1) as wldesk uses it.

``WORKLIST_ATTRIBUTES`` holds the top-level attributes of the model: the table's own rows plus the
attributes of the patient, visit and request modules that worklists carry (the table admits "all
other attributes" of those modules). Inside a sequence every attribute is a matching key: the
table admits all other attributes of the Scheduled Procedure Step, and code sequences carry the
coded-entry macros. Top-level attributes outside the model are "optional keys not supported for
matching": they are returned but never filter, and pending answers then carry status 0xFF01.
"""

from __future__ import annotations

from typing import Final

from pydicom.datadict import tag_for_keyword


def _tags(*keywords: str) -> frozenset[int]:
    tags = {tag_for_keyword(k) for k in keywords}
    if None in tags:
        raise KeyError([k for k in keywords if tag_for_keyword(k) is None])
    return frozenset(t for t in tags if t is not None)


WORKLIST_ATTRIBUTES: Final = _tags(
    # SOP Common (SpecificCharacterSet is never matched: it describes the query's encoding)
    # Scheduled Procedure Step
    # "All other Attributes of the Scheduled Procedure Step Sequence" are optional matching keys
    "ScheduledProcedureStepSequence",
    "ScheduledSpecimenSequence",
    "BarcodeValue",
    # Requested Procedure
    "RequestedProcedureID",
    "RequestedProcedureDescription",
    "RequestedProcedureCodeSequence",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "ReferencedStudySequence",
    "RequestedProcedurePriority",
    "PatientTransportArrangements",
    "ReasonForTheRequestedProcedure",
    "ReasonForRequestedProcedureCodeSequence",
    "RequestedProcedureComments",
    "RequestedProcedureLocation",
    "ConfidentialityCode",
    "ReportingPriority",
    "NamesOfIntendedRecipientsOfResults",
    "IntendedRecipientsOfResultsIdentificationSequence",
    # Imaging Service Request
    "AccessionNumber",
    "IssuerOfAccessionNumberSequence",
    "RequestingPhysician",
    "RequestingPhysicianIdentificationSequence",
    "ReferringPhysicianName",
    "ReferringPhysicianIdentificationSequence",
    "RequestingService",
    "RequestingServiceCodeSequence",
    "ReasonForTheImagingServiceRequest",
    "IssueDateOfImagingServiceRequest",
    "IssueTimeOfImagingServiceRequest",
    "PlacerOrderNumberImagingServiceRequest",
    "FillerOrderNumberImagingServiceRequest",
    "OrderEnteredBy",
    "OrderEntererLocation",
    "OrderCallbackPhoneNumber",
    "ImagingServiceRequestComments",
    # Visit Identification, Status, Relationship, Admission
    "AdmissionID",
    "IssuerOfAdmissionIDSequence",
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionCodeSequence",
    "CurrentPatientLocation",
    "VisitStatusID",
    "PatientInstitutionResidence",
    "VisitComments",
    "ReferencedPatientSequence",
    "AdmittingDiagnosesDescription",
    "AdmittingDiagnosesCodeSequence",
    "RouteOfAdmissions",
    "AdmittingDate",
    "AdmittingTime",
    # Patient Identification
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "IssuerOfPatientIDQualifiersSequence",
    "OtherPatientIDsSequence",
    "OtherPatientNames",
    "PatientBirthName",
    "PatientMotherBirthName",
    "MedicalRecordLocator",
    # Patient Demographic
    "PatientAge",
    "Occupation",
    "ConfidentialityConstraintOnPatientDataDescription",
    "PatientBirthDate",
    "PatientBirthTime",
    "PatientSex",
    "PatientPrimaryLanguageCodeSequence",
    "QualityControlSubject",
    "PatientSize",
    "PatientWeight",
    "PatientAddress",
    "MilitaryRank",
    "BranchOfService",
    "CountryOfResidence",
    "RegionOfResidence",
    "PatientTelephoneNumbers",
    "EthnicGroup",
    "PatientReligiousPreference",
    "PatientComments",
    "PatientSpeciesDescription",
    "PatientSpeciesCodeSequence",
    "PatientSexNeutered",
    "PatientBreedDescription",
    "PatientBreedCodeSequence",
    "BreedRegistrationSequence",
    "ResponsiblePerson",
    "ResponsiblePersonRole",
    "ResponsibleOrganization",
    # Patient Medical
    "MedicalAlerts",
    "Allergies",
    "SmokingStatus",
    "AdditionalPatientHistory",
    "PregnancyStatus",
    "LastMenstrualDate",
    "SpecialNeeds",
    "PatientState",
    "PertinentDocumentsSequence",
    "PatientClinicalTrialParticipationSequence",
)

SPS_SEQUENCE: Final = 0x00400100
STATION_AET: Final = 0x00400001
SPS_STATUS: Final = 0x00400020  # Scheduled Procedure Step Status

# Date and time attributes matched together as one date-time range when both carry a constraint.
DATE_TIME_PAIRS: Final = {
    0x00400002: 0x00400003,  # Scheduled Procedure Step Start Date / Time
    0x00400004: 0x00400005,  # Scheduled Procedure Step End Date / Time
    0x00080020: 0x00080030,  # Study Date / Time
}

# Keys the store indexes to pick candidate entries before matching.
ACCESSION_NUMBER: Final = 0x00080050
PATIENT_ID: Final = 0x00100020
MODALITY: Final = 0x00080060
SPS_START_DATE: Final = 0x00400002
