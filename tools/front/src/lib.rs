//! `make run`'s API front: the REST API of template.yaml, locally. It reads the API's routes,
//! authorizer, CORS setting and Gateway Responses from the template itself and does what API
//! Gateway does with them: runs the REQUEST authorizer, answers a refusal with the template's
//! Gateway Response rendered from the authorizer's context, hands the route's function a REST
//! (payload 1.0) proxy event whose `requestContext.authorizer` is that context, and answers
//! preflights from the CORS setting. The functions run under `cargo lambda watch`.

pub mod events;
pub mod front;
pub mod gateway;
pub mod server;
pub mod template;

pub use front::{Answer, Front};
pub use template::Api;
