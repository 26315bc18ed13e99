//! The binary must run on Lambda's `provided.al2023`, whose glibc is 2.34: no symbol version
//! newer than `GLIBC_2.34` may be referenced. Checks the binary this test run built and, when
//! `scripts/build-lambda.sh` has run, the deployable `dist/lambda/bootstrap` and its zip.

use std::path::Path;
use std::process::Command;

const AL2023_GLIBC: (u32, u32) = (2, 34);

/// The newest `GLIBC_x.y` version `binary` asks the dynamic linker for.
fn newest_glibc(binary: &Path) -> (u32, u32) {
    let out = Command::new("readelf")
        .args(["--version-info", "--wide"])
        .arg(binary)
        .output()
        .expect("readelf (binutils) is needed for this test");
    assert!(out.status.success(), "readelf failed on {}", binary.display());
    let text = String::from_utf8_lossy(&out.stdout);
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .filter_map(|w| w.strip_prefix("GLIBC_"))
        .filter_map(|v| {
            let mut parts = v.split('.').map(|p| p.parse::<u32>().ok());
            Some((parts.next()??, parts.next().flatten().unwrap_or(0)))
        })
        .max()
        .unwrap_or_else(|| panic!("no GLIBC symbol versions in {}", binary.display()))
}

#[test]
fn test_build_needs_no_glibc_newer_than_al2023() {
    let bin = Path::new(env!("CARGO_BIN_EXE_target-api"));
    let newest = newest_glibc(bin);
    assert!(newest <= AL2023_GLIBC, "{} needs GLIBC_{}.{}", bin.display(), newest.0, newest.1);
}

#[test]
fn deployable_artifact_if_built_fits_al2023() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let bootstrap = root.join("dist/lambda/bootstrap");
    if !bootstrap.exists() {
        eprintln!("dist/lambda/bootstrap not built; scripts/build-lambda.sh checks it when it builds it");
        return;
    }
    let newest = newest_glibc(&bootstrap);
    assert!(newest <= AL2023_GLIBC, "bootstrap needs GLIBC_{}.{}", newest.0, newest.1);
    let zip = root.join("dist/lambda/target-api.zip");
    let listing = Command::new("python3")
        .args(["-c", "import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); print(' '.join(f'{i.filename}:{(i.external_attr>>16)&0o777:o}' for i in z.infolist()))"])
        .arg(&zip)
        .output()
        .expect("python3");
    assert_eq!(
        String::from_utf8_lossy(&listing.stdout).trim(),
        "bootstrap:755",
        "zip must hold only an executable bootstrap"
    );
}
