//! HTTP handlers of the VirusTotal simulator: auth, the four object lookups, URL submission,
//! analyses and the control record call.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::objects::{self, ObjType, sha256_hex};
use super::{Record, Scan, error};
use crate::Sandbox;
use crate::args::{self, Body};
use crate::control;
use crate::intel::{self, Kind, Verdict};
use crate::limits::retry_after_secs;

/// The 401/429 for a request, or `None` when it may go on.
fn gate(sb: &Sandbox, headers: &HeaderMap) -> Option<Response> {
    let key = match args::header(headers, "x-apikey").map(str::trim) {
        None | Some("") => {
            return Some(error(
                StatusCode::UNAUTHORIZED,
                "AuthenticationRequiredError",
                "X-Apikey header is missing",
            ));
        }
        Some(k) => k,
    };
    if key != sb.credentials.virustotal.api_key {
        return Some(error(
            StatusCode::UNAUTHORIZED,
            "WrongCredentialsError",
            "Wrong API key",
        ));
    }
    if let Err(wait) = sb.limits.check("virustotal", "api", key) {
        let secs = retry_after_secs(wait);
        return Some(error(
            StatusCode::TOO_MANY_REQUESTS,
            "QuotaExceededError",
            format!("Quota exceeded; try again in {secs} seconds"),
        ));
    }
    None
}

/// `http://<host>/virustotal/api/v3`, the root `links.self` hang off.
fn root(headers: &HeaderMap) -> String {
    let host = args::header(headers, "host").unwrap_or("127.0.0.1");
    format!("http://{host}/virustotal/api/v3")
}

/// Renders an object, applying a record's verdict and attributes.
fn render(sb: &Sandbox, ty: ObjType, value: &str) -> Option<(String, Value)> {
    let record = sb
        .virustotal
        .state
        .lock()
        .records
        .get(&(ty, value.to_string()))
        .cloned();
    let kind = ty.kind();
    let mut p = intel::profile(kind, value);
    if let Some(v) = record.as_ref().and_then(|r| r.verdict) {
        p.verdict = v;
    }
    let label = intel::label(kind, value, p.verdict);
    let (id, mut attrs) = match ty {
        ObjType::File => objects::file(value, &p, &label),
        ObjType::Url => objects::url(value, &p, &label),
        ObjType::Domain => (value.to_string(), objects::domain(value, &p, &label)),
        ObjType::IpAddress => (value.to_string(), objects::ip(value, &p, &label)),
    };
    if let Some(r) = &record {
        attrs.extend(r.attributes.clone());
    }
    let scanned = ty == ObjType::Url && sb.virustotal.state.lock().urls.contains_key(&id);
    if p.unseen && record.is_none() && !scanned {
        return None;
    }
    Some((id, Value::Object(attrs)))
}

fn answer(sb: &Sandbox, headers: &HeaderMap, ty: ObjType, value: &str, shown: &str) -> Response {
    match render(sb, ty, value) {
        Some((id, Value::Object(attrs))) => {
            Json(json!({"data": objects::data(&root(headers), ty, &id, attrs)})).into_response()
        }
        _ => not_found(ty, shown),
    }
}

fn not_found(ty: ObjType, id: &str) -> Response {
    let what = match ty {
        ObjType::File => "File",
        ObjType::Url => "URL",
        ObjType::Domain => "Domain",
        ObjType::IpAddress => "IP address",
    };
    error(
        StatusCode::NOT_FOUND,
        "NotFoundError",
        format!("{what} \"{id}\" not found"),
    )
}

/// `GET /api/v3/files/{id}`.
pub async fn get_file(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(r) = gate(&sb, &headers) {
        return r;
    }
    match intel::canonical(Kind::File, &id) {
        Some(hash) => answer(&sb, &headers, ObjType::File, &hash, &id),
        None => error(
            StatusCode::BAD_REQUEST,
            "InvalidArgumentError",
            format!("\"{id}\" is not a valid MD5, SHA-1 or SHA-256"),
        ),
    }
}

