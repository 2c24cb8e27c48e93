//! Handler tests: real API Gateway events through the handlers, against DynamoDB Local.

mod authorizer;
mod faults;
mod headers;
mod lifecycle;
mod login;
mod login_token;
mod me;
mod properties;
mod races;
mod recovery;
mod sessions;
mod signup;
mod throttle;
mod verify;
