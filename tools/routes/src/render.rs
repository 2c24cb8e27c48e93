//! The generated parts, rendered from `tokengate::routes::FUNCTIONS`.

use std::fmt::Write;

use serde_json::{Value, json};
use tokengate::routes::{self, FUNCTIONS, Function, Grant, Resource, Route, Trigger};

/// The generated parts of one file: (marker name, text between its markers).
pub struct Generated {
    pub file: &'static str,
    pub parts: Vec<(&'static str, String)>,
}

/// Every generated part of every file.
pub fn everything() -> Vec<Generated> {
    vec![
        Generated {
            file: "template.yaml",
            parts: vec![
                ("credential route throttles", throttles()),
                ("credential route paths", waf_paths()),
                ("functions", functions()),
            ],
        },
        Generated {
            file: "functions/Cargo.toml",
            parts: vec![("binaries", binaries())],
        },
        Generated {
            file: "README.md",
            parts: vec![("route index", route_index())],
        },
    ]
}

/// `text` with the lines between the markers of `marker` replaced by `body`; `None` when a
/// marker is missing.
pub fn replace_between(text: &str, marker: &str, body: &str) -> Option<String> {
    let begin = format!("BEGIN generated: {marker} ");
    let end = format!("END generated: {marker} ");
    let start = text.find(&begin)?;
    let start = start + text[start..].find('\n')? + 1;
    let stop = start + text[start..].find(&end)?;
    let stop = text[..stop].rfind('\n')? + 1;
    Some(format!("{}{body}{}", &text[..start], &text[stop..]))
}

fn credential_routes() -> impl Iterator<Item = &'static Route> {
    routes::routes()
        .map(|(_, route)| route)
        .filter(|route| route.credential)
}

/// The REST API's MethodSettings: the tighter throttle of every credential route.
fn throttles() -> String {
    let mut out = String::new();
    for route in credential_routes() {
        let path = route.path.replace('/', "~1");
        writeln!(out, "        - ResourcePath: \"{path}\"").unwrap();
        writeln!(out, "          HttpMethod: {}", route.method).unwrap();
        writeln!(
            out,
            "          ThrottlingRateLimit: !Ref TokenRouteRateLimit"
        )
        .unwrap();
        writeln!(
            out,
            "          ThrottlingBurstLimit: !Ref TokenRouteBurstLimit"
        )
        .unwrap();
    }
    out
}

/// The WAF rule's scope-down statements: one per credential route, matching every path API
/// Gateway routes to it (after the stage; with a trailing slash; percent-encoded).
fn waf_paths() -> String {
    let mut out = String::new();
    for route in credential_routes() {
        let statement = format!(
            "- RegexMatchStatement:
    RegexString: '{}'
    FieldToMatch:
      UriPath: {{}}
    TextTransformations:
      - Priority: 0
        Type: URL_DECODE
",
            path_pattern(route.path)
        );
        out.push_str(&indent(&statement, 20));
    }
    out
}

/// A pattern of the paths that reach `path` through the stage (`/prod/auth/login`): each
/// segment after one or more slashes, a path parameter any segment, any trailing slashes.
fn path_pattern(path: &str) -> String {
    let mut pattern = String::new();
    for segment in path.split('/').filter(|segment| !segment.is_empty()) {
        pattern.push_str("/+");
        if segment.starts_with('{') {
            pattern.push_str("[^/]+");
        } else {
            for c in segment.chars() {
                if !c.is_ascii_alphanumeric() && c != '-' && c != '_' {
                    pattern.push('\\');
                }
                pattern.push(c);
            }
        }
    }
    pattern + "/*$"
}

