//! HTTP handlers of the Confluence simulator: auth, the v1 search and content routes, the v2
//! page routes, and the control routes. Every answer's links are built from the request's
//! `Host` plus `/confluence/wiki`, the way Cloud builds them from the site URL.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::cql::{self, SortField};
use super::state::{AUTHOR_ID, Page, PageInput, Store, Version, plain_text};
use super::{rate_limit_headers, v1_error, v2_error};
use crate::Sandbox;
use crate::args::{header, query_one};
use crate::control;
use crate::limits::retry_after_secs;

/// Default page size of v1 lists.
const DEFAULT_LIMIT: usize = 25;
/// Largest page size of v1 lists (Confluence clamps larger values).
const MAX_LIMIT: usize = 100;

/// Which API a request belongs to, for the error shape it gets.
#[derive(Clone, Copy, PartialEq)]
enum Api {
    V1,
    V2,
}

fn unauthorized(api: Api) -> Response {
    match api {
        Api::V1 => v1_error(
            StatusCode::UNAUTHORIZED,
            "Client must be authenticated to access this resource.",
        ),
        Api::V2 => v2_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            Some("Client must be authenticated to access this resource."),
        ),
    }
}

/// The 401 or 429 a request gets, or `None` to go on. Basic auth only, with this sandbox's
/// email and API token.
fn reject(sb: &Sandbox, headers: &HeaderMap, api: Api) -> Option<Response> {
    let creds = &sb.credentials.confluence;
    let decoded = header(headers, "authorization")
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .and_then(|(_, b64)| STANDARD.decode(b64.trim()).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok());
    let ok = decoded
        .as_deref()
        .and_then(|d| d.split_once(':'))
        .is_some_and(|(email, token)| {
            email.eq_ignore_ascii_case(&creds.email) && token == creds.api_token
        });
    if !ok {
        return Some(unauthorized(api));
    }
    let wait = sb.limits.check("confluence", "api", &creds.email).err()?;
    let limit = sb
        .limits
        .list()
        .into_iter()
        .find(|l| l.service == "confluence" && l.method == "api")
        .map(|l| l.per_minute);
    let mut resp = match api {
        Api::V1 => v1_error(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded"),
        Api::V2 => v2_error(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS", None),
    };
    rate_limit_headers(&mut resp, retry_after_secs(wait), limit);
    Some(resp)
}

/// `http://<Host>/confluence/wiki`.
fn base_url(headers: &HeaderMap) -> String {
    let host = header(headers, "host").unwrap_or("127.0.0.1");
    format!("http://{host}/confluence/wiki")
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn webui(page: &Page, title: &str) -> String {
    let slug: String = url::form_urlencoded::byte_serialize(title.as_bytes()).collect();
    format!("/spaces/{}/pages/{}/{}", page.space, page.id, slug)
}

fn tinyui(page: &Page) -> String {
    let n: u64 = page.id.parse().unwrap_or(0);
    format!(
        "/x/{}",
        URL_SAFE_NO_PAD.encode(n.to_le_bytes().iter().take(4).copied().collect::<Vec<u8>>())
    )
}

/// Which v1 expansions were asked for (`expand=a,b.c`), with a prefix stripped
/// (`content.` for search results).
fn expansions(query: Option<&str>, prefix: &str) -> Vec<String> {
    query_one(query, "expand")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter_map(|e| {
            if prefix.is_empty() {
                Some(e)
            } else {
                e.strip_prefix(prefix)
            }
        })
        .filter(|e| !e.is_empty())
        .map(str::to_string)
        .collect()
}

fn author() -> Value {
    json!({
        "type": "known",
        "accountId": AUTHOR_ID,
        "accountType": "atlassian",
        "email": "",
        "publicName": "Security Team",
        "displayName": "Security Team",
    })
}

fn v1_version(page: &Page, v: &Version, base: &str) -> Value {
    json!({
        "by": author(),
        "when": time(v.created_at),
        "friendlyWhen": time(v.created_at),
        "message": v.message,
        "number": v.number,
        "minorEdit": false,
        "contentTypeModified": false,
        "_links": {"self": format!("{base}/rest/api/content/{}/version/{}", page.id, v.number)},
    })
}

fn v1_labels(v: &Version) -> Value {
    let results: Vec<Value> = v
        .labels
        .iter()
        .enumerate()
        .map(|(i, l)| json!({"prefix": "global", "name": l, "id": (1000 + i).to_string(), "label": l}))
        .collect();
    json!({"results": results, "start": 0, "limit": 200, "size": results.len(), "_links": {}})
}

/// A v1 Content object for `page` at version `v`, with the asked-for expansions.
fn v1_content(store: &Store, page: &Page, v: &Version, expand: &[String], base: &str) -> Value {
    let current = page.current().number == v.number;
    let mut content = json!({
        "id": page.id,
        "type": "page",
        "status": if current { "current" } else { "historical" },
        "title": v.title,
        "_links": {
            "webui": webui(page, &v.title),
            "edit": format!("/pages/resumedraft.action?draftId={}", page.id),
            "tinyui": tinyui(page),
            "self": format!("{base}/rest/api/content/{}", page.id),
        },
        "_expandable": {
            "container": format!("/rest/api/space/{}", page.space),
            "metadata": "",
            "operations": "",
            "children": format!("/rest/api/content/{}/child", page.id),
            "restrictions": format!("/rest/api/content/{}/restriction/byOperation", page.id),
            "history": format!("/rest/api/content/{}/history", page.id),
            "ancestors": "",
            "body": "",
            "descendants": format!("/rest/api/content/{}/descendant", page.id),
        },
    });
    let has = |name: &str| {
        expand
            .iter()
            .any(|e| e == name || e.starts_with(&format!("{name}.")))
    };
    if has("space") {
        if let Some(space) = store.space(&page.space) {
            content["space"] = json!({
                "id": space.id.parse::<u64>().unwrap_or(0),
                "key": space.key,
                "name": space.name,
                "type": "global",
                "status": "current",
                "_links": {"webui": format!("/spaces/{}", space.key), "self": format!("{base}/rest/api/space/{}", space.key)},
            });
        }
    } else {
        content["_expandable"]["space"] = json!(format!("/rest/api/space/{}", page.space));
    }
    if has("version") {
        content["version"] = v1_version(page, v, base);
    } else {
        content["_expandable"]["version"] = json!("");
    }
    if has("history") {
        content["history"] = json!({
            "latest": current,
            "createdBy": author(),
            "createdDate": time(page.created_at()),
        });
    }
    if has("body") {
        let mut body = Map::new();
        if expand.iter().any(|e| e == "body.storage") {
            body.insert(
                "storage".into(),
                json!({"value": v.body, "representation": "storage", "embeddedContent": [], "_expandable": {"content": format!("/rest/api/content/{}", page.id)}}),
            );
        }
        if expand
            .iter()
            .any(|e| e == "body.view" || e == "body.export_view")
        {
            let rep = if expand.iter().any(|e| e == "body.view") {
                "view"
            } else {
                "export_view"
            };
            body.insert(rep.into(), json!({"value": v.body, "representation": rep}));
        }
        body.insert("_expandable".into(), json!({"editor": "", "atlas_doc_format": "", "view": "", "export_view": "", "styled_view": "", "storage": "", "anonymous_export_view": ""}));
        content["body"] = Value::Object(body);
        if let Some(m) = content["_expandable"].as_object_mut() {
            m.remove("body");
        }
    }
    if has("metadata") {
        content["metadata"] = json!({"labels": v1_labels(v)});
        if let Some(m) = content["_expandable"].as_object_mut() {
            m.remove("metadata");
        }
    }
    content
}

/// Paging of v1 lists: `start` and `limit`, or the `cursor` a `next` link carries.
fn paging(query: Option<&str>) -> Result<(usize, usize), String> {
    let limit = match query_one(query, "limit").filter(|s| !s.is_empty()) {
        Some(s) => s
            .parse::<usize>()
            .map_err(|_| format!("limit must be a number, got '{s}'"))?,
        None => DEFAULT_LIMIT,
    }
    .clamp(1, MAX_LIMIT);
    let start = if let Some(cursor) = query_one(query, "cursor").filter(|s| !s.is_empty()) {
        URL_SAFE_NO_PAD
            .decode(cursor.as_bytes())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("start:").and_then(|n| n.parse().ok()))
            .ok_or_else(|| format!("invalid cursor '{cursor}'"))?
    } else {
        match query_one(query, "start").filter(|s| !s.is_empty()) {
            Some(s) => s
                .parse::<usize>()
                .map_err(|_| format!("start must be a number, got '{s}'"))?,
            None => 0,
        }
    };
    Ok((start, limit))
}

/// The pages a CQL query selects, sorted as it asks.
fn run_cql<'a>(store: &'a Store, cql_text: &str) -> Result<Vec<&'a Page>, String> {
    let q = cql::parse(cql_text)?;
    let mut hits: Vec<&Page> = store.pages.iter().filter(|p| q.expr.matches(*p)).collect();
    for (field, ascending) in q.order.iter().rev() {
        hits.sort_by(|a, b| {
            let o = match field {
                SortField::Title => a
                    .current()
                    .title
                    .to_lowercase()
                    .cmp(&b.current().title.to_lowercase()),
                SortField::Created => a.created_at().cmp(&b.created_at()),
                SortField::LastModified => a.current().created_at.cmp(&b.current().created_at),
                SortField::Id => {
                    a.id.parse::<u64>()
                        .unwrap_or(0)
                        .cmp(&b.id.parse::<u64>().unwrap_or(0))
                }
            };
            if *ascending { o } else { o.reverse() }
        });
    }
    Ok(hits)
}

