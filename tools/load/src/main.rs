//! keygate-load: the benchmark's load generator (`npm run bench`, `npm run bench:ab`).
//!
//! Closed loop, like wrk: N keep-alive HTTP/1.1 connections on one thread, each sending its next
//! request as soon as the previous answer arrived, for a fixed time. A POST body per request (the
//! key taken round-robin from a file, put into the body template at `%KEY%`); an answer counts as
//! ok only if it is a 200 whose body contains the expected text. It prints one JSON line.
//!
//! Why not wrk's own percentiles: wrk 4 "corrects" its latency histogram for coordinated omission
//! (it adds, for every slow response, the samples a client sending at a fixed rate would have
//! seen), and its Lua `done()` only gets the corrected histogram. One stall of 200 ms at 20,000
//! requests per second then becomes hundreds of samples: wrk reported a hello-world's p99 as
//! 358 ms where every request's own latency gave 1.75 ms (and its mean as 45 ms where Little's
//! law, 32 connections at 22,000 requests per second, says 1.4 ms). This tool records each
//! request's latency as it happened.
//!
//! Usage: keygate-load URL --connections N --duration S --keys FILE --body TEMPLATE
//!        --expect TEXT [--auth TOKEN] [--timeout S]

mod http;
mod stats;

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use http::Parsed;

struct Args {
    addr: SocketAddr,
    host: String,
    path: String,
    connections: usize,
    duration: Duration,
    keys: Vec<String>,
    body: String,
    expect: String,
    auth: Option<String>,
    timeout: Duration,
}

fn args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let url = it
        .next()
        .ok_or("usage: keygate-load URL --connections N --duration S --keys FILE --body T --expect T")?;
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs")?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr: SocketAddr = host.parse().map_err(|_| format!("{host}: not an IP address and port"))?;
    let (mut connections, mut duration, mut keys, mut body, mut expect, mut auth, mut timeout) =
        (1, 5.0, None, None, None, None, 10.0);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let number = || value.parse::<f64>().map_err(|_| format!("{flag}: {value} is not a number"));
        match flag.as_str() {
            "--connections" => connections = number()? as usize,
            "--duration" => duration = number()?,
            "--timeout" => timeout = number()?,
            "--keys" => {
                let text = std::fs::read_to_string(&value).map_err(|e| format!("{value}: {e}"))?;
                keys = Some(text.lines().filter(|l| !l.is_empty()).map(String::from).collect::<Vec<_>>());
            }
            "--body" => body = Some(value),
            "--expect" => expect = Some(value),
            "--auth" => auth = Some(value).filter(|a| !a.is_empty()),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    let keys = keys.filter(|k| !k.is_empty()).unwrap_or_else(|| vec![String::new()]);
    Ok(Args {
        addr,
        host: host.to_string(),
        path: path.to_string(),
        connections: connections.max(1),
        duration: Duration::from_secs_f64(duration),
        keys,
        body: body.ok_or("--body is required")?,
        expect: expect.ok_or("--expect is required")?,
        auth,
        timeout: Duration::from_secs_f64(timeout),
    })
}

/// One request per key, ready to write.
fn requests(a: &Args) -> Vec<Vec<u8>> {
    let auth = a.auth.as_ref().map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    a.keys
        .iter()
        .map(|key| {
            let body = a.body.replace("%KEY%", key);
            format!(
                "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\n\r\n{body}",
                a.path,
                a.host,
                body.len()
            )
            .into_bytes()
        })
        .collect()
}

struct Conn {
    stream: TcpStream,
    /// The request being written and how much of it is out.
    out: Vec<u8>,
    written: usize,
    input: Vec<u8>,
    /// When the request in flight was started (`None`: none in flight).
    started: Option<Instant>,
}

#[derive(Default)]
struct Tally {
    ok: u64,
    bad: u64,
    socket_errors: u64,
    latencies_us: Vec<u64>,
}

fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let stream = std::net::TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_nonblocking(true)?;
    Ok(TcpStream::from_std(stream))
}

