//! The REST API as template.yaml declares it: routes and the functions behind them, the
//! authorizer, CORS, Gateway Responses and binary media types. Only the intrinsic functions the
//! API's properties use are evaluated (`!Ref` of a parameter, `!Sub`, `!Select`, `!Join`);
//! parameters take their defaults unless given.

use std::collections::HashMap;

use serde_norway::Value;

/// Why template.yaml could not be read as a REST API.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// Not YAML.
    #[error("template.yaml is not YAML: {0}")]
    Yaml(#[from] serde_norway::Error),
    /// YAML, but not the API this front serves.
    #[error("template.yaml: {0}")]
    Shape(String),
}

fn shape(message: impl Into<String>) -> TemplateError {
    TemplateError::Shape(message.into())
}

/// A route of the API and what serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The resource path, with `{name}` segments for path parameters.
    pub path: String,
    /// The binary (cargo lambda function name) of the function behind it.
    pub function: String,
    /// The binary of the authorizer that guards it; `None` for `Authorizer: NONE`.
    pub authorizer: Option<String>,
}

impl Route {
    /// The path parameters of `path` if this route's resource path matches it.
    pub fn matches(&self, path: &str) -> Option<HashMap<String, String>> {
        let mut parameters = HashMap::new();
        let mut resource = self.path.split('/');
        let mut actual = path.split('/');
        loop {
            match (resource.next(), actual.next()) {
                (None, None) => return Some(parameters),
                (Some(segment), Some(value)) => {
                    if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'))
                    {
                        if value.is_empty() {
                            return None;
                        }
                        parameters.insert(name.to_owned(), value.to_owned());
                    } else if segment != value {
                        return None;
                    }
                }
                _ => return None,
            }
        }
    }
}

/// The API's CORS setting, as its preflight (OPTIONS) responses send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    /// `Access-Control-Allow-Origin`.
    pub allow_origin: String,
    /// `Access-Control-Allow-Methods`.
    pub allow_methods: String,
    /// `Access-Control-Allow-Headers`.
    pub allow_headers: String,
    /// `Access-Control-Max-Age`, if set.
    pub max_age: Option<String>,
}

/// Where a Gateway Response header's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValueSource {
    /// A literal (`'value'` in the template).
    Literal(String),
    /// The request's header of this name (`method.request.header.Name`).
    RequestHeader(String),
}

/// A Gateway Response: what API Gateway answers itself, e.g. for a denied token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayResponse {
    /// Its status code; `None` keeps the status of the case it answers (as DEFAULT_4XX does).
    pub status: Option<u16>,
    /// Its headers, in template order.
    pub headers: Vec<(String, HeaderValueSource)>,
    /// Its body template (`application/json`), with `$context...` references.
    pub body: Option<String>,
}

/// What the front serves: the REST API of template.yaml.
#[derive(Debug, Clone)]
pub struct Api {
    /// Every route, in template order.
    pub routes: Vec<Route>,
    /// The CORS setting, if the API has one.
    pub cors: Option<Cors>,
    /// Gateway Responses by type (`UNAUTHORIZED`, `ACCESS_DENIED`, `DEFAULT_4XX`, ...).
    pub gateway_responses: HashMap<String, GatewayResponse>,
    /// Media types whose bodies reach functions base64-encoded (`*/*`: every body).
    pub binary_media_types: Vec<String>,
}

impl Api {
    /// Reads the `AWS::Serverless::Api` of `template` (YAML text) and the functions whose `Api`
    /// events name it, with parameters at their defaults except those in `overrides`.
    pub fn from_template(
        template: &str,
        overrides: &HashMap<String, String>,
    ) -> Result<Self, TemplateError> {
        let document: Value = serde_norway::from_str(template)?;
        let parameters = Parameters::of(&document, overrides)?;
        let resources = document
            .get("Resources")
            .and_then(Value::as_mapping)
            .ok_or_else(|| shape("no Resources"))?;
        let of_type = |kind: &'static str| {
            resources
                .iter()
                .filter(move |(_, resource)| {
                    resource.get("Type").and_then(Value::as_str) == Some(kind)
                })
                .map(|(id, resource)| (id.as_str().unwrap_or_default(), resource))
        };
        let mut apis = of_type("AWS::Serverless::Api");
        let (api_id, api) = apis
            .next()
            .ok_or_else(|| shape("no AWS::Serverless::Api"))?;
        if apis.next().is_some() {
            return Err(shape("more than one AWS::Serverless::Api"));
        }
        let properties = api
            .get("Properties")
            .ok_or_else(|| shape("the API has no Properties"))?;
        let binaries: HashMap<&str, String> = of_type("AWS::Serverless::Function")
            .filter_map(|(id, function)| {
                let binary = function
                    .get("Metadata")?
                    .get("BuildProperties")?
                    .get("Binary")?;
                Some((id, binary.as_str()?.to_owned()))
            })
            .collect();
        let function_of_arn = |arn: &Value| -> Result<String, TemplateError> {
            let target = match arn {
                Value::Tagged(tagged) if tagged.tag == "!GetAtt" => tagged.value.as_str(),
                _ => None,
            };
            target
                .and_then(|target| target.strip_suffix(".Arn"))
                .and_then(|id| binaries.get(id).cloned())
                .ok_or_else(|| shape("an authorizer's FunctionArn is not !GetAtt <Function>.Arn"))
        };