/// Every function's resource, then every function's log group.
fn functions() -> String {
    let mut out = String::new();
    for function in FUNCTIONS {
        out.push('\n');
        out.push_str(&function_resource(function));
    }
    out.push_str(
        "\n  # ---------------------------------------------------------------- log groups\n",
    );
    for function in FUNCTIONS {
        let id = camel(function.name);
        write!(
            out,
            "
  {id}LogGroup:
    Type: AWS::Logs::LogGroup
    DeletionPolicy: Delete
    UpdateReplacePolicy: Delete
    Properties:
      LogGroupName: !Sub \"/aws/lambda/${{{id}Function}}\"
      RetentionInDays: !Ref LogRetentionDays
"
        )
        .unwrap();
    }
    out.push('\n');
    out
}

/// One function's resource, at its place in `Resources`.
fn function_resource(function: &Function) -> String {
    let mut out = String::new();
    let description = match function.route() {
        Some(route) => format!("{} - {}", route.label(), function.summary),
        None => capitalized(function.summary),
    };
    writeln!(out, "  {}Function:", camel(function.name)).unwrap();
    out.push_str(
        "    Type: AWS::Serverless::Function\n    Metadata:\n      BuildMethod: rust-cargolambda\n",
    );
    writeln!(
        out,
        "      BuildProperties:\n        Binary: {}",
        function.name
    )
    .unwrap();
    out.push_str("    Properties:\n");
    out.push_str(&scalar("Description", &description, 6));
    if function.memory_mb() != routes::DEFAULT_MEMORY_MB {
        writeln!(out, "      MemorySize: {}", function.memory_mb()).unwrap();
    }
    if let Some(timeout) = function.timeout_seconds {
        writeln!(out, "      Timeout: {timeout}").unwrap();
    }
    if !function.settings.is_empty() {
        out.push_str("      Environment:\n        Variables:\n");
        for setting in function.settings {
            writeln!(
                out,
                "          {}: !Ref {}",
                setting.variable, setting.parameter
            )
            .unwrap();
        }
    }
    out.push_str("      Policies:\n        - Statement:\n");
    for grant in function.grants {
        out.push_str(&comment(grant.why, 12));
        out.push_str(&indent(&statement(grant), 12));
    }
    out.push_str(&indent(&events(function), 6));
    out
}

/// One IAM statement.
fn statement(grant: &Grant) -> String {
    let mut out = String::from("- Effect: Allow\n");
    match grant.actions {
        [action] => writeln!(out, "  Action: {action}").unwrap(),
        actions => {
            out.push_str("  Action:\n");
            for action in actions {
                writeln!(out, "    - {action}").unwrap();
            }
        }
    }
    out.push_str(match grant.resource {
        Resource::UsersTable => "  Resource: !GetAtt UsersTable.Arn\n",
        Resource::TokensTable => "  Resource: !GetAtt TokensTable.Arn\n",
        Resource::OutboxTable => "  Resource: !GetAtt OutboxTable.Arn\n",
        Resource::KeyRing => "  Resource: !Ref TokenSigningKey\n",
        Resource::SenderIdentity => {
            "  Resource: !Sub
    - \"arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${Identity}\"
    - Identity: !If [HasSenderIdentity, !Ref SenderIdentity, !Ref SenderEmail]
  Condition:
    StringEquals:
      ses:FromAddress: !Ref SenderEmail
"
        }
    });
    out
}

fn events(function: &Function) -> String {
    match &function.trigger {
        Trigger::Http(route) => format!(
            "Events:
  Route:
    Type: Api
    Properties:
      RestApiId: !Ref RestApi
      Method: {}
      Path: {}
      Auth:
        Authorizer: {}
",
            route.method,
            route.path,
            if route.guarded {
                "TokenAuthorizer"
            } else {
                "NONE"
            }
        ),
        Trigger::OutboxStream => "Events:
  OutboxInserts:
    Type: DynamoDB
    Properties:
      Stream: !GetAtt OutboxTable.StreamArn
      StartingPosition: TRIM_HORIZON
      BatchSize: 10
      # A failed item is retried from itself (the items before it are done); after the
      # last retry the stream moves on and the sweep sends it. The stream has no DLQ to
      # lose it to: the outbox item itself stays until it is finished.
      FunctionResponseTypes: [ReportBatchItemFailures]
      MaximumRetryAttempts: 5
      BisectBatchOnFunctionError: true
      FilterCriteria:
        Filters:
          - Pattern: '{\"eventName\": [\"INSERT\"]}'
  Sweep:
    Type: Schedule
    Properties:
      Schedule: rate(10 minutes)
      Input: '{\"sweep\": true}'
"
        .to_owned(),
        Trigger::Authorizer | Trigger::KeyRotation => String::new(),
    }
}