/// `GET /api/v3/domains/{domain}`.
pub async fn get_domain(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(r) = gate(&sb, &headers) {
        return r;
    }
    match intel::canonical(Kind::Domain, &id).filter(|d| d.contains('.')) {
        Some(d) => answer(&sb, &headers, ObjType::Domain, &d, &id),
        None => error(
            StatusCode::BAD_REQUEST,
            "InvalidArgumentError",
            format!("Domain \"{id}\" is not a valid domain pattern"),
        ),
    }
}

/// `GET /api/v3/ip_addresses/{ip}`.
pub async fn get_ip(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(r) = gate(&sb, &headers) {
        return r;
    }
    match intel::canonical(Kind::Ip, &id) {
        Some(ip) => answer(&sb, &headers, ObjType::IpAddress, &ip, &id),
        None => error(
            StatusCode::BAD_REQUEST,
            "InvalidArgumentError",
            format!("\"{id}\" is not a valid IP address"),
        ),
    }
}

/// The URL a `/urls/{id}` id names: unpadded (or padded) base64url of the URL, or the SHA-256
/// of a URL the simulator knows. `Err` is the answer for an id that is neither.
#[allow(clippy::result_large_err)]
fn url_for_id(sb: &Sandbox, id: &str) -> Result<String, Response> {
    if id.len() == 64 && id.chars().all(|c| c.is_ascii_hexdigit()) {
        let id = id.to_ascii_lowercase();
        let state = sb.virustotal.state.lock();
        let known = intel::KNOWN
            .iter()
            .filter(|k| k.kind == Kind::Url)
            .map(|k| k.value.to_string())
            .chain(
                state
                    .records
                    .keys()
                    .filter(|(t, _)| *t == ObjType::Url)
                    .map(|(_, u)| u.clone()),
            )
            .find(|u| sha256_hex(u) == id);
        return known
            .or_else(|| state.urls.get(&id).cloned())
            .ok_or_else(|| not_found(ObjType::Url, &id));
    }
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    engine
        .decode(id.trim_end_matches('='))
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                "InvalidArgumentError",
                format!("\"{id}\" is not a valid URL identifier"),
            )
        })
}

/// `GET /api/v3/urls/{id}`.
pub async fn get_url(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(r) = gate(&sb, &headers) {
        return r;
    }
    match url_for_id(&sb, &id) {
        Ok(u) => answer(&sb, &headers, ObjType::Url, u.trim(), &id),
        Err(r) => r,
    }
}

/// The `url` field of a form, multipart or JSON body.
fn submitted_url(content_type: Option<&str>, bytes: &[u8]) -> Option<String> {
    let ct = content_type.unwrap_or_default();
    if ct.to_ascii_lowercase().starts_with("multipart/form-data") {
        let boundary = ct
            .split(';')
            .filter_map(|p| p.trim().strip_prefix("boundary="))
            .next()?
            .trim_matches('"');
        return multipart_field(bytes, boundary, "url");
    }
    let body = Body::parse(content_type, bytes);
    let fields = args::merged(None, &body).ok()?;
    args::str_arg(&fields, "url")
}

/// The value of one text field of a `multipart/form-data` body.
fn multipart_field(bytes: &[u8], boundary: &str, name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let delimiter = format!("--{boundary}");
    text.split(delimiter.as_str()).find_map(|part| {
        let (head, value) = part.split_once("\r\n\r\n")?;
        let wanted = format!("name=\"{name}\"");
        head.contains(&wanted)
            .then(|| value.trim_end_matches("\r\n").to_string())
    })
}