/// `_links.next` for a v1 list: the same path and query with a cursor for the next page.
fn next_link(path: &str, query: Option<&str>, next_start: usize, limit: usize) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    ser.append_pair("next", "true");
    ser.append_pair(
        "cursor",
        &URL_SAFE_NO_PAD.encode(format!("start:{next_start}")),
    );
    ser.append_pair("limit", &limit.to_string());
    ser.append_pair("start", &next_start.to_string());
    if let Some(q) = query {
        for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
            if !matches!(k.as_ref(), "cursor" | "limit" | "start" | "next") {
                ser.append_pair(&k, &v);
            }
        }
    }
    format!("{path}?{}", ser.finish())
}

/// The `cql` parameter, or Confluence's 400 (the error is the answer itself).
#[allow(clippy::result_large_err)]
fn cql_param(query: Option<&str>) -> Result<String, Response> {
    match query_one(query, "cql").filter(|s| !s.trim().is_empty()) {
        Some(c) => Ok(c),
        None => Err(v1_error(StatusCode::BAD_REQUEST, "Cql is required")),
    }
}

fn excerpt(page: &Page) -> String {
    let text = plain_text(&page.current().body);
    let words: Vec<&str> = text.split_whitespace().take(30).collect();
    words.join(" ")
}

/// `GET /wiki/rest/api/search?cql=…`.
pub async fn search(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    if let Some(r) = reject(&sb, &headers, Api::V1) {
        return r;
    }
    let q = q.as_deref();
    let cql_text = match cql_param(q) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (start, limit) = match paging(q) {
        Ok(p) => p,
        Err(e) => return v1_error(StatusCode::BAD_REQUEST, &e),
    };
    let base = base_url(&headers);
    let expand = expansions(q, "content.");
    let started = std::time::Instant::now();
    sb.confluence.with(|store| {
        let hits = match run_cql(store, &cql_text) {
            Ok(h) => h,
            Err(e) => return v1_error(StatusCode::BAD_REQUEST, &format!("Could not parse cql : {cql_text} ({e})")),
        };
        let total = hits.len();
        let results: Vec<Value> = hits
            .iter()
            .skip(start)
            .take(limit)
            .map(|p| {
                let v = p.current();
                let space_name = store.space(&p.space).map(|s| s.name.clone()).unwrap_or_default();
                json!({
                    "content": v1_content(store, p, v, &expand, &base),
                    "title": v.title,
                    "excerpt": excerpt(p),
                    "url": webui(p, &v.title),
                    "resultGlobalContainer": {"title": space_name, "displayUrl": format!("/spaces/{}", p.space)},
                    "breadcrumbs": [],
                    "entityType": "content",
                    "iconCssClass": "aui-icon content-type-page",
                    "lastModified": time(v.created_at),
                    "friendlyLastModified": time(v.created_at),
                    "score": 1.0,
                })
            })
            .collect();
        let size = results.len();
        let mut links = json!({
            "base": base,
            "context": "/wiki",
            "self": format!("{base}/rest/api/search"),
        });
        if start + size < total {
            links["next"] = json!(next_link("/rest/api/search", q, start + size, limit));
        }
        Json(json!({
            "results": results,
            "start": start,
            "limit": limit,
            "size": size,
            "totalSize": total,
            "cqlQuery": cql_text,
            "searchDuration": started.elapsed().as_millis() as u64,
            "_links": links,
        }))
        .into_response()
    })
}

