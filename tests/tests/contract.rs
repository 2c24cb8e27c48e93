//! The API is written down in two places that must agree: `openapi.yaml` (what clients are
//! told) and `template.yaml` (what `sam deploy` serves, and what the local front reads for
//! `make run`). These tests read the files only: no DynamoDB, no network.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;

use serde_norway::Value as Yaml;

/// `(METHOD, path)`, the method upper-cased.
type Route = (String, String);

/// Methods an OpenAPI path item may hold operations under.
const OPENAPI_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository root")
        .to_path_buf()
}

fn read(name: &str) -> String {
    let path = root().join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
}

fn yaml(name: &str) -> Yaml {
    // CloudFormation's short tags (`!Ref`, `!Sub`, `!GetAtt`, ...) parse as tagged values.
    serde_norway::from_str(&read(name)).unwrap_or_else(|error| panic!("parsing {name}: {error}"))
}

fn route(method: &str, path: &str) -> Route {
    (method.to_ascii_uppercase(), path.to_owned())
}

/// Adds `route` to `routes`, failing on a route declared twice in one file.
fn insert(routes: &mut BTreeSet<Route>, file: &str, route: Route) {
    let (method, path) = &route;
    assert!(
        !path.is_empty(),
        "{file}: a route with an empty path ({method})"
    );
    let description = format!("{method} {path}");
    assert!(
        routes.insert(route),
        "{file}: {description} is declared more than once"
    );
}

/// Every operation of `openapi.yaml`.
fn openapi_routes() -> BTreeSet<Route> {
    let spec = yaml("openapi.yaml");
    let paths = spec
        .get("paths")
        .and_then(Yaml::as_mapping)
        .expect("openapi.yaml: no `paths` mapping");
    let mut routes = BTreeSet::new();
    for (path, item) in paths {
        let path = path
            .as_str()
            .expect("openapi.yaml: a path that is not a string");
        let item = item
            .as_mapping()
            .unwrap_or_else(|| panic!("openapi.yaml: path item {path} is not a mapping"));
        for key in item.keys() {
            let Some(key) = key.as_str() else { continue };
            if OPENAPI_METHODS.contains(&key) {
                insert(&mut routes, "openapi.yaml", route(key, path));
            }
        }
    }
    routes
}

/// The routes the local front serves (read from template.yaml by its own code), with their
/// function.
fn front_routes() -> BTreeMap<Route, String> {
    let api = front::Api::from_template(&read("template.yaml"), &Default::default())
        .expect("the front reads template.yaml");
    let mut routes = BTreeMap::new();
    for served in api.routes {
        let route = route(&served.method, &served.path);
        let description = show(&route);
        assert!(
            routes.insert(route, served.function).is_none(),
            "the front: {description} is served twice"
        );
    }
    routes
}

/// A template value that must be a plain string (not an intrinsic function).
fn template_str<'a>(value: Option<&'a Yaml>, what: &str) -> &'a str {
    match value {
        Some(Yaml::String(text)) => text,
        Some(other) => panic!("template.yaml: {what} must be a plain string, found {other:?}"),
        None => panic!("template.yaml: {what} is missing"),
    }
}

/// The `Api` events of the template's functions, with the binary each function builds.
fn template() -> BTreeMap<Route, String> {
    let template = yaml("template.yaml");
    let resources = template
        .get("Resources")
        .and_then(Yaml::as_mapping)
        .expect("template.yaml: no `Resources` mapping");
    let mut routes = BTreeMap::new();
    for (name, resource) in resources {
        let name = name.as_str().unwrap_or("?");
        if resource.get("Type").and_then(Yaml::as_str) != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = resource
            .get("Metadata")
            .and_then(|metadata| metadata.get("BuildProperties"))
            .and_then(|properties| properties.get("Binary"))
            .and_then(Yaml::as_str)
            .unwrap_or(name);
        let Some(events) = resource
            .get("Properties")
            .and_then(|properties| properties.get("Events"))
            .and_then(Yaml::as_mapping)
        else {
            continue;
        };
        for (event, definition) in events {
            if definition.get("Type").and_then(Yaml::as_str) != Some("Api") {
                continue;
            }
            let event = event.as_str().unwrap_or("?");
            let properties = definition.get("Properties");
            let what = |field: &str| format!("{name}.Events.{event}.Properties.{field}");
            let path = template_str(properties.and_then(|p| p.get("Path")), &what("Path"));
            let method = template_str(properties.and_then(|p| p.get("Method")), &what("Method"));
            let route = route(method, path);
            let description = format!("{} {}", route.0, route.1);
            assert!(
                routes.insert(route, binary.to_owned()).is_none(),
                "template.yaml: {description} is declared more than once"
            );
        }
    }
    routes
}

