//! The `verify` Lambda function (its row in `tokengate::routes`).
use tokengate::{handlers, lambda};

fn main() -> Result<(), lambda::Error> {
    lambda::run(lambda::serve(handlers::verify))
}