/// functions/Cargo.toml's binaries: one per function, no test harness.
fn binaries() -> String {
    let mut out = String::new();
    for function in FUNCTIONS {
        write!(
            out,
            "[[bin]]\nname = \"{0}\"\npath = \"src/bin/{0}.rs\"\ntest = false\n\n",
            function.name
        )
        .unwrap();
    }
    out
}

/// The README's index of routes.
fn route_index() -> String {
    let mut out = String::from(
        "| route | function | authorizer | credential route | memory |\n|---|---|---|---|---|\n",
    );
    for (function, route) in routes::routes() {
        writeln!(
            out,
            "| `{}` | `{}` | {} | {} | {} MB |",
            route.label(),
            function.name,
            if route.guarded { "yes" } else { "-" },
            if route.credential { "yes" } else { "-" },
            function.memory_mb()
        )
        .unwrap();
    }
    for function in FUNCTIONS
        .iter()
        .filter(|function| function.route().is_none())
    {
        writeln!(
            out,
            "| (no route: {}) | `{}` | - | - | {} MB |",
            match function.trigger {
                Trigger::Authorizer => "in front of the guarded routes",
                Trigger::OutboxStream => "the outbox stream and a schedule",
                _ => "Secrets Manager's rotation",
            },
            function.name,
            function.memory_mb()
        )
        .unwrap();
    }
    out
}

/// The table as JSON, for the scripts (Schemathesis hooks, scale.py).
pub fn json() -> Value {
    let functions: Vec<Value> = FUNCTIONS
        .iter()
        .map(|function| {
            json!({
                "name": function.name,
                "memory_mb": function.memory_mb(),
                "hashes_passwords": function.hashes_passwords,
                "trigger": match function.trigger {
                    Trigger::Http(_) => "http",
                    Trigger::Authorizer => "authorizer",
                    Trigger::OutboxStream => "outbox-stream",
                    Trigger::KeyRotation => "key-rotation",
                },
                "route": function.route().map(|route| json!({
                    "method": route.method,
                    "path": route.path,
                    "label": route.label(),
                    "guarded": route.guarded,
                    "credential": route.credential,
                })),
            })
        })
        .collect();
    json!({ "functions": functions })
}

/// `login-token` -> `LoginToken`.
fn camel(name: &str) -> String {
    name.split('-').map(capitalized).collect()
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn indent(text: &str, spaces: usize) -> String {
    text.lines()
        .map(|line| {
            if line.is_empty() {
                "\n".to_owned()
            } else {
                format!("{:spaces$}{line}\n", "")
            }
        })
        .collect()
}

const WIDTH: usize = 100;

/// `key: text` on one line when it fits and is a plain scalar, else a folded block.
fn scalar(key: &str, text: &str, spaces: usize) -> String {
    let line = format!("{:spaces$}{key}: {text}", "");
    if line.len() <= WIDTH && !text.contains(": ") && !text.contains(" #") {
        return line + "\n";
    }
    let mut out = format!("{:spaces$}{key}: >-\n", "");
    out.push_str(&wrapped(text, spaces + 2, ""));
    out
}

/// `text` as `# ` comment lines indented `spaces`.
fn comment(text: &str, spaces: usize) -> String {
    wrapped(text, spaces, "# ")
}

fn wrapped(text: &str, spaces: usize, prefix: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && spaces + prefix.len() + line.len() + 1 + word.len() > WIDTH {
            writeln!(out, "{:spaces$}{prefix}{line}", "").unwrap();
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        writeln!(out, "{:spaces$}{prefix}{line}", "").unwrap();
    }
    out
}