/// The routes of the route table, with their function.
fn table_routes() -> BTreeMap<Route, String> {
    let mut routes = BTreeMap::new();
    for (function, served) in tokengate::routes::routes() {
        routes.insert(route(served.method, served.path), function.name.to_owned());
    }
    routes
}

fn show(route: &Route) -> String {
    format!("{} {}", route.0, route.1)
}

#[test]
fn openapi_template_and_the_local_front_declare_the_same_routes() {
    let sources: [(&str, BTreeSet<Route>); 4] = [
        (
            "the route table (tokengate::routes)",
            table_routes().into_keys().collect(),
        ),
        ("openapi.yaml", openapi_routes()),
        (
            "the local front (tools/front)",
            front_routes().into_keys().collect(),
        ),
        (
            "template.yaml (Api events)",
            template().into_keys().collect(),
        ),
    ];
    for (name, routes) in &sources {
        assert!(!routes.is_empty(), "{name} declares no route at all");
    }
    let all: BTreeSet<&Route> = sources.iter().flat_map(|(_, routes)| routes).collect();
    let mut drift = String::new();
    for route in all {
        let missing: Vec<&str> = sources
            .iter()
            .filter(|(_, routes)| !routes.contains(route))
            .map(|(name, _)| *name)
            .collect();
        if !missing.is_empty() {
            let present: Vec<&str> = sources
                .iter()
                .filter(|(_, routes)| routes.contains(route))
                .map(|(name, _)| *name)
                .collect();
            writeln!(
                drift,
                "  {:<24} in {}; MISSING from {}",
                show(route),
                present.join(", "),
                missing.join(", ")
            )
            .unwrap();
        }
    }
    assert!(
        drift.is_empty(),
        "the routes have drifted apart; every (method, path) must be in all four:\n{drift}"
    );
}

#[test]
fn each_route_runs_the_same_function_locally_deployed_and_in_the_table() {
    let local = front_routes();
    let deployed = template();
    assert_eq!(
        local.len(),
        deployed.len(),
        "the front serves every route the template has"
    );
    assert_eq!(
        deployed,
        table_routes(),
        "template.yaml builds the table's function"
    );
    let mut drift = String::new();
    for (route, function) in &local {
        if let Some(binary) = deployed.get(route)
            && binary != function
        {
            writeln!(
                drift,
                "  {:<24} the front runs `{function}`, template.yaml builds `{binary}`",
                show(route)
            )
            .unwrap();
        }
    }
    assert!(
        drift.is_empty(),
        "a route is served by different functions locally and deployed:\n{drift}"
    );
}

/// Follows a local `$ref` (`#/components/...`) until it reaches a value that is not one.
fn resolve<'a>(spec: &'a Yaml, mut value: &'a Yaml) -> &'a Yaml {
    while let Some(reference) = value.get("$ref").and_then(Yaml::as_str) {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("openapi.yaml: only local references, not {reference}"));
        value = pointer
            .split('/')
            .skip(1)
            .try_fold(spec, |node, key| node.get(key))
            .unwrap_or_else(|| panic!("openapi.yaml: {reference} resolves to nothing"));
    }
    value
}

