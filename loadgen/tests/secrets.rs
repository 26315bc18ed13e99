//! Secrets never reach an output: a marker value is planted in every secret-bearing place a
//! scenario has — `[target]`, `[targets.NAME]` and request headers, `{env:…}` values in a body,
//! a bearer token from the environment and one a command prints, the local stack's function
//! environment, a URL's password — and every file a run writes (results.json, report.html,
//! junit.xml, summary.md, the function log) and all it prints are searched for it. The target
//! echoes each request back and every check fails, so the failing bodies shown hold them all.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;

use common::{target_api, tempdir};

/// Every marker starts with this; what follows makes each one unique.
const MARKER: &str = "Zq7MARKERsecret";

/// A server that answers every request with the request itself (line, headers and body).
fn echo_target() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            std::thread::spawn(move || echo(s));
        }
    });
    url
}

fn echo(stream: TcpStream) {
    let mut out = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut head = String::new();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            head.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let mut reply = head.into_bytes();
        reply.extend_from_slice(&body);
        let header = format!("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n", reply.len());
        if out.write_all(header.as_bytes()).and_then(|()| out.write_all(&reply)).is_err() {
            return;
        }
    }
}

/// Every file under `dir`, as text.
fn files(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else if let Ok(bytes) = std::fs::read(&p) {
            out.push((p.display().to_string(), String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    out
}

/// Runs `loadgen run` with `args` and `env`; fails the test where any output holds a marker.
fn run_and_search(tag: &str, scenario: &str, args: &[&str], env: &[(&str, String)]) -> std::process::Output {
    let dir = tempdir(tag);
    let file = dir.join("s.toml");
    std::fs::write(&file, scenario).unwrap();
    let out_dir = dir.join("out");
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .arg("run")
        .arg(&file)
        .args(["--out", out_dir.to_str().unwrap()])
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("LOADGEN_TARGET_API", target_api())
        .output()
        .unwrap();
    let printed = [("stdout", &out.stdout), ("stderr", &out.stderr)]
        .map(|(name, bytes)| (name.to_owned(), String::from_utf8_lossy(bytes).into_owned()));
    let written = files(&out_dir);
    let leaks: Vec<&String> =
        printed.iter().chain(written.iter()).filter(|(_, text)| text.contains(MARKER)).map(|(name, _)| name).collect();
    assert!(leaks.is_empty(), "{tag}: a secret reached {leaks:?}");
    out
}

#[test]
fn no_secret_reaches_any_output_of_a_url_run() {
    let url = echo_target();
    let scenario = format!(
        "name = \"secrets\"\n\
         [target]\nheaders = {{ x-api-key = \"{MARKER}-target-header\" }}\n\
         [targets.other]\nurl = \"{url}\"\n[targets.other.auth]\nbearer = {{ env = \"OTHER_TOKEN\" }}\n\
         [targets.third]\nurl = \"{url}\"\nheaders = {{ x-third = \"{{env:THIRD}}\" }}\n\
         [targets.third.auth]\nbearer = {{ command = \"echo {MARKER}-command-token\" }}\n\
         [[phase]]\nname = \"p\"\nduration = \"1s\"\nrate = 20\n\
         [[request]]\nname = \"own\"\nmethod = \"POST\"\npath = \"/a\"\n\
         headers = {{ authorization = \"Bearer {MARKER}-request-header\" }}\n\
         body = \"{{{{\\\"password\\\": \\\"{{env:PASSWORD}}\\\", \\\"x\\\": \\\"\\u001b[2J\\r\\\"}}}}\"\n\
         check = {{ body_contains = \"never in any answer\" }}\n\
         [[request]]\nname = \"to-other\"\ntarget = \"other\"\npath = \"/b\"\ncheck = {{ status = [201] }}\n\
         [[request]]\nname = \"to-third\"\ntarget = \"third\"\npath = \"/c\"\ncheck = {{ body_contains = \"nope\" }}\n"
    );
    let env = [
        ("OTHER_TOKEN", format!("{MARKER}-env-token")),
        ("PASSWORD", format!("{MARKER}-body-env")),
        ("THIRD", format!("{MARKER}-header-env")),
    ];
    let out = run_and_search("secrets-url", &scenario, &["--target", &url], &env);
    // The run happened, and its checks failed on bodies that held every secret.
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("checks"), "{stdout}");
    // The echoed body held an escape sequence and a carriage return: shown, never obeyed.
    let printed = [&out.stdout[..], &out.stderr[..]].concat();
    assert!(!printed.iter().any(|b| *b == 0x1b || *b == b'\r'), "{stdout}");

    // A password in a URL is refused, and the refusal does not print it.
    let with_password = url.replace("http://", &format!("http://user:{MARKER}-url-password@"));
    let out = run_and_search("secrets-userinfo", &scenario, &["--target", &with_password], &env);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn no_secret_reaches_any_output_of_a_local_stack_run() {
    let scenario = format!(
        "name = \"stack-secrets\"\n[stack]\nenvironment = {{ API_KEY = \"{MARKER}-function-env\" }}\n\
         [data]\nitems = 0\n\
         [target]\nheaders = {{ x-api-key = \"{MARKER}-target-header\" }}\n\
         [[phase]]\nname = \"p\"\nduration = \"1s\"\nrate = 10\n\
         [[request]]\nname = \"r\"\npath = \"/health\"\nheaders = {{ authorization = \"Bearer {MARKER}-request-header\" }}\n"
    );
    let out = run_and_search("secrets-stack", &scenario, &[], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}
