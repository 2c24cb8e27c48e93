//! Handler tests: real API Gateway events through the handlers, against DynamoDB Local.

mod authorizer;
mod faults;
mod login;
mod login_token;
mod me;
mod signup;
mod verify;