/// `GET /wiki/rest/api/content/search?cql=…`: the same search answering Content objects.
pub async fn content_search(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    if let Some(r) = reject(&sb, &headers, Api::V1) {
        return r;
    }
    let q = q.as_deref();
    let cql_text = match cql_param(q) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (start, limit) = match paging(q) {
        Ok(p) => p,
        Err(e) => return v1_error(StatusCode::BAD_REQUEST, &e),
    };
    let base = base_url(&headers);
    let expand = expansions(q, "");
    sb.confluence.with(|store| {
        let hits = match run_cql(store, &cql_text) {
            Ok(h) => h,
            Err(e) => return v1_error(StatusCode::BAD_REQUEST, &format!("Could not parse cql : {cql_text} ({e})")),
        };
        let total = hits.len();
        let results: Vec<Value> = hits
            .iter()
            .skip(start)
            .take(limit)
            .map(|p| v1_content(store, p, p.current(), &expand, &base))
            .collect();
        let size = results.len();
        let mut links = json!({"base": base, "context": "/wiki", "self": format!("{base}/rest/api/content/search")});
        if start + size < total {
            links["next"] = json!(next_link("/rest/api/content/search", q, start + size, limit));
        }
        Json(json!({"results": results, "start": start, "limit": limit, "size": size, "_links": links}))
            .into_response()
    })
}

