; wldesk setup.exe (NSIS 3, x64, Modern UI 2), built from the PyInstaller onedir bundle.
;
;   makensis -XTarget amd64-unicode -DVERSION=0.1.0 -DNUMVERSION=0.1.0.0 \
;            -DBUNDLE=build/windows/dist/wldesk -DICON=wldesk.ico -DOUTFILE=wldesk-0.1.0-setup.exe \
;            installer/wldesk.nsi
;
; Double-click: welcome, components (program; start at login for all users), folder, progress,
; finish page with "Start wldesk". Silent: setup.exe /S [/PORT=104] [/AUTOSTART=0|1] [/D=dir]
; (/D last, unquoted, NSIS rule).
;
; Per machine (admin): files in Program Files\wldesk; Start Menu shortcut for all users; optional
; HKLM Run key; then `wldesk-cli machine-setup install` creates C:\ProgramData\wldesk
; (settings.json, worklists\, logs\), lets Users modify it and adds the inbound firewall rule
; "wldesk DICOM" for the configured port. An upgrade runs the installed uninstaller in /UPGRADE
; mode first (program files only). Uninstall removes program, shortcut, Run key and firewall rule
; and keeps C:\ProgramData\wldesk (settings and worklists).

Unicode true
!include MUI2.nsh
!include x64.nsh
!include FileFunc.nsh
!include LogicLib.nsh
!include Sections.nsh

!ifndef BUNDLE
  !error "define BUNDLE (the PyInstaller onedir folder holding wldesk.exe)"
!endif
!ifndef VERSION
  !define VERSION 0.0.0
!endif
!ifndef NUMVERSION
  !define NUMVERSION 0.0.0.0
!endif
!ifndef OUTFILE
  !define OUTFILE "wldesk-${VERSION}-setup.exe"
!endif
!ifndef ICON
  !define ICON "${NSISDIR}\Contrib\Graphics\Icons\modern-install.ico"
!endif

!define APP "wldesk"
!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\wldesk"
!define RUN_KEY "Software\Microsoft\Windows\CurrentVersion\Run"
!define RULE "wldesk DICOM"

Name "wldesk ${VERSION}"
OutFile "${OUTFILE}"
InstallDir "$PROGRAMFILES64\wldesk"
RequestExecutionLevel admin
SetCompressor /SOLID lzma
ShowInstDetails show
BrandingText "wldesk ${VERSION}"

VIProductVersion "${NUMVERSION}"
VIAddVersionKey "ProductName" "wldesk"
VIAddVersionKey "FileDescription" "wldesk setup"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "LegalCopyright" "GPL-3.0-or-later"

Var Port
Var AutostartOption

!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_ABORTWARNING
!define MUI_WELCOMEPAGE_TEXT "This installs wldesk ${VERSION}, the DICOM Modality Worklist server, for every user of this computer.$\r$\n$\r$\nThe worklist folder and the settings go to C:\ProgramData\wldesk and stay when wldesk is uninstalled.$\r$\n$\r$\nClick Next to continue."
!define MUI_FINISHPAGE_RUN
!define MUI_FINISHPAGE_RUN_TEXT "Start wldesk"
!define MUI_FINISHPAGE_RUN_FUNCTION StartUnelevated
!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

!macro StopRunning
  ; a running wldesk keeps its files open; the tray app saves settings as they change
  nsExec::Exec '"$SYSDIR\taskkill.exe" /F /IM wldesk.exe'
  Pop $0
  nsExec::Exec '"$SYSDIR\taskkill.exe" /F /IM wldesk-cli.exe'
  Pop $0
!macroend

Section "wldesk (required)" SecMain
  SectionIn RO
  SetShellVarContext all
  !insertmacro StopRunning
  ; upgrade: remove the old program files with the old uninstaller (it keeps the data)
  ${If} ${FileExists} "$INSTDIR\uninstall.exe"
    DetailPrint "Removing the installed version (settings and worklists are kept)"
    ExecWait '"$INSTDIR\uninstall.exe" /S /UPGRADE _?=$INSTDIR' $0
    Delete "$INSTDIR\uninstall.exe"
  ${EndIf}
  SetOutPath "$INSTDIR"
  File /r "${BUNDLE}\*"
  WriteUninstaller "$INSTDIR\uninstall.exe"
  CreateShortcut "$SMPROGRAMS\wldesk.lnk" "$INSTDIR\wldesk.exe" "" "$INSTDIR\wldesk.exe" 0 \
      SW_SHOWNORMAL "" "DICOM Modality Worklist server"

  DetailPrint "Setting up C:\ProgramData\wldesk and the firewall"
  ${If} $Port != ""
    nsExec::ExecToLog '"$INSTDIR\wldesk-cli.exe" machine-setup install --port=$Port'
  ${Else}
    nsExec::ExecToLog '"$INSTDIR\wldesk-cli.exe" machine-setup install'
  ${EndIf}
  Pop $0
  ${If} $0 != 0
    DetailPrint "Warning: machine set-up reported a problem (exit code $0); see the lines above"
  ${EndIf}

  WriteRegStr HKLM "${UNINST_KEY}" "DisplayName" "wldesk"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINST_KEY}" "Publisher" "wldesk"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\wldesk.exe"
  WriteRegStr HKLM "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${UNINST_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKLM "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  WriteRegDWORD HKLM "${UNINST_KEY}" "EstimatedSize" $0
