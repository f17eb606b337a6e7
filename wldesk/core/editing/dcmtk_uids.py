"""The names DCMTK gives well-known UIDs (dcmdump writes them as =Name, dump2dcm reads them)."""

from __future__ import annotations

from pydicom._uid_dict import UID_dictionary

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
