//! A small HTTP service for the end-to-end tests of updates and health checks (and a sample of
//! what a service under the scheduler looks like): `http_service PORT VERSION`.
//!
//! - `GET /` answers the version; `GET /health` answers `ok`, or 500 when the version contains
//!   `broken` or a file named `unhealthy` exists in the working directory (the task's sandbox).
//! - `POST /quitquitquit` and `POST /abortabortabort` (Aurora's graceful shutdown endpoints) append
//!   `graceful` / `shutdown` to `lifecycle.log` in the working directory, answer, and exit.
//!
//! Only the standard library: one thread per connection, one request per connection.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(port), Some(version)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: http_service PORT VERSION");
        std::process::exit(2);
    };
    let listener = TcpListener::bind(("127.0.0.1", port.parse::<u16>().expect("a port number")))
        .expect("cannot listen");
    println!("serving {version} on port {port}");
    for stream in listener.incoming().flatten() {
        let version = version.clone();
        std::thread::spawn(move || serve(stream, &version));
    }
}

fn serve(mut stream: TcpStream, version: &str) {
    let mut line = String::new();
    let mut reader = BufReader::new(&stream);
    if reader.read_line(&mut line).is_err() {
        return;
    }
    // Skip the headers.
    let mut header = String::new();
    while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
        header.clear();
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (code, body, exit) = match (method, path) {
        ("GET", "/health") => {
            if version.contains("broken") || std::path::Path::new("unhealthy").exists() {
                (500, "unhealthy".to_owned(), false)
            } else {
                (200, "ok".to_owned(), false)
            }
        }
        ("GET", "/") => (200, version.to_owned(), false),
        ("POST", "/quitquitquit") => (200, log("graceful"), true),
        ("POST", "/abortabortabort") => (200, log("shutdown"), true),
        _ => (404, "not found".to_owned(), false),
    };
    let reply = format!(
        "HTTP/1.1 {code} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(reply.as_bytes());
    let _ = stream.flush();
    if exit {
        std::process::exit(0);
    }
}

fn log(what: &str) -> String {
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open("lifecycle.log")
    {
        let _ = writeln!(f, "{what}");
    }
    what.to_owned()
}
