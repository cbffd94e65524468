//! HTTP plumbing shared by every wire version: what a request carries (request id, caller IP,
//! user agent, bearer token, `?pretty`), body and query extraction, JSON responses and CORS.
//! Nothing here knows a route or an envelope.

mod body;
mod response;

pub use body::{body, query, BodyError, MAX_BODY_BYTES};
pub use response::{finish, json, json_with, method_not_allowed, not_found, preflight, Answer};

use std::cell::{OnceCell, RefCell};

use worker::js_sys::JsString;
use worker::wasm_bindgen::{self, prelude::wasm_bindgen, JsCast, JsValue};
use worker::web_sys;
use worker::Method;

use crate::domain::ids::{new_id, IdKind};

/// What keygate reads from every request before routing it. The headers that only some requests
/// need (the caller's IP, user agent, `Authorization`, `Accept`) are read from the request when
/// first asked: a warm v1 verification of a key without an ipWhitelist reads none of them.
pub struct Incoming {
    pub request_id: String,
    pub method: Method,
    pub path: String,
    /// `?pretty` was given.
    pub pretty: bool,
    headers: RawHeaders,
    trust_true_client_ip: bool,
    ip: OnceCell<Option<String>>,
    user_agent: OnceCell<Option<String>>,
    authorization: OnceCell<Option<String>>,
    token: OnceCell<Option<String>>,
    accept: OnceCell<Option<String>>,
}

/// A request as keygate reads it: the runtime's request (method, URL, headers) and its body, which
/// the worker's entry (`src/app/entry.mjs`) has already read as text — `None` when the declared
/// `Content-Length` is over [`MAX_BODY_BYTES`] and the body was left unread.
pub struct Req {
    raw: web_sys::Request,
    headers: RawHeaders,
    url: String,
    body: Option<String>,
}

impl Req {
    pub fn new(raw: web_sys::Request, body: Option<String>) -> Req {
        Req { url: raw.url(), headers: raw.headers().unchecked_into(), raw, body }
    }

    /// The declared `Content-Length` was over [`MAX_BODY_BYTES`] (the body was not read).
    pub fn declared_too_large(&self) -> bool {
        self.body.is_none()
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The path of the URL (the runtime's URL is serialised: the path starts at the first `/`
    /// after the host and ends at `?` or `#`).
    pub fn path(&self) -> &str {
        let after_host = self.url.find("://").map_or(self.url.as_str(), |i| &self.url[i + 3..]);
        let path = after_host.find('/').map_or("/", |i| &after_host[i..]);
        path.split(['?', '#']).next().unwrap_or("/")
    }
}

pub fn header(req: &Req, name: &'static str) -> Option<String> {
    read_header(&req.headers, name)
}

fn read_header(headers: &RawHeaders, name: &'static str) -> Option<String> {
    let value = NAMES.with(|names| {
        let mut names = names.borrow_mut();
        let index = match names.iter().position(|(n, _)| *n == name) {
            Some(i) => i,
            None => {
                names.push((name, JsString::from(name)));
                names.len() - 1
            }
        };
        headers.get(&names[index].1)
    });
    value.ok().flatten().filter(|v| !v.is_empty())
}

#[wasm_bindgen]
extern "C" {
    /// A request's `Headers`, read with the name as a JavaScript string: the names keygate reads
    /// are made once per isolate (see [`NAMES`]) instead of decoded from Wasm memory on every
    /// read (profiled: a tenth of a warm verification went to reading five headers).
    #[derive(Clone)]
    type RawHeaders;

    #[wasm_bindgen(method, catch)]
    fn get(this: &RawHeaders, name: &JsString) -> Result<Option<String>, JsValue>;
}

thread_local! {
    /// The header names read so far, as JavaScript strings (a handful: the ones keygate reads).
    static NAMES: RefCell<Vec<(&'static str, JsString)>> = const { RefCell::new(Vec::new()) };
}

/// The request's method. A method worker-rs does not know (e.g. `QUERY`) is read as REPORT, a
/// method no route has, so it is a 405 (or 404), never a GET.
fn method(req: &Req) -> Method {
    let raw = req.raw.method();
    match Method::from(raw.clone()) {
        m if m.as_ref().eq_ignore_ascii_case(&raw) => m,
        _ => Method::Report,
    }
}

/// The decoded name/value pairs of a URL's query string (read without parsing the whole URL).
fn query_pairs(url: &str) -> form_urlencoded::Parse<'_> {
    let query = url.split('#').next().and_then(|u| u.split_once('?')).map_or("", |(_, q)| q);
    form_urlencoded::parse(query.as_bytes())
}

/// The token of an `Authorization` header value.
fn bearer(authorization: Option<&str>) -> Option<String> {
    let h = authorization?.trim();
    let token = h.strip_prefix("Bearer ").unwrap_or(h).trim();
    (!token.is_empty()).then(|| token.to_string())
}

impl Incoming {
    /// Reads what every request needs from `req`; the rest is read when asked (see the methods).
    pub fn read(req: &Req, now: i64, trust_true_client_ip: bool) -> Incoming {
        Incoming {
            request_id: new_id(IdKind::Request, now).unwrap_or_else(|_| format!("req_{now}")),
            method: method(req),
            path: req.path().to_string(),
            pretty: query_pairs(req.url()).any(|(k, _)| k == "pretty"),
            headers: req.headers.clone(),
            trust_true_client_ip,
            ip: OnceCell::new(),
            user_agent: OnceCell::new(),
            authorization: OnceCell::new(),
            token: OnceCell::new(),
            accept: OnceCell::new(),
        }
    }

    fn header<'a>(&'a self, cell: &'a OnceCell<Option<String>>, name: &'static str) -> Option<&'a str> {
        cell.get_or_init(|| read_header(&self.headers, name)).as_deref()
    }

    /// The caller's IP: `CF-Connecting-IP`, which Cloudflare sets on every request.
    /// `True-Client-IP` is whatever a client sends on ordinary zones and workers.dev, so it is
    /// read (first) only when the deployment trusts it, for zones where Cloudflare fills it
    /// (Enterprise).
    pub fn ip(&self) -> Option<&str> {
        self.ip
            .get_or_init(|| {
                let true_client_ip = || read_header(&self.headers, "True-Client-IP");
                self.trust_true_client_ip
                    .then(true_client_ip)
                    .flatten()
                    .or_else(|| read_header(&self.headers, "CF-Connecting-IP"))
            })
            .as_deref()
    }

    pub fn user_agent(&self) -> Option<&str> {
        self.header(&self.user_agent, "User-Agent")
    }

    /// The `Authorization` header as sent (v2 insists on `Bearer <token>`).
    pub fn authorization(&self) -> Option<&str> {
        self.header(&self.authorization, "Authorization")
    }

    /// The bearer token of `Authorization` (a raw token without "Bearer " works too).
    pub fn token(&self) -> Option<&str> {
        self.token.get_or_init(|| bearer(self.authorization())).as_deref()
    }

    /// The `Accept` header.
    pub fn accept(&self) -> Option<&str> {
        self.header(&self.accept, "Accept")
    }
}
