//! CORS headers on the functions' own responses. Behind the REST API's proxy integrations API
//! Gateway adds none, so every response (errors too) gets them here; preflights are answered by
//! the API itself (template.yaml, `Cors`), and never reach a function.

use lambda_http::http::{HeaderMap, HeaderValue, header};

/// Response headers a script on an allowed origin may read besides the safelisted ones.
const EXPOSED_HEADERS: &str = "WWW-Authenticate, Retry-After";

/// The origins browsers may call the API from (`CORS_ALLOWED_ORIGINS`, comma-separated; `*`
/// for any, the default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigins {
    /// Any origin: `Access-Control-Allow-Origin: *`.
    Any,
    /// Only these origins, each named back to itself alone.
    Listed(Vec<String>),
}

impl AllowedOrigins {
    /// Parses a comma-separated list; `*` anywhere in it (or nothing at all) means any origin.
    pub fn parse(list: &str) -> Self {
        let origins: Vec<String> = list
            .split(',')
            .map(|origin| origin.trim().trim_end_matches('/').to_owned())
            .filter(|origin| !origin.is_empty())
            .collect();
        if origins.is_empty() || origins.iter().any(|origin| origin == "*") {
            Self::Any
        } else {
            Self::Listed(origins)
        }
    }

    /// Adds the CORS headers of a response to a request from `origin` (its `Origin` header).
    /// A listed origin is named back with `Vary: Origin`; any other gets no allow header, so
    /// the browser keeps the response from its script.
    pub fn add_headers(&self, origin: Option<&HeaderValue>, headers: &mut HeaderMap) {
        let allowed = match self {
            Self::Any => Some(HeaderValue::from_static("*")),
            Self::Listed(origins) => {
                headers.append(header::VARY, HeaderValue::from_static("Origin"));
                origin
                    .filter(|origin| {
                        origins
                            .iter()
                            .any(|listed| listed.as_bytes() == origin.as_bytes())
                    })
                    .cloned()
            }
        };
        if let Some(allowed) = allowed {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSED_HEADERS),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers_for(allowed: &str, origin: Option<&'static str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        AllowedOrigins::parse(allowed)
            .add_headers(origin.map(HeaderValue::from_static).as_ref(), &mut headers);
        headers
    }

    #[test]
    fn any_origin_is_a_star_whoever_asks() {
        for origin in [None, Some("https://app.example")] {
            let headers = headers_for("*", origin);
            assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
            assert!(!headers.contains_key(header::VARY));
        }
        assert_eq!(AllowedOrigins::parse(" "), AllowedOrigins::Any);
        assert_eq!(
            AllowedOrigins::parse("https://a.example, *"),
            AllowedOrigins::Any
        );
    }

    #[test]
    fn a_listed_origin_is_named_back_and_others_get_nothing() {
        let list = "https://app.example, https://admin.example/";
        let allowed = headers_for(list, Some("https://admin.example"));
        assert_eq!(
            allowed[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://admin.example"
        );
        assert_eq!(allowed[header::VARY], "Origin");
        assert_eq!(
            allowed[header::ACCESS_CONTROL_EXPOSE_HEADERS],
            "WWW-Authenticate, Retry-After"
        );
        for origin in [
            Some("https://evil.example"),
            Some("https://app.example.evil"),
            None,
        ] {
            let refused = headers_for(list, origin);
            assert!(!refused.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
            assert_eq!(refused[header::VARY], "Origin", "caches keep answers apart");
        }
    }
}