#[test]
fn every_operation_documents_its_problem_statuses() {
    let spec = yaml("openapi.yaml");
    let global_security = spec.get("security");
    let paths = spec
        .get("paths")
        .and_then(Yaml::as_mapping)
        .expect("openapi.yaml: no `paths` mapping");
    let mut gaps = String::new();
    for (path, item) in paths {
        let path = path.as_str().unwrap_or("?");
        for (method, operation) in item.as_mapping().into_iter().flatten() {
            let Some(method) = method.as_str().filter(|m| OPENAPI_METHODS.contains(m)) else {
                continue;
            };
            let label = format!("{} {path}", method.to_ascii_uppercase());
            let responses = operation
                .get("responses")
                .and_then(Yaml::as_mapping)
                .unwrap_or_else(|| panic!("openapi.yaml: {label} has no responses"));
            let response = |status: &str| {
                responses
                    .iter()
                    .find(|(key, _)| key.as_str() == Some(status))
                    .map(|(_, value)| resolve(&spec, value))
            };
            let secured = operation
                .get("security")
                .or(global_security)
                .and_then(Yaml::as_sequence)
                .is_some_and(|requirements| !requirements.is_empty());
            let has_body = operation.get("requestBody").is_some();
            let mut required = vec!["500", "503"];
            if secured {
                required.push("401");
            }
            if has_body {
                required.extend(["400", "413"]);
            }
            for status in required {
                if response(status).is_none() {
                    writeln!(gaps, "  {label}: no {status} response").unwrap();
                }
            }
            for (status, header) in [
                ("401", "WWW-Authenticate"),
                ("403", "WWW-Authenticate"),
                ("503", "Retry-After"),
            ] {
                let documented = response(status)
                    .and_then(|r| r.get("headers"))
                    .and_then(|headers| headers.get(header))
                    .is_some();
                // A 403 challenges only for an expired token; an unverified email is no
                // credential problem.
                let challenges = status != "403"
                    || response(status)
                        .is_some_and(|r| yaml_text(r).contains("Access token expired."));
                if response(status).is_some() && challenges && !documented {
                    writeln!(gaps, "  {label}: its {status} does not document {header}").unwrap();
                }
            }
            for (status, response) in responses {
                let status = status.as_str().unwrap_or("?");
                if !status.starts_with(['4', '5']) {
                    continue;
                }
                let problem = resolve(&spec, response)
                    .get("content")
                    .and_then(|content| content.get("application/problem+json"))
                    .is_some();
                if !problem {
                    writeln!(
                        gaps,
                        "  {label}: its {status} is not application/problem+json"
                    )
                    .unwrap();
                }
            }
        }
    }
    assert!(
        gaps.is_empty(),
        "openapi.yaml leaves problem statuses undocumented:\n{gaps}"
    );
}

/// The README's table rows: first cell (without backticks) -> second cell.
fn readme_rows() -> BTreeMap<String, String> {
    read("README.md")
        .lines()
        .filter_map(|line| {
            let mut cells = line.strip_prefix('|')?.split('|').map(str::trim);
            let name = cells.next()?.trim_matches('`').to_owned();
            let default = cells.next()?.trim_matches('`').to_owned();
            Some((name, default))
        })
        .collect()
}

#[test]
fn the_readme_documents_every_template_parameter_with_its_default() {
    let template = yaml("template.yaml");
    let parameters = template
        .get("Parameters")
        .and_then(Yaml::as_mapping)
        .expect("template.yaml: no `Parameters`");
    let rows = readme_rows();
    let mut missing = String::new();
    for (name, parameter) in parameters {
        let name = name.as_str().expect("a parameter name");
        let default = match parameter.get("Default") {
            Some(Yaml::String(text)) => text.clone(),
            Some(Yaml::Number(number)) => number.to_string(),
            other => panic!("template.yaml: {name} has no plain default: {other:?}"),
        };
        if rows.get(name) != Some(&default) {
            writeln!(missing, "  {name} (default {default})").unwrap();
        }
    }
    assert!(
        missing.is_empty(),
        "README.md's parameter table lacks, or has another default for:\n{missing}"
    );
}

#[test]
fn the_readme_documents_every_environment_variable_the_functions_read() {
    // config.rs reads the functions' own variables; the store's TLS module reads AWS_CA_BUNDLE.
    let sources = [
        read("shared/src/config.rs"),
        read("shared/src/store/https.rs"),
    ];
    let rows = readme_rows();
    let names: BTreeSet<&str> = sources
        .iter()
        .flat_map(|source| {
            // The quoted strings of the non-test code: every other piece between quotes.
            let code = source.split("#[cfg(test)]").next().unwrap();
            code.split('"').skip(1).step_by(2)
        })
        .filter(|text| {
            text.len() > 3
                && text
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        })
        .collect();
    assert!(names.contains("USERS_TABLE") && names.contains("AWS_CA_BUNDLE"));
    let missing: Vec<&&str> = names
        .iter()
        .filter(|name| !rows.contains_key(**name))
        .collect();
    assert!(
        missing.is_empty(),
        "README.md's configuration table lacks {missing:?}"
    );
}

