//! Handler tests: real API Gateway events through the handlers, against DynamoDB Local.

mod faults;
mod login;
mod login_token;
mod signup;
mod verify;