SectionEnd

Section "Start wldesk at login (all users)" SecAutostart
  WriteRegStr HKLM "${RUN_KEY}" "wldesk" '"$INSTDIR\wldesk.exe" --minimized'
SectionEnd

Section "-autostart off"
  ${IfNot} ${SectionIsSelected} ${SecAutostart}
    DeleteRegValue HKLM "${RUN_KEY}" "wldesk"
  ${EndIf}
SectionEnd

LangString DESC_Main ${LANG_ENGLISH} "The wldesk program, a Start Menu shortcut, the worklist folder C:\ProgramData\wldesk\worklists and a firewall rule for the DICOM port."
LangString DESC_Autostart ${LANG_ENGLISH} "Open wldesk in the tray whenever someone logs in to this computer, so that the worklist is served."
!insertmacro MUI_FUNCTION_DESCRIPTION_BEGIN
  !insertmacro MUI_DESCRIPTION_TEXT ${SecMain} $(DESC_Main)
  !insertmacro MUI_DESCRIPTION_TEXT ${SecAutostart} $(DESC_Autostart)
!insertmacro MUI_FUNCTION_DESCRIPTION_END

Function .onInit
  ${IfNot} ${RunningX64}
    MessageBox MB_ICONSTOP "wldesk needs 64-bit Windows 10 (1809) or later." /SD IDOK
    Abort
  ${EndIf}
  SetRegView 64
  SetShellVarContext all
  ReadRegStr $0 HKLM "${UNINST_KEY}" "InstallLocation"
  ${If} $0 != ""
    StrCpy $INSTDIR $0
  ${EndIf}
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/PORT=" $Port
  ${If} ${Errors}
    StrCpy $Port ""
  ${EndIf}
  ClearErrors
  ${GetOptions} $R0 "/AUTOSTART=" $AutostartOption
  ${If} ${Errors}
    ; no option: an upgrade keeps the previous choice, a first install starts at login
    StrCpy $AutostartOption "1"
    ${If} $0 != ""
      ClearErrors
      ReadRegStr $1 HKLM "${RUN_KEY}" "wldesk"
      ${If} ${Errors}
        StrCpy $AutostartOption "0"
      ${EndIf}
    ${EndIf}
  ${EndIf}
  ${If} $AutostartOption == "0"
    !insertmacro UnselectSection ${SecAutostart}
  ${EndIf}
FunctionEnd

Function StartUnelevated
  ; the setup runs as administrator; Explorer starts wldesk as the logged-in user
  Exec '"$WINDIR\explorer.exe" "$INSTDIR\wldesk.exe"'
FunctionEnd

Function un.onInit
  SetRegView 64
  SetShellVarContext all
FunctionEnd

Section "Uninstall"
  !insertmacro StopRunning
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/UPGRADE" $R1
  ${If} ${Errors}
    ; a real uninstall (not the first half of an upgrade)
    Delete "$SMPROGRAMS\wldesk.lnk"
    DeleteRegValue HKLM "${RUN_KEY}" "wldesk"
    nsExec::ExecToLog '"$SYSDIR\netsh.exe" advfirewall firewall delete rule name="${RULE}"'
    Pop $0
    DeleteRegKey HKLM "${UNINST_KEY}"
    DetailPrint "Kept: C:\ProgramData\wldesk (settings and worklists)"
  ${EndIf}
  ; only what the installer put there (never RMDir /r a folder the user may have chosen)
  RMDir /r "$INSTDIR\_internal"
  Delete "$INSTDIR\wldesk.exe"
  Delete "$INSTDIR\wldesk-cli.exe"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
SectionEnd