fn v1_not_found(id: &str) -> Response {
    v1_error(
        StatusCode::NOT_FOUND,
        &format!("No content found with id: ContentId{{id={id}}}"),
    )
}

/// `version=N` from the query, if given; `Err` for a non-number.
fn version_param(q: Option<&str>) -> Result<Option<u64>, String> {
    match query_one(q, "version").filter(|s| !s.is_empty()) {
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| format!("version must be a number, got '{s}'")),
        None => Ok(None),
    }
}

/// `GET /wiki/rest/api/content/{id}?expand=…&version=N`.
pub async fn get_content(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    if let Some(r) = reject(&sb, &headers, Api::V1) {
        return r;
    }
    let q = q.as_deref();
    let version = match version_param(q) {
        Ok(v) => v,
        Err(e) => return v1_error(StatusCode::BAD_REQUEST, &e),
    };
    let base = base_url(&headers);
    let expand = expansions(q, "");
    sb.confluence.with(|store| {
        let Some(page) = store.page(&id) else {
            return v1_not_found(&id);
        };
        let v = match version {
            Some(n) => match page.version(n) {
                Some(v) => v,
                None => return v1_not_found(&id),
            },
            None => page.current(),
        };
        let mut content = v1_content(store, page, v, &expand, &base);
        content["_links"]["base"] = json!(base);
        content["_links"]["context"] = json!("/wiki");
        Json(content).into_response()
    })
}

/// `GET /wiki/rest/api/content/{id}/version`: every version, newest first.
pub async fn content_versions(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    if let Some(r) = reject(&sb, &headers, Api::V1) {
        return r;
    }
    let (start, limit) = match paging(q.as_deref()) {
        Ok(p) => p,
        Err(e) => return v1_error(StatusCode::BAD_REQUEST, &e),
    };
    let base = base_url(&headers);
    sb.confluence.with(|store| {
        let Some(page) = store.page(&id) else {
            return v1_not_found(&id);
        };
        let all: Vec<Value> = page.versions.iter().rev().map(|v| v1_version(page, v, &base)).collect();
        let results: Vec<Value> = all.iter().skip(start).take(limit).cloned().collect();
        let size = results.len();
        let mut links = json!({"base": base, "context": "/wiki", "self": format!("{base}/rest/api/content/{id}/version")});
        if start + size < all.len() {
            links["next"] = json!(next_link(&format!("/rest/api/content/{id}/version"), q.as_deref(), start + size, limit));
        }
        Json(json!({"results": results, "start": start, "limit": limit, "size": size, "_links": links})).into_response()
    })
}

