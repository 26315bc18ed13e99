//! Every file under `tests/malformed/` is a broken scenario whose first line says what the error
//! must contain: `# expect: <line> | <field> | <message part>`. `loadgen run` must exit 2 with
//! a message naming the file, that line and the field — and never panic.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn malformed_scenarios_exit_2_naming_file_line_and_field() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/malformed");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 25, "at least 25 malformed scenarios, found {}", files.len());
    let mut failures = Vec::new();
    for file in &files {
        // Lossy: one of them is not UTF-8 on purpose (its first line is).
        let text = String::from_utf8_lossy(&std::fs::read(file).unwrap()).into_owned();
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} lacks '# expect:'", file.display()));
        let parts: Vec<&str> = expect.split(" | ").collect();
        let (line, wanted) = (parts[0], &parts[1..]);
        for args in [vec!["run", "--quiet"], vec!["validate"]] {
            let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
                .args(&args)
                .arg(file)
                .env_remove("LOADGEN_TEST_SURELY_UNSET")
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            let problems: Vec<String> = [
                (out.status.code() != Some(2)).then(|| format!("exit {:?}, want 2", out.status.code())),
                (!stderr.contains(&format!("{}:{line}:", file.display())))
                    .then(|| format!("no '{}:{line}:'", file.display())),
                stderr.contains("panicked").then(|| "panicked".to_owned()),
            ]
            .into_iter()
            .flatten()
            .chain(wanted.iter().filter(|w| !stderr.contains(**w)).map(|w| format!("missing '{w}'")))
            .collect();
            if !problems.is_empty() {
                failures.push(format!(
                    "{} ({}): {}\n    stderr: {}",
                    file.display(),
                    args[0],
                    problems.join("; "),
                    stderr.trim()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{} problem(s):\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn shipped_scenarios_are_valid() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    assert!(files.len() >= 6);
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen")).arg("validate").args(&files).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_reader_that_goes_away_ends_the_output_without_a_panic() {
    // `loadgen validate scenarios/*.toml | head -1`: the pipe closes after the first line.
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let mut child = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .arg("validate")
        .args(&files)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Closed before anything is read.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_refused_url_never_prints_its_password() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/malformed");
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .arg("validate")
        .arg(dir.join("105-target-url-userinfo.toml"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("<redacted>@127.0.0.1") && !stderr.contains("hunter2"), "{stderr}");
    let flag = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["run", "--quiet", "--target", "http://u:hunter2@127.0.0.1:9"])
        .arg(dir.join("../../../scenarios/ci-smoke.toml"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&flag.stderr);
    assert_eq!(flag.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--target") && !stderr.contains("hunter2"), "{stderr}");
    let nan = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["run", "--quiet", "--max-cost-usd", "nan"])
        .arg(dir.join("../../../scenarios/ci-smoke.toml"))
        .output()
        .unwrap();
    assert_eq!(nan.status.code(), Some(2), "--max-cost-usd nan is refused");
}

#[test]
fn validate_lists_every_error_of_a_file_and_run_the_first() {
    let dir = std::env::temp_dir().join(format!("loadgen-every-error-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("three.toml");
    std::fs::write(
        &file,
        "name = \"three\"\n[[phase]]\nname = \"p\"\nduration = \"1s\"\nrate = -1\n\
         [[request]]\nname = \"r\"\npath = \"relative\"\n[thresholds]\n\"errors.rate\" = \"< 1\"\n",
    )
    .unwrap();
    let shown = file.display().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen")).arg("validate").arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    for line in ["5", "8", "10"] {
        assert!(stderr.contains(&format!("FAIL {shown}:{line}:")), "line {line}: {stderr}");
    }
    assert!(stderr.contains("3 errors") && stderr.contains("\"1%\""), "{stderr}");
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen")).args(["run", "--quiet"]).arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("{shown}:5:")) && !stderr.contains(&format!("{shown}:8:")), "{stderr}");
}