        let auth = properties.get("Auth");
        let mut authorizers = HashMap::new();
        if let Some(declared) = auth
            .and_then(|auth| auth.get("Authorizers"))
            .and_then(Value::as_mapping)
        {
            for (name, authorizer) in declared {
                let arn = authorizer
                    .get("FunctionArn")
                    .ok_or_else(|| shape("an authorizer without FunctionArn"))?;
                authorizers.insert(
                    name.as_str().unwrap_or_default().to_owned(),
                    function_of_arn(arn)?,
                );
            }
        }
        let default_authorizer = auth
            .and_then(|auth| auth.get("DefaultAuthorizer"))
            .and_then(Value::as_str);

        let mut routes = Vec::new();
        for (id, function) in of_type("AWS::Serverless::Function") {
            let events = function
                .get("Properties")
                .and_then(|properties| properties.get("Events"))
                .and_then(Value::as_mapping);
            for event in events.into_iter().flat_map(|events| events.values()) {
                if event.get("Type").and_then(Value::as_str) != Some("Api") {
                    continue;
                }
                let event = event
                    .get("Properties")
                    .ok_or_else(|| shape("an Api event without Properties"))?;
                let field = |name: &str| {
                    event
                        .get(name)
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .ok_or_else(|| shape(format!("{id}: an Api event without {name}")))
                };
                let names_api = matches!(event.get("RestApiId"), Some(Value::Tagged(tagged))
                    if tagged.tag == "!Ref" && tagged.value.as_str() == Some(api_id));
                if !names_api {
                    return Err(shape(format!("{id}: an Api event not on {api_id}")));
                }
                let authorizer = match event
                    .get("Auth")
                    .and_then(|auth| auth.get("Authorizer"))
                    .and_then(Value::as_str)
                    .or(default_authorizer)
                {
                    None | Some("NONE") => None,
                    Some(name) => Some(
                        authorizers
                            .get(name)
                            .cloned()
                            .ok_or_else(|| shape(format!("{id}: no authorizer {name}")))?,
                    ),
                };
                routes.push(Route {
                    method: field("Method")?.to_ascii_uppercase(),
                    path: field("Path")?,
                    function: binaries.get(id).cloned().ok_or_else(|| {
                        shape(format!("{id}: no Metadata.BuildProperties.Binary"))
                    })?,
                    authorizer,
                });
            }
        }

        let cors = match properties.get("Cors") {
            None => None,
            Some(cors) => {
                let value = |name: &str| -> Result<Option<String>, TemplateError> {
                    cors.get(name)
                        .map(|value| parameters.string(value).and_then(|text| quoted(&text)))
                        .transpose()
                };
                Some(Cors {
                    allow_origin: value("AllowOrigin")?
                        .ok_or_else(|| shape("Cors without AllowOrigin"))?,
                    allow_methods: value("AllowMethods")?.unwrap_or_default(),
                    allow_headers: value("AllowHeaders")?.unwrap_or_default(),
                    max_age: value("MaxAge")?,
                })
            }
        };

        let mut gateway_responses = HashMap::new();
        if let Some(declared) = properties
            .get("GatewayResponses")
            .and_then(Value::as_mapping)
        {
            for (kind, response) in declared {
                let status = match response.get("StatusCode") {
                    None => None,
                    Some(status) => Some(
                        status
                            .as_u64()
                            .or_else(|| status.as_str()?.parse().ok())
                            .and_then(|status| u16::try_from(status).ok())
                            .ok_or_else(|| {
                                shape("a Gateway Response StatusCode is not a number")
                            })?,
                    ),
                };
                let mut headers = Vec::new();
                if let Some(declared) = response
                    .get("ResponseParameters")
                    .and_then(|parameters| parameters.get("Headers"))
                    .and_then(Value::as_mapping)
                {
                    for (name, value) in declared {
                        let value = parameters.string(value)?;
                        let source = match value.strip_prefix("method.request.header.") {
                            Some(header) => HeaderValueSource::RequestHeader(header.to_owned()),
                            None => HeaderValueSource::Literal(quoted(&value)?),
                        };
                        headers.push((name.as_str().unwrap_or_default().to_owned(), source));
                    }
                }
                let body = response
                    .get("ResponseTemplates")
                    .and_then(|templates| templates.get("application/json"))
                    .map(|body| parameters.string(body))
                    .transpose()?;
                gateway_responses.insert(
                    kind.as_str().unwrap_or_default().to_owned(),
                    GatewayResponse {
                        status,
                        headers,
                        body,
                    },
                );
            }
        }