/// `GET /wiki/rest/api/content/{id}/label`.
pub async fn content_labels(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(r) = reject(&sb, &headers, Api::V1) {
        return r;
    }
    sb.confluence.with(|store| match store.page(&id) {
        Some(page) => Json(v1_labels(page.current())).into_response(),
        None => v1_not_found(&id),
    })
}

fn v2_not_found() -> Response {
    v2_error(StatusCode::NOT_FOUND, "NOT_FOUND", None)
}

fn v2_bad(detail: &str) -> Response {
    v2_error(
        StatusCode::BAD_REQUEST,
        "INVALID_REQUEST_PARAMETER",
        Some(detail),
    )
}

fn v2_version(v: &Version) -> Value {
    json!({
        "number": v.number,
        "message": v.message,
        "minorEdit": false,
        "authorId": AUTHOR_ID,
        "createdAt": time(v.created_at),
    })
}

/// Body formats `body-format` accepts (vendor-apis §6).
const BODY_FORMATS: &[&str] = &[
    "storage",
    "atlas_doc_format",
    "view",
    "export_view",
    "anonymous_export_view",
    "styled_view",
    "editor",
];

fn v2_body(v: &Version, format: Option<&str>) -> Value {
    match format {
        None => json!({}),
        Some("atlas_doc_format") => {
            let doc = json!({"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": plain_text(&v.body)}]}]});
            json!({"atlas_doc_format": {"representation": "atlas_doc_format", "value": doc.to_string()}})
        }
        Some(f) => json!({ f: {"representation": f, "value": v.body} }),
    }
}

/// `GET /wiki/api/v2/pages/{id}?body-format=storage&version=N&include-labels=true`.
pub async fn v2_page(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    if let Some(r) = reject(&sb, &headers, Api::V2) {
        return r;
    }
    let q = q.as_deref();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return v2_bad(&format!("id must be a number, got '{id}'"));
    }
    let format = query_one(q, "body-format").filter(|s| !s.is_empty());
    if let Some(f) = &format
        && !BODY_FORMATS.contains(&f.as_str())
    {
        return v2_bad(&format!(
            "body-format '{f}' is not one of {}",
            BODY_FORMATS.join(", ")
        ));
    }
    let version = match version_param(q) {
        Ok(v) => v,
        Err(e) => return v2_bad(&e),
    };
    let labels_wanted = query_one(q, "include-labels").is_some_and(|v| v == "true");
    let base = base_url(&headers);
    sb.confluence.with(|store| {
        let Some(page) = store.page(&id) else {
            return v2_not_found();
        };
        let v = match version {
            Some(n) => match page.version(n) {
                Some(v) => v,
                None => return v2_not_found(),
            },
            None => page.current(),
        };
        let space_id = store.space(&page.space).map(|s| s.id.clone()).unwrap_or_default();
        let current = page.current().number == v.number;
        let mut out = json!({
            "id": page.id,
            "status": if current { "current" } else { "historical" },
            "title": v.title,
            "spaceId": space_id,
            "parentId": null,
            "parentType": null,
            "position": 0,
            "authorId": AUTHOR_ID,
            "ownerId": AUTHOR_ID,
            "lastOwnerId": null,
            "createdAt": time(page.created_at()),
            "version": v2_version(v),
            "body": v2_body(v, format.as_deref()),
            "_links": {
                "webui": webui(page, &v.title),
                "editui": format!("/pages/resumedraft.action?draftId={}", page.id),
                "tinyui": tinyui(page),
                "base": base,
            },
        });
        if labels_wanted {
            let results: Vec<Value> = v.labels.iter().enumerate()
                .map(|(i, l)| json!({"id": (1000 + i).to_string(), "name": l, "prefix": "global"}))
                .collect();
            out["labels"] = json!({"results": results, "meta": {"hasMore": false, "cursor": null}, "_links": {}});
        }
        Json(out).into_response()
    })
}

