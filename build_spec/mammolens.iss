; Inno Setup script for a Windows installer around the PyInstaller one-folder app.
; NOT VERIFIED: MammoLens' installer path has only been built and tested on Linux.
; On Windows:  py -m venv .venv ; .venv\Scripts\pip install -e .[build]
;              .venv\Scripts\python build_spec\collect_licenses.py build\licenses
;              .venv\Scripts\pyinstaller --noconfirm --distpath dist build_spec\mammolens.spec
;              iscc build_spec\mammolens.iss      (Inno Setup 6)
#define AppVersion "0.1.0"

[Setup]
AppId={{6C1E2F2B-8C43-4D5E-9B7A-4D0E7A1F3B10}
AppName=MammoLens
AppVersion={#AppVersion}
AppPublisher=MammoLens
DefaultDirName={autopf}\MammoLens
DefaultGroupName=MammoLens
OutputDir=..\dist
OutputBaseFilename=mammolens-{#AppVersion}-windows-setup
Compression=lzma2
SolidCompression=yes
ArchitecturesInstallIn64BitMode=x64compatible
LicenseFile=..\LICENSE

[Files]
Source: "..\dist\mammolens\*"; DestDir: "{app}"; Flags: recursesubdirs ignoreversion

[Icons]
Name: "{group}\MammoLens"; Filename: "{app}\mammolens.exe"
Name: "{group}\MammoLens demo study"; Filename: "{app}\mammolens.exe"; Parameters: "--demo"

[Run]
Filename: "{app}\mammolens.exe"; Parameters: "--selftest"; Description: "Run the self-test"; Flags: postinstall skipifsilent unchecked