#[test]
fn only_the_tokens_table_expires_items() {
    let template = yaml("template.yaml");
    let ttl_of = |table: &str| {
        template["Resources"][table]["Properties"]
            .get("TimeToLiveSpecification")
            .cloned()
    };
    assert_eq!(
        ttl_of("UsersTable"),
        None,
        "the users table holds nothing that expires: no TTL"
    );
    let tokens = ttl_of("TokensTable").expect("the tokens table expires tokens");
    assert_eq!(tokens["AttributeName"].as_str(), Some("expire"));
    assert_eq!(tokens["Enabled"].as_bool(), Some(true));
}

/// A template value as YAML text, short tags included (`!Ref X`, `!Sub ...`).
fn yaml_text(value: &Yaml) -> String {
    serde_norway::to_string(value).expect("a template value prints")
}

/// Every function's resource name with its whole definition.
fn functions(template: &Yaml) -> Vec<(String, Yaml)> {
    template["Resources"]
        .as_mapping()
        .expect("template.yaml: no `Resources` mapping")
        .iter()
        .filter(|(_, resource)| {
            resource.get("Type").and_then(Yaml::as_str) == Some("AWS::Serverless::Function")
        })
        .map(|(name, resource)| (name.as_str().unwrap().to_owned(), resource.clone()))
        .collect()
}

/// The policy statements of `function` that grant a Secrets Manager action.
fn secrets_statements(function: &Yaml) -> Vec<Yaml> {
    function["Properties"]["Policies"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|policy| policy.get("Statement").and_then(Yaml::as_sequence))
        .flatten()
        .filter(|statement| yaml_text(&statement["Action"]).contains("secretsmanager:"))
        .cloned()
        .collect()
}

#[test]
fn no_function_environment_holds_key_material() {
    let template = yaml("template.yaml");
    let secrets: BTreeSet<String> = template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, resource)| {
            resource.get("Type").and_then(Yaml::as_str) == Some("AWS::SecretsManager::Secret")
        })
        .map(|(name, _)| name.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(secrets, BTreeSet::from(["TokenSigningKey".to_owned()]));

    let mut environments = vec![(
        "Globals".to_owned(),
        template["Globals"]["Function"]["Environment"]["Variables"].clone(),
    )];
    for (name, function) in functions(&template) {
        environments.push((
            name,
            function["Properties"]["Environment"]["Variables"].clone(),
        ));
    }
    for (owner, variables) in environments {
        for (variable, value) in variables.as_mapping().into_iter().flatten() {
            let (variable, text) = (variable.as_str().unwrap(), yaml_text(value));
            // A dynamic reference would put the secret's value into the function configuration.
            assert!(
                !text.contains("{{resolve:"),
                "{owner}: {variable} resolves a secret's value into the environment"
            );
            // The secret itself may only be named (its ARN), under the one variable for it.
            if text.contains("TokenSigningKey") {
                assert_eq!(variable, "KEY_RING_SECRET_ID", "{owner}");
                assert_eq!(text.trim(), "!Ref TokenSigningKey", "{owner}: {variable}");
            }
        }
    }
    let globals = &template["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(
        yaml_text(&globals["KEY_RING_SECRET_ID"]).trim(),
        "!Ref TokenSigningKey"
    );
}