/// `GET /wiki/api/v2/pages/{id}/versions`: newest first, cursor paging.
pub async fn v2_versions(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
    uri: Uri,
) -> Response {
    if let Some(r) = reject(&sb, &headers, Api::V2) {
        return r;
    }
    let q = uri.query();
    let limit = match query_one(q, "limit").filter(|s| !s.is_empty()) {
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=250).contains(&n) => n,
            _ => return v2_bad("limit must be between 1 and 250"),
        },
        None => 25,
    };
    let start = match query_one(q, "cursor").filter(|s| !s.is_empty()) {
        Some(c) => match URL_SAFE_NO_PAD
            .decode(c.as_bytes())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| {
                s.strip_prefix("start:")
                    .and_then(|n| n.parse::<usize>().ok())
            }) {
            Some(n) => n,
            None => return v2_bad("invalid cursor"),
        },
        None => 0,
    };
    sb.confluence.with(|store| {
        let Some(page) = store.page(&id) else {
            return v2_not_found();
        };
        let all: Vec<Value> = page
            .versions
            .iter()
            .rev()
            .map(|v| {
                let mut x = v2_version(v);
                x["page"] = json!({"id": page.id, "title": v.title});
                x
            })
            .collect();
        let results: Vec<Value> = all.iter().skip(start).take(limit).cloned().collect();
        let mut links = json!({"base": base_url(&headers)});
        let mut resp_headers = HeaderMap::new();
        if start + results.len() < all.len() {
            let cursor = URL_SAFE_NO_PAD.encode(format!("start:{}", start + results.len()));
            let next = format!("/wiki/api/v2/pages/{id}/versions?limit={limit}&cursor={cursor}");
            if let Ok(v) = format!("<{next}>; rel=\"next\"").parse() {
                resp_headers.insert("link", v);
            }
            links["next"] = json!(next);
        }
        (
            resp_headers,
            Json(json!({"results": results, "_links": links})),
        )
            .into_response()
    })
}

/// Any other path: v1 404 (or v2 404 under `/wiki/api/v2`).
pub async fn unknown_path(uri: Uri) -> Response {
    if uri.path().contains("/wiki/api/v2/") {
        return v2_not_found();
    }
    v1_error(StatusCode::NOT_FOUND, &format!("No API at {}", uri.path()))
}

/// What `POST /_sandbox/confluence/pages` takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PageBody {
    #[serde(default)]
    id: Option<String>,
    space: String,
    title: String,
    #[serde(default)]
    labels: Vec<String>,
    body: String,
}

/// The control view of a page: what `GET /_sandbox/seed` lists too.
pub fn summary(page: &Page) -> Value {
    let v = page.current();
    json!({"id": page.id, "space": page.space, "title": v.title, "labels": v.labels, "version": v.number})
}

/// `POST /_sandbox/confluence/pages`: add a page, or a new version of an existing one.
pub async fn control_put_page(State(sb): State<Sandbox>, body: Bytes) -> Response {
    let input = match control::parse_body::<PageBody>(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if input.space.trim().is_empty() || input.title.trim().is_empty() {
        return control::bad_request("space and title must be non-empty");
    }
    let result = sb.confluence.with(|store| {
        store
            .upsert(
                PageInput {
                    id: input.id,
                    space: input.space,
                    title: input.title,
                    labels: input.labels,
                    body: input.body,
                },
                Utc::now(),
            )
            .map(|(id, _)| store.page(&id).map(summary).unwrap_or(Value::Null))
    });
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => control::bad_request(e),
    }
}

/// `GET /_sandbox/confluence/pages`: every page's summary.
pub async fn control_list_pages(State(sb): State<Sandbox>) -> Json<Value> {
    Json(json!({"pages": sb.confluence.with(|s| s.pages.iter().map(summary).collect::<Vec<_>>())}))
}