        let binary_media_types = match properties.get("BinaryMediaTypes") {
            Some(Value::Sequence(types)) => types
                .iter()
                .map(|kind| parameters.string(kind).map(|kind| kind.replace("~1", "/")))
                .collect::<Result<_, _>>()?,
            _ => Vec::new(),
        };

        Ok(Self {
            routes,
            cors,
            gateway_responses,
            binary_media_types,
        })
    }

    /// Whether every body reaches the functions base64-encoded (`BinaryMediaTypes: ['*/*']`).
    pub fn every_body_binary(&self) -> bool {
        self.binary_media_types.iter().any(|kind| kind == "*/*")
    }
}

/// A header value of API Gateway's mapping syntax, `'literal'`, without its quotes.
fn quoted(value: &str) -> Result<String, TemplateError> {
    value
        .strip_prefix('\'')
        .and_then(|value| value.strip_suffix('\''))
        .map(str::to_owned)
        .ok_or_else(|| shape(format!("a header value must be quoted: {value}")))
}

/// The template's parameters: defaults, then the values given.
struct Parameters(HashMap<String, Value>);

impl Parameters {
    fn of(document: &Value, overrides: &HashMap<String, String>) -> Result<Self, TemplateError> {
        let mut values = HashMap::new();
        if let Some(declared) = document.get("Parameters").and_then(Value::as_mapping) {
            for (name, parameter) in declared {
                let name = name.as_str().unwrap_or_default().to_owned();
                let list =
                    parameter.get("Type").and_then(Value::as_str) == Some("CommaDelimitedList");
                let text = match overrides.get(&name) {
                    Some(given) => Some(given.clone()),
                    None => parameter.get("Default").map(scalar_text),
                };
                if let Some(text) = text {
                    let value = if list {
                        Value::Sequence(
                            text.split(',')
                                .map(|item| Value::from(item.trim()))
                                .collect(),
                        )
                    } else {
                        Value::from(text)
                    };
                    values.insert(name, value);
                }
            }
        }
        if let Some(unknown) = overrides.keys().find(|name| !values.contains_key(*name)) {
            return Err(shape(format!("no parameter {unknown}")));
        }
        Ok(Self(values))
    }

    /// `value` evaluated to a string.
    fn string(&self, value: &Value) -> Result<String, TemplateError> {
        match self.evaluate(value)? {
            Value::Sequence(_) => Err(shape("a list where a string was expected")),
            value => Ok(scalar_text(&value)),
        }
    }