#[test]
fn functions_may_read_the_key_ring_and_only_the_rotation_function_may_write_it() {
    let template = yaml("template.yaml");
    let mut rotation_functions = Vec::new();
    for (name, function) in functions(&template) {
        let statements = secrets_statements(&function);
        assert!(!statements.is_empty(), "{name} cannot read the key ring");
        let mut actions = BTreeSet::new();
        for statement in &statements {
            assert_eq!(
                yaml_text(&statement["Resource"]).trim(),
                "!Ref TokenSigningKey",
                "{name}: a Secrets Manager grant beyond the key ring's secret"
            );
            match &statement["Action"] {
                Yaml::String(action) => actions.insert(action.clone()),
                Yaml::Sequence(list) => {
                    for action in list {
                        actions.insert(action.as_str().unwrap().to_owned());
                    }
                    true
                }
                other => panic!("{name}: unexpected Action {other:?}"),
            };
        }
        if actions.len() > 1 {
            let expected: BTreeSet<String> = [
                "secretsmanager:DescribeSecret",
                "secretsmanager:GetSecretValue",
                "secretsmanager:PutSecretValue",
                "secretsmanager:UpdateSecretVersionStage",
            ]
            .map(str::to_owned)
            .into();
            assert_eq!(actions, expected, "{name}");
            rotation_functions.push(name);
        } else {
            let read: BTreeSet<String> = ["secretsmanager:GetSecretValue".to_owned()].into();
            assert_eq!(actions, read, "{name}");
        }
    }
    assert_eq!(rotation_functions, vec!["RotateKeyFunction".to_owned()]);

    let schedule = &template["Resources"]["KeyRotationSchedule"];
    assert_eq!(schedule["Condition"].as_str(), Some("KeyRotationOn"));
    let properties = &schedule["Properties"];
    assert_eq!(
        yaml_text(&properties["RotationLambdaARN"]).trim(),
        "!GetAtt RotateKeyFunction.Arn"
    );
    assert_eq!(
        yaml_text(&properties["RotationRules"]["AutomaticallyAfterDays"]).trim(),
        "!Ref KeyRotationDays"
    );
    let rotation = &template["Resources"]["RotateKeyFunction"];
    assert!(
        rotation["Properties"].get("Events").is_none(),
        "the rotation function is on no route"
    );
}

/// The REST API's properties.
fn rest_api(template: &Yaml) -> &Yaml {
    &template["Resources"]["RestApi"]["Properties"]
}

/// The front's reading of template.yaml (parameters at their defaults).
fn front_api() -> front::Api {
    front::Api::from_template(&read("template.yaml"), &Default::default())
        .expect("the front reads template.yaml")
}

/// The template's Gateway Response `kind` rendered as the front renders it (as API Gateway
/// does), with `detail` as the authorizer context's; (status, headers, body).
fn gateway_answer(
    kind: front::gateway::ResponseType,
    detail: Option<&str>,
) -> (u16, lambda_http::http::HeaderMap, Vec<u8>) {
    let api = front_api();
    let context = detail
        .map(|detail| [("detail".to_owned(), serde_json::Value::from(detail))].into())
        .unwrap_or_default();
    let rendered =
        front::gateway::render(&api.gateway_responses, kind, &context, &Default::default());
    (rendered.status, rendered.headers, rendered.body)
}

/// What the functions answer for `error`; (status, headers, body).
fn function_answer(
    error: tokengate::problem::ApiError,
) -> (u16, lambda_http::http::HeaderMap, Vec<u8>) {
    let response = error.into_response();
    (
        response.status().as_u16(),
        response.headers().clone(),
        response.body().to_vec(),
    )
}

#[test]
fn the_gateway_responses_are_the_functions_own_problem_bytes_and_headers() {
    use front::gateway::ResponseType;
    use tokengate::problem::{ApiError, AuthScheme};
    let cases = [
        (
            ResponseType::Unauthorized,
            None,
            ApiError::MissingCredentials(AuthScheme::Bearer),
        ),
        (
            ResponseType::AccessDenied,
            Some(ApiError::TokenExpired.to_string()),
            ApiError::TokenExpired,
        ),
        (
            ResponseType::AuthorizerFailure,
            None,
            ApiError::Unavailable(tokengate::store::StoreError::Unavailable("down".into())),
        ),
    ];
    for (kind, detail, error) in cases {
        let (status, headers, body) = gateway_answer(kind, detail.as_deref());
        let (function_status, function_headers, function_body) = function_answer(error);
        assert_eq!(status, function_status, "{kind:?}");
        assert_eq!(
            String::from_utf8(body).unwrap(),
            String::from_utf8(function_body).unwrap(),
            "{kind:?}"
        );
        for name in [
            "content-type",
            "cache-control",
            "www-authenticate",
            "retry-after",
        ] {
            assert_eq!(
                headers.get(name),
                function_headers.get(name),
                "{kind:?}: {name}"
            );
        }
    }
    // Forged, garbled or revoked: the same 403 as an expired token, saying why.
    let (status, headers, body) = gateway_answer(
        ResponseType::AccessDenied,
        Some(&ApiError::InvalidToken.to_string()),
    );
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (status, body["detail"].as_str()),
        (403, Some("Invalid access token."))
    );
    assert_eq!(
        headers["www-authenticate"],
        r#"Bearer realm="tokengate", error="invalid_token""#
    );
    // No route: 404 problem+json, not REST's 403 "Missing Authentication Token".
    let (status, headers, body) = gateway_answer(ResponseType::MissingAuthenticationToken, None);
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((status, body["status"].as_u64()), (404, Some(404)));
    assert_eq!(headers["content-type"], "application/problem+json");
}