/// `POST /api/v3/urls`: submits a URL → an analysis object descriptor.
pub async fn post_url(State(sb): State<Sandbox>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = gate(&sb, &headers) {
        return r;
    }
    let ct = args::header(&headers, header::CONTENT_TYPE.as_str());
    let Some(url) = submitted_url(ct, &body)
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "BadRequestError",
            "Missing required field: url",
        );
    };
    if url::Url::parse(&url).is_err() && !url.contains('.') {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidArgumentError",
            format!("Unable to canonicalize url \"{url}\""),
        );
    }
    let date = chrono::Utc::now().timestamp();
    let sha = sha256_hex(&url);
    let id = format!("u-{sha}-{date}");
    {
        let mut state = sb.virustotal.state.lock();
        state.urls.insert(sha, url.clone());
        state.analyses.insert(id.clone(), Scan { url, date });
    }
    let data = json!({
        "type": "analysis",
        "id": id,
        "links": {"self": format!("{}/analyses/{id}", root(&headers))},
    });
    Json(json!({"data": data})).into_response()
}

/// `GET /api/v3/analyses/{id}`: a completed URL analysis.
pub async fn get_analysis(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(r) = gate(&sb, &headers) {
        return r;
    }
    let Some(scan) = sb.virustotal.state.lock().analyses.get(&id).cloned() else {
        return error(
            StatusCode::NOT_FOUND,
            "NotFoundError",
            format!("Analysis \"{id}\" not found"),
        );
    };
    let rendered = render(&sb, ObjType::Url, &scan.url);
    let (results, stats) = match rendered.as_ref().and_then(|(_, a)| {
        a.get("last_analysis_results")
            .cloned()
            .zip(a.get("last_analysis_stats").cloned())
    }) {
        Some(pair) => pair,
        None => {
            let p = intel::profile(Kind::Url, &scan.url);
            objects::analysis(&p, Kind::Url, "")
        }
    };
    let results = strip_results(results);
    let data = json!({
        "type": "analysis",
        "id": id,
        "links": {"self": format!("{}/analyses/{id}", root(&headers))},
        "attributes": {
            "date": scan.date,
            "status": "completed",
            "stats": stats,
            "results": results,
        },
    });
    let meta = json!({"url_info": {"id": sha256_hex(&scan.url), "url": scan.url}});
    Json(json!({"data": data, "meta": meta})).into_response()
}

/// Analysis results carry `category`, `engine_name`, `method`, `result` only.
fn strip_results(results: Value) -> Value {
    match results {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let keep = json!({
                        "category": v["category"],
                        "engine_name": v["engine_name"],
                        "method": v["method"],
                        "result": v["result"],
                    });
                    (k, keep)
                })
                .collect(),
        ),
        other => other,
    }
}

/// Any other path under `/virustotal`.
pub async fn unknown_path(uri: axum::http::Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "NotFoundError",
        format!("Resource \"{}\" not found", uri.path()),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordBody {
    #[serde(rename = "type")]
    ty: String,
    id: String,
    #[serde(default)]
    verdict: Option<Verdict>,
    #[serde(default)]
    attributes: Map<String, Value>,
}

/// `POST /_sandbox/virustotal/indicators`: adds or replaces one object.
pub async fn control_put(State(sb): State<Sandbox>, headers: HeaderMap, body: Bytes) -> Response {
    let rec = match control::parse_body::<RecordBody>(&body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let Some(ty) = ObjType::parse(&rec.ty) else {
        return control::bad_request("type must be one of file, url, domain, ip_address");
    };
    let Some(value) = intel::canonical(ty.kind(), &rec.id) else {
        return control::bad_request(format!("'{}' is not a valid {}", rec.id, ty.name()));
    };
    sb.virustotal.state.lock().records.insert(
        (ty, value.clone()),
        Record {
            verdict: rec.verdict,
            attributes: rec.attributes,
        },
    );
    match render(&sb, ty, &value) {
        Some((id, Value::Object(attrs))) => {
            Json(objects::data(&root(&headers), ty, &id, attrs)).into_response()
        }
        _ => control::error(StatusCode::INTERNAL_SERVER_ERROR, "record not rendered"),
    }
}
