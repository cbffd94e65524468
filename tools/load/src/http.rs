//! Reading one HTTP/1.1 response off the front of a connection's buffer.

/// What the front of a buffer holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Not a whole response yet: read more.
    Incomplete,
    /// A whole response of `len` bytes; its body is `body` (decoded when chunked).
    Complete { status: u16, body: Vec<u8>, len: usize, close: bool },
    /// Not a response this tool can read.
    Invalid(&'static str),
}

/// Parses the response at the front of `buf`.
pub fn parse(buf: &[u8]) -> Parsed {
    let Some(head_end) = find(buf, b"\r\n\r\n") else {
        return Parsed::Incomplete;
    };
    let Ok(head) = std::str::from_utf8(&buf[..head_end]) else {
        return Parsed::Invalid("the response head is not UTF-8");
    };
    let mut lines = head.split("\r\n");
    let status = match lines.next().and_then(|l| l.split(' ').nth(1)).map(str::parse::<u16>) {
        Some(Ok(status)) => status,
        _ => return Parsed::Invalid("no status line"),
    };
    let (mut length, mut chunked, mut close) = (None, false, false);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Parsed::Invalid("a header line without a colon");
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            match value.parse::<usize>() {
                Ok(n) => length = Some(n),
                Err(_) => return Parsed::Invalid("a content-length that is not a number"),
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    let start = head_end + 4;
    if chunked {
        return match dechunk(&buf[start..]) {
            Chunks::Incomplete => Parsed::Incomplete,
            Chunks::Invalid => Parsed::Invalid("a malformed chunked body"),
            Chunks::Done { body, len } => Parsed::Complete { status, body, len: start + len, close },
        };
    }
    let Some(length) = length else {
        return Parsed::Invalid("neither content-length nor chunked");
    };
    if buf.len() < start + length {
        return Parsed::Incomplete;
    }
    Parsed::Complete { status, body: buf[start..start + length].to_vec(), len: start + length, close }
}

enum Chunks {
    Incomplete,
    Invalid,
    Done { body: Vec<u8>, len: usize },
}

fn dechunk(buf: &[u8]) -> Chunks {
    let (mut at, mut body) = (0, Vec::new());
    loop {
        let Some(line_end) = find(&buf[at..], b"\r\n") else {
            return Chunks::Incomplete;
        };
        let size = std::str::from_utf8(&buf[at..at + line_end])
            .ok()
            .and_then(|l| usize::from_str_radix(l.split(';').next().unwrap_or("").trim(), 16).ok());
        let Some(size) = size else {
            return Chunks::Invalid;
        };
        at += line_end + 2;
        if size == 0 {
            // no trailers: the empty line ends the body
            return match find(&buf[at..], b"\r\n") {
                Some(0) => Chunks::Done { body, len: at + 2 },
                Some(_) => Chunks::Invalid,
                None => Chunks::Incomplete,
            };
        }
        if buf.len() < at + size + 2 {
            return Chunks::Incomplete;
        }
        body.extend_from_slice(&buf[at..at + size]);
        at += size + 2;
    }
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_with_a_length() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhelloHTTP/1.1";
        assert_eq!(
            parse(r),
            Parsed::Complete { status: 200, body: b"hello".to_vec(), len: 69, close: false }
        );
        assert_eq!(parse(&r[..67]), Parsed::Incomplete);
        assert_eq!(parse(&r[..20]), Parsed::Incomplete);
    }

    #[test]
    fn a_chunked_response() {
        let r = b"HTTP/1.1 400 Bad Request\r\ntransfer-encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(
            parse(r),
            Parsed::Complete { status: 400, body: b"abcde".to_vec(), len: r.len(), close: true }
        );
        assert_eq!(parse(&r[..r.len() - 1]), Parsed::Incomplete);
        assert_eq!(parse(&r[..r.len() - 8]), Parsed::Incomplete);
    }

    #[test]
    fn what_it_cannot_read() {
        assert_eq!(parse(b"HTTP/1.1 200 OK\r\n\r\n"), Parsed::Invalid("neither content-length nor chunked"));
        assert_eq!(parse(b"garbage\r\n\r\n"), Parsed::Invalid("no status line"));
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"),
            Parsed::Invalid("a content-length that is not a number")
        );
    }
}