#[test]
fn the_local_front_keeps_no_copy_of_the_gateway_responses() {
    let api = front_api();
    let bodies: Vec<String> = api
        .gateway_responses
        .values()
        .filter_map(|response| response.body.clone())
        .collect();
    assert!(bodies.len() >= 4, "{bodies:?}");
    let folder = root().join("tools/front/src");
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        for phrase in [
            "No authentication credentials provided.",
            "No route matches",
            "temporarily unavailable",
            "sec10.4.4",
        ] {
            assert!(
                !source.contains(phrase),
                "{} holds a copy of a Gateway Response ({phrase})",
                path.display()
            );
        }
    }
}

#[test]
fn only_the_sample_route_is_behind_the_authorizer_and_preflights_never_are() {
    let api = front_api();
    let protected: Vec<String> = api
        .routes
        .iter()
        .filter(|route| route.authorizer.is_some())
        .map(|route| format!("{} {}", route.method, route.path))
        .collect();
    // Routes that take a token themselves (sessions, logout, email verification) stay public.
    assert_eq!(protected, ["GET /api/me"]);
    assert!(api.routes.iter().all(|route| {
        route
            .authorizer
            .as_deref()
            .is_none_or(|a| a == "authorizer")
    }));
    let template = yaml("template.yaml");
    let auth = &rest_api(&template)["Auth"];
    assert_eq!(
        auth["AddDefaultAuthorizerToCorsPreflight"].as_bool(),
        Some(false)
    );
    assert_eq!(
        auth["Authorizers"]["TokenAuthorizer"]["FunctionPayloadType"].as_str(),
        Some("REQUEST")
    );
    // No identity sources (API Gateway would 401 a token in another place) and its cache off.
    let identity = &auth["Authorizers"]["TokenAuthorizer"]["Identity"];
    assert_eq!(yaml_text(identity).trim(), "ReauthorizeEvery: 0");
    assert_eq!(
        yaml_text(&rest_api(&template)["BinaryMediaTypes"]).trim(),
        "- '*~1*'"
    );
    assert!(front_api().every_body_binary());
}

#[test]
fn cors_preflights_allow_every_method_and_header_the_api_uses() {
    let cors = front_api().cors.expect("the API answers preflights");
    assert_eq!(cors.allow_origin, "*", "the default CorsAllowedOrigins");
    for method in ["GET", "POST", "DELETE"] {
        assert!(
            cors.allow_methods
                .split(',')
                .any(|allowed| allowed == method),
            "{method}"
        );
    }
    for header in [
        "Authorization",
        "X-Auth-Token",
        "X-Client-Id",
        "Content-Type",
    ] {
        assert!(
            cors.allow_headers
                .split(',')
                .any(|allowed| allowed == header),
            "{header}"
        );
    }
    let narrowed = front::Api::from_template(
        &read("template.yaml"),
        &[(
            "CorsAllowedOrigins".to_owned(),
            "https://a.example,https://b.example".to_owned(),
        )]
        .into(),
    )
    .unwrap();
    assert_eq!(
        narrowed.cors.unwrap().allow_origin,
        "https://a.example",
        "the first listed"
    );
}

/// The credential routes of the route table: they check a password or a code, or send mail.
fn credential_routes() -> Vec<String> {
    tokengate::routes::routes()
        .filter(|(_, route)| route.credential)
        .map(|(_, route)| route.label())
        .collect()
}