    fn evaluate(&self, value: &Value) -> Result<Value, TemplateError> {
        let Value::Tagged(tagged) = value else {
            return Ok(value.clone());
        };
        let arguments = &tagged.value;
        match tagged.tag.to_string().as_str() {
            "!Ref" => {
                let name = arguments
                    .as_str()
                    .ok_or_else(|| shape("!Ref of a non-name"))?;
                self.0
                    .get(name)
                    .cloned()
                    .ok_or_else(|| shape(format!("!Ref {name}: not a parameter")))
            }
            "!Select" => {
                let (index, list) = match arguments.as_sequence().map(Vec::as_slice) {
                    Some([index, list]) => (index, list),
                    _ => return Err(shape("!Select takes [index, list]")),
                };
                let index = self
                    .string(index)?
                    .parse::<usize>()
                    .map_err(|_| shape("!Select index"))?;
                match self.evaluate(list)? {
                    Value::Sequence(items) => items
                        .get(index)
                        .cloned()
                        .ok_or_else(|| shape("!Select out of range")),
                    _ => Err(shape("!Select of a non-list")),
                }
            }
            "!Join" => {
                let (separator, list) = match arguments.as_sequence().map(Vec::as_slice) {
                    Some([separator, list]) => (separator, list),
                    _ => return Err(shape("!Join takes [separator, list]")),
                };
                let items = match self.evaluate(list)? {
                    Value::Sequence(items) => items,
                    _ => return Err(shape("!Join of a non-list")),
                };
                let items: Vec<String> = items
                    .iter()
                    .map(|item| self.string(item))
                    .collect::<Result<_, _>>()?;
                Ok(Value::from(items.join(&self.string(separator)?)))
            }
            "!Sub" => {
                let (text, variables) = match arguments {
                    Value::String(text) => (text.clone(), HashMap::new()),
                    Value::Sequence(pair) if pair.len() == 2 => {
                        let text = pair[0]
                            .as_str()
                            .ok_or_else(|| shape("!Sub text"))?
                            .to_owned();
                        let mut variables = HashMap::new();
                        for (name, value) in pair[1]
                            .as_mapping()
                            .ok_or_else(|| shape("!Sub variables"))?
                        {
                            variables.insert(
                                name.as_str().unwrap_or_default().to_owned(),
                                self.string(value)?,
                            );
                        }
                        (text, variables)
                    }
                    _ => return Err(shape("!Sub takes text or [text, variables]")),
                };
                let mut out = String::new();
                let mut rest = text.as_str();
                while let Some(start) = rest.find("${") {
                    out.push_str(&rest[..start]);
                    let end = rest[start..]
                        .find('}')
                        .ok_or_else(|| shape("!Sub: unclosed ${"))?
                        + start;
                    let name = &rest[start + 2..end];
                    let value =
                        match variables.get(name) {
                            Some(value) => value.clone(),
                            None => self.0.get(name).map(scalar_text).ok_or_else(|| {
                                shape(format!("!Sub ${{{name}}}: not a parameter"))
                            })?,
                        };
                    out.push_str(&value);
                    rest = &rest[end + 1..];
                }
                out.push_str(rest);
                Ok(Value::from(out))
            }
            other => Err(shape(format!(
                "{other} is not evaluated by the local front"
            ))),
        }
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Parameters:
  Origins:
    Type: CommaDelimitedList
    Default: "https://a.example,https://b.example"
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      BinaryMediaTypes: ["*~1*"]
      Cors:
        AllowOrigin: !Sub ["'${First}'", {First: !Select [0, !Ref Origins]}]
        AllowMethods: "'GET,POST'"
        AllowHeaders: "'Authorization'"
      Auth:
        DefaultAuthorizer: Tokens
        Authorizers:
          Tokens:
            FunctionArn: !GetAtt AuthFunction.Arn
      GatewayResponses:
        ACCESS_DENIED:
          StatusCode: 403
          ResponseParameters:
            Headers:
              Cache-Control: "'no-store'"
              Access-Control-Allow-Origin: method.request.header.Origin
          ResponseTemplates:
            application/json: '{"detail":"$context.authorizer.detail"}'
  AuthFunction:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: auth}}
  OpenFunction:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: open}}
    Properties:
      Events:
        Open: {Type: Api, Properties: {RestApiId: !Ref Api, Path: "/open/{id}", Method: delete, Auth: {Authorizer: NONE}}}
  GuardedFunction:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: guarded}}
    Properties:
      Events:
        Guarded: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /guarded, Method: get}}
"#;

    #[test]
    fn routes_authorizers_cors_and_gateway_responses_are_read() {
        let api = Api::from_template(TEMPLATE, &HashMap::new()).unwrap();
        assert_eq!(
            api.routes,
            vec![
                Route {
                    method: "DELETE".into(),
                    path: "/open/{id}".into(),
                    function: "open".into(),
                    authorizer: None
                },
                Route {
                    method: "GET".into(),
                    path: "/guarded".into(),
                    function: "guarded".into(),
                    authorizer: Some("auth".into())
                },
            ]
        );
        assert_eq!(api.cors.as_ref().unwrap().allow_origin, "https://a.example");
        assert_eq!(api.cors.as_ref().unwrap().allow_methods, "GET,POST");
        let denied = &api.gateway_responses["ACCESS_DENIED"];
        assert_eq!(denied.status, Some(403));
        assert_eq!(
            denied.headers,
            vec![
                (
                    "Cache-Control".into(),
                    HeaderValueSource::Literal("no-store".into())
                ),
                (
                    "Access-Control-Allow-Origin".into(),
                    HeaderValueSource::RequestHeader("Origin".into())
                ),
            ]
        );
        assert_eq!(
            denied.body.as_deref(),
            Some(r#"{"detail":"$context.authorizer.detail"}"#)
        );
        assert!(api.every_body_binary());
    }

    #[test]
    fn parameters_are_overridden_and_unknown_ones_refused() {
        let overrides = HashMap::from([("Origins".to_owned(), "https://c.example".to_owned())]);
        let api = Api::from_template(TEMPLATE, &overrides).unwrap();
        assert_eq!(api.cors.unwrap().allow_origin, "https://c.example");
        let unknown = HashMap::from([("Nope".to_owned(), "x".to_owned())]);
        assert!(Api::from_template(TEMPLATE, &unknown).is_err());
    }

    #[test]
    fn a_route_matches_its_path_and_names_its_parameters() {
        let api = Api::from_template(TEMPLATE, &HashMap::new()).unwrap();
        let open = &api.routes[0];
        assert_eq!(
            open.matches("/open/abc"),
            Some(HashMap::from([("id".into(), "abc".into())]))
        );
        for path in ["/open/", "/open", "/open/abc/def", "/guarded"] {
            assert_eq!(open.matches(path), None, "{path}");
        }
    }
}