/// Writes what is left of the connection's request; true when all of it is out.
fn flush(c: &mut Conn) -> std::io::Result<bool> {
    while c.written < c.out.len() {
        match c.stream.write(&c.out[c.written..]) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => c.written += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

struct Load {
    poll: Poll,
    conns: Vec<Conn>,
    requests: Vec<Vec<u8>>,
    next: usize,
    tally: Tally,
    expect: Vec<u8>,
    /// `KEYGATE_LOAD_SHOW_BAD` is set: the first few answers that did not count go to stderr.
    show_bad: bool,
    addr: SocketAddr,
}

impl Load {
    /// Starts the next request on connection `i`.
    fn send(&mut self, i: usize) -> std::io::Result<()> {
        let request = &self.requests[self.next % self.requests.len()];
        self.next += 1;
        let c = &mut self.conns[i];
        c.out.clear();
        c.out.extend_from_slice(request);
        c.written = 0;
        c.started = Some(Instant::now());
        let interest = if flush(c)? { Interest::READABLE } else { Interest::READABLE | Interest::WRITABLE };
        self.poll.registry().reregister(&mut c.stream, Token(i), interest)
    }

    /// A connection that failed or was closed: counted if a request was in flight, replaced.
    fn replace(&mut self, i: usize) -> std::io::Result<()> {
        if self.conns[i].started.take().is_some() {
            self.tally.socket_errors += 1;
        }
        let _ = self.poll.registry().deregister(&mut self.conns[i].stream);
        let mut stream = connect(self.addr)?;
        self.poll.registry().register(&mut stream, Token(i), Interest::READABLE)?;
        self.conns[i].stream = stream;
        self.conns[i].input.clear();
        self.send(i)
    }

    /// Reads what connection `i` has; counts every complete response and starts the next request.
    fn readable(&mut self, i: usize) -> std::io::Result<()> {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match self.conns[i].stream.read(&mut buf) {
                Ok(0) => return self.replace(i),
                Ok(n) => self.conns[i].input.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return self.replace(i),
            }
        }
        loop {
            match http::parse(&self.conns[i].input) {
                Parsed::Incomplete => return Ok(()),
                Parsed::Invalid(why) => {
                    eprintln!("keygate-load: {why}");
                    return self.replace(i);
                }
                Parsed::Complete { status, body, len, close } => {
                    let now = Instant::now();
                    let c = &mut self.conns[i];
                    c.input.drain(..len);
                    if let Some(started) = c.started.take() {
                        self.tally.latencies_us.push(now.duration_since(started).as_micros() as u64);
                        if status == 200 && http::find(&body, &self.expect).is_some() {
                            self.tally.ok += 1;
                        } else {
                            self.tally.bad += 1;
                            if self.show_bad && self.tally.bad <= 5 {
                                let text = String::from_utf8_lossy(&body);
                                eprintln!(
                                    "keygate-load: {status} {}",
                                    text.chars().take(300).collect::<String>()
                                );
                            }
                        }
                    }
                    if close {
                        return self.replace(i);
                    }
                    self.send(i)?;
                }
            }
        }
    }
}

fn run(a: Args) -> std::io::Result<()> {
    let poll = Poll::new()?;
    let mut conns = Vec::with_capacity(a.connections);
    for i in 0..a.connections {
        let mut stream = connect(a.addr)?;
        poll.registry().register(&mut stream, Token(i), Interest::READABLE)?;
        conns.push(Conn { stream, out: Vec::new(), written: 0, input: Vec::new(), started: None });
    }
    let mut load = Load {
        poll,
        conns,
        requests: requests(&a),
        next: 0,
        tally: Tally::default(),
        expect: a.expect.into_bytes(),
        show_bad: std::env::var_os("KEYGATE_LOAD_SHOW_BAD").is_some(),
        addr: a.addr,
    };
    let start = Instant::now();
    let deadline = start + a.duration;
    for i in 0..a.connections {
        load.send(i)?;
    }
    let mut events = Events::with_capacity(1024);
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        load.poll.poll(&mut events, Some(deadline - now))?;
        for event in events.iter() {
            let i = event.token().0;
            if event.is_writable() {
                let c = &mut load.conns[i];
                match flush(c) {
                    Ok(true) => {
                        load.poll.registry().reregister(&mut c.stream, Token(i), Interest::READABLE)?
                    }
                    Ok(false) => {}
                    Err(_) => load.replace(i)?,
                }
            }
            if event.is_readable() {
                load.readable(i)?;
            }
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    // a request still unanswered after the timeout counts as an error, like wrk's --timeout
    let stuck =
        load.conns.iter().filter(|c| c.started.is_some_and(|s| s.elapsed() > a.timeout)).count() as u64;
    let t = &mut load.tally;
    let s = stats::Summary::of(&mut t.latencies_us);
    println!(
        "{{\"requests\":{},\"seconds\":{seconds:.3},\"ok\":{},\"bad\":{},\"socketErrors\":{},\"timeouts\":{},\
         \"mean\":{:.3},\"p50\":{:.3},\"p90\":{:.3},\"p99\":{:.3},\"p999\":{:.3},\"max\":{:.3}}}",
        t.ok + t.bad,
        t.ok,
        t.bad,
        t.socket_errors,
        stuck,
        s.mean_ms,
        s.p50_ms,
        s.p90_ms,
        s.p99_ms,
        s.p999_ms,
        s.max_ms,
    );
    Ok(())
}

fn main() {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("keygate-load: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(a) {
        eprintln!("keygate-load: {e}");
        std::process::exit(1);
    }
}