/// `text` with its `%XX` escapes decoded, as WAF's `URL_DECODE` text transformation does.
fn url_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let escape = (bytes[at] == b'%')
            .then(|| text.get(at + 1..at + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escape {
            Some(byte) => {
                out.push(byte);
                at += 3;
            }
            None => {
                out.push(bytes[at]);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether one of the WAF `statements` (the rule's scope-down) matches a request whose URI path
/// is `path`, evaluated as WAF does: the statement's text transformations, then its match.
fn waf_counts(statements: &[Yaml], path: &str) -> bool {
    statements.iter().any(|statement| {
        let (kind, body) = statement
            .as_mapping()
            .and_then(|mapping| mapping.iter().next())
            .expect("a statement");
        assert!(
            body["FieldToMatch"].get("UriPath").is_some(),
            "{statement:?}"
        );
        let mut text = path.to_owned();
        for transformation in body["TextTransformations"].as_sequence().unwrap() {
            text = match transformation["Type"].as_str().unwrap() {
                "NONE" => text,
                "URL_DECODE" => url_decoded(&text),
                other => panic!("a text transformation this test does not model: {other}"),
            };
        }
        match kind.as_str().unwrap() {
            "ByteMatchStatement" => {
                let search = body["SearchString"].as_str().unwrap();
                match body["PositionalConstraint"].as_str().unwrap() {
                    "ENDS_WITH" => text.ends_with(search),
                    "EXACTLY" => text == search,
                    "STARTS_WITH" => text.starts_with(search),
                    "CONTAINS" => text.contains(search),
                    other => panic!("a positional constraint this test does not model: {other}"),
                }
            }
            "RegexMatchStatement" => regex::Regex::new(body["RegexString"].as_str().unwrap())
                .expect("a regex")
                .is_match(&text),
            other => panic!("a statement this test does not model: {other}"),
        }
    })
}

#[test]
fn the_waf_limits_each_client_on_every_credential_route() {
    let template = yaml("template.yaml");
    let acl = &template["Resources"]["WebAcl"];
    assert_eq!(acl["Condition"].as_str(), Some("WafOn"));
    assert_eq!(
        yaml_text(&template["Conditions"]["WafOn"]).trim(),
        "!Equals\n- !Ref EnableWaf\n- 'true'"
    );
    assert_eq!(
        template["Parameters"]["EnableWaf"]["Default"].as_str(),
        Some("true")
    );
    assert_eq!(acl["Properties"]["Scope"].as_str(), Some("REGIONAL"));
    let rules = acl["Properties"]["Rules"].as_sequence().unwrap();
    let rule = rules
        .iter()
        .find(|rule| rule.get("Name").and_then(Yaml::as_str) == Some("CredentialRoutesPerClient"))
        .expect("the per-client rule");
    assert_eq!(
        rule["Action"]["Block"]["CustomResponse"]["ResponseCode"].as_u64(),
        Some(429)
    );
    let rate = &rule["Statement"]["RateBasedStatement"];
    assert_eq!(
        yaml_text(&rate["Limit"]).trim(),
        "!Ref CredentialRateLimitPer5Min"
    );
    assert_eq!(rate["AggregateKeyType"].as_str(), Some("IP"));
    assert_eq!(rate["EvaluationWindowSec"].as_u64(), Some(300));
    let statements = rate["ScopeDownStatement"]["OrStatement"]["Statements"]
        .as_sequence()
        .expect("a scope-down OrStatement");
    let credential_routes = credential_routes();
    assert!(credential_routes.len() >= 8, "{credential_routes:?}");
    for route in &credential_routes {
        let path = route.split_once(' ').unwrap().1;
        // What WAF sees: the stage first, then whatever the client sent that API Gateway
        // routes here, or might: a trailing slash, doubled slashes, percent-encoded bytes.
        let (head, last) = path.rsplit_once('/').unwrap();
        let encoded_letter = format!("{head}/%{:02x}{}", last.as_bytes()[0], &last[1..]);
        for sent in [
            path.to_owned(),
            format!("{path}/"),
            format!("{path}//"),
            path.replace('/', "//"),
            encoded_letter,
            format!("{head}%2F{last}"),
        ] {
            let seen = format!("/prod{sent}");
            assert!(
                waf_counts(statements, &seen),
                "the WAF rule does not count {seen} ({route})"
            );
        }
    }
    for (_, route) in tokengate::routes::routes().filter(|(_, route)| !route.credential) {
        let seen = format!("/prod{}", route.path.replace("{id}", "AAAA"));
        assert!(
            !waf_counts(statements, &seen),
            "{seen} is no credential route"
        );
    }
    let served: BTreeSet<String> = openapi_routes().iter().map(show).collect();
    for route in &credential_routes {
        assert!(served.contains(route), "{route} is a route of the API");
    }
    let association = &template["Resources"]["WebAclAssociation"];
    assert_eq!(association["Condition"].as_str(), Some("WafOn"));
    assert!(
        yaml_text(&association["Properties"]["ResourceArn"])
            .contains("/restapis/${RestApi}/stages/${RestApi.Stage}")
    );
}

#[test]
fn the_credential_routes_have_the_tighter_capacity_guard() {
    let template = yaml("template.yaml");
    let settings = rest_api(&template)["MethodSettings"].as_sequence().unwrap();
    let tight: BTreeSet<String> = settings
        .iter()
        .filter(|setting| {
            yaml_text(&setting["ThrottlingRateLimit"]).contains("TokenRouteRateLimit")
        })
        .map(|setting| {
            let path = setting["ResourcePath"].as_str().unwrap().replace("~1", "/");
            format!("{} {path}", setting["HttpMethod"].as_str().unwrap())
        })
        .collect();
    let credential: BTreeSet<String> = credential_routes().into_iter().collect();
    assert!(credential.contains("POST /auth/login") && credential.contains("POST /auth/signup"));
    assert_eq!(tight, credential);
    let default = &settings[0];
    assert_eq!(
        (
            default["ResourcePath"].as_str(),
            default["HttpMethod"].as_str()
        ),
        (Some("/*"), Some("*"))
    );
    assert_eq!(
        yaml_text(&default["ThrottlingRateLimit"]).trim(),
        "!Ref ApiRateLimit"
    );
}

#[test]
fn the_readmes_own_protected_function_needs_nothing_but_its_resource() {
    // The README's example resource, between its markers, added to template.yaml as it is.
    let readme = read("README.md");
    let example = readme
        .split("<!-- own-function:start -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- own-function:end -->").next())
        .expect("README.md marks its own-function example");
    let example = example
        .lines()
        .filter(|line| !line.starts_with("```"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut template = read("template.yaml");
    let resources = template
        .find("\nResources:\n")
        .expect("a Resources section")
        + "\nResources:\n".len();
    template.insert_str(resources, &format!("{example}\n"));
    let api =
        front::Api::from_template(&template, &Default::default()).expect("the template with it");
    let route = api
        .routes
        .iter()
        .find(|route| route.function == "orders")
        .expect("the example's route is served");
    assert_eq!(
        (route.method.as_str(), route.path.as_str()),
        ("GET", "/api/orders")
    );
    assert_eq!(
        route.authorizer.as_deref(),
        Some("authorizer"),
        "protected by default"
    );
}

#[test]
fn each_function_binary_is_a_row_of_the_table_and_serves_its_handler() {
    let table: BTreeSet<&str> = tokengate::routes::FUNCTIONS
        .iter()
        .map(|function| function.name)
        .collect();
    let binaries: BTreeSet<String> = std::fs::read_dir(root().join("functions/src/bin"))
        .expect("functions/src/bin")
        .map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".rs").expect("only .rs files").to_owned()
        })
        .collect();
    assert_eq!(
        binaries.iter().map(String::as_str).collect::<BTreeSet<_>>(),
        table,
        "functions/src/bin holds one binary per row of tokengate::routes::FUNCTIONS"
    );
    for function in tokengate::routes::FUNCTIONS {
        let source = read(&format!("functions/src/bin/{}.rs", function.name));
        let call = if function.handler.starts_with("handlers::") {
            format!("lambda::serve({})", function.handler)
        } else {
            format!("{}()", function.handler)
        };
        assert!(
            source.contains(&call),
            "functions/src/bin/{}.rs serves `{call}`, as its row says",
            function.name
        );
    }
    let template = yaml("template.yaml");
    let deployed: BTreeSet<String> = functions(&template)
        .into_iter()
        .map(|(_, function)| {
            function["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        deployed.iter().map(String::as_str).collect::<BTreeSet<_>>(),
        table,
        "template.yaml builds every function of the table and no other"
    );
}

#[test]
fn each_function_gets_the_memory_its_row_asks_for() {
    let template = yaml("template.yaml");
    let default = template["Globals"]["Function"]["MemorySize"].as_u64();
    assert_eq!(
        default,
        Some(u64::from(tokengate::routes::DEFAULT_MEMORY_MB))
    );
    for (_, function) in functions(&template) {
        let name = function["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap();
        let row = tokengate::routes::function(name).expect("a row");
        let memory = function["Properties"]["MemorySize"].as_u64().or(default);
        assert_eq!(memory, Some(u64::from(row.memory_mb())), "{name}");
    }
}
